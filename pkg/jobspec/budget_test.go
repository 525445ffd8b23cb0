package jobspec

import (
	"strings"
	"testing"
	"time"
)

// Job files whose evaluation would take minutes or gigabytes fail at the
// expression, quickly, with what was too much.
func TestCostlyJobFilesFailAtTheExpression(t *testing.T) {
	t.Parallel()
	job := func(expr string) string {
		return `job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      meta { x = ` + expr + ` }
    }
  }
}

locals {
  big  = range(1000)
  kb   = format("%999s", "x")
  kb2  = format("%1999s", "x")
  objs = [for i in range(1000) : { x = i }]
}
`
	}
	cases := []struct {
		name, expr, want string
	}{
		{"a number too large to print", `"${1e99999999}"`, "numbers are limited"},
		{"a number literal too small", `1e-99999999`, "numbers are limited"},
		{"nested for expressions over large ranges", `length([for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]])`, "more than 1000000 steps"},
		{"a string grown by indent", `indent(99999999, "a\nb")`, "result would be too large"},
		{"a string grown by replace", `replace("aaaaaaaaaaaaaaaaaaaaaaaa", "a", format("%9999s", "x"))`, "-"},
		{"a string grown by replace of every byte", `replace(join("", [for i in range(1000) : "aaaaaaaaaa"]), "a", format("%9999s", "x"))`, "result would be too large"},
		{"a string grown by regex_replace", `regex_replace(join("", [for i in range(1000) : "aaaaaaaaaa"]), "a", format("%9999s", "x"))`, "result would be too large"},
		{"a for expression over a large local", `[for a in local.big : [for b in local.big : [for c in local.big : c]]]`, "more than 1000000 steps"},
		{"a splat over a large local", `length([for a in local.big : [for b in local.big : local.objs[*].x]])`, "more than 1000000 steps"},
		{"a JSON of a value shared many times", `jsonencode([for i in range(500) : [for j in range(1000) : local.kb]])`, "result would be too large"},
		{"a join just under the limit", `strlen(join(",", [for i in range(1000) : local.kb]))`, "-"},
		{"a join over the limit", `join(",", [for i in range(1000) : local.kb2])`, "result would be too large"},
		{"a long string made of many", `join("", [for i in range(1000) : format("%9999s", "x")])`, "result would be too large"},
		{"a template over a large collection", `"%{ for a in range(1000) }%{ for b in range(1000) }%{ for c in range(1000) }x%{ endfor }%{ endfor }%{ endfor }"`, "steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := Parse("costly.nomad.hcl", []byte(job(c.expr)))
			took := time.Since(start)
			if took > 20*time.Second {
				t.Errorf("took %s", took)
			}
			if c.want == "-" {
				if err != nil {
					t.Fatalf("a file within the bounds failed: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one that says %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "costly.nomad.hcl:6:") {
				t.Errorf("error %q does not name the expression's line", err)
			}
		})
	}
}

// Variable values from -var and -var-file are bounded like the file.
func TestCostlyVariableValuesFail(t *testing.T) {
	t.Parallel()
	src := []byte(`variable "n" { type = number }
variable "s" { type = list(number) }
job "j" {
  group "g" {
    count = var.n
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      meta { x = length([for a in var.s : [for b in var.s : [for c in var.s : c]]]) }
    }
  }
}
`)
	list := map[string][]byte{"v.hcl": []byte("s = [" + strings.Repeat("1, ", 1000) + "]\n")}
	_, err := ParseWithOptions("vars.nomad.hcl", src, &Options{Vars: map[string]string{"n": "1e99999999"}, VarFiles: list})
	if err == nil || !strings.Contains(err.Error(), "-var n:1:1: Value too large") {
		t.Errorf("error = %v, want the number refused", err)
	}
	_, err = ParseWithOptions("vars.nomad.hcl", src, &Options{Vars: map[string]string{"n": "1"}, VarFiles: list})
	if err == nil || !strings.Contains(err.Error(), "vars.nomad.hcl:9:") || !strings.Contains(err.Error(), "steps") {
		t.Errorf("error = %v, want the nested loops over the variable refused", err)
	}
}
