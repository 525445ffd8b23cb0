package jobspec

import (
	"strings"
	"testing"
)

// Quoted keys in object constructors are HCL's own syntax and stay as
// written (a block's quoted argument names are nomadic's rewrite, which
// must not reach into expressions), wherever the object is: an env map, a
// local, a variable's default that a dynamic block iterates.
func TestQuotedObjectKeysStayAsWritten(t *testing.T) {
	t.Parallel()
	src := `variable "miners" {
  default = {
    "rex" = { threads = 6 }
    "cn-heavy" = { threads = 2 }
  }
}
locals {
  a = { "k1" = "v" }
  d = { "k-4.x" = "v", k5 = "w" }
}
job "j" {
  meta {
    a = join(",", keys(local.a))
    d = join(",", keys(local.d))
    rex = var.miners["rex"].threads
  }
  dynamic "group" {
    for_each = var.miners
    labels   = ["m-${group.key}"]
    content {
      task "t" {
        driver = "raw_exec"
        config { command = "/bin/true" }
        env = { "TZ" = "UTC", "A" : "1", B = "2" }
        meta {
          "com.example.kind" = group.key
        }
      }
    }
  }
}
`
	job, err := Parse("j.nomad.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if m := job.Meta; m["a"] != "k1" || m["d"] != "k-4.x,k5" || m["rex"] != "6" {
		t.Fatalf("job meta %v", m)
	}
	var names []string
	for _, g := range job.Groups {
		names = append(names, g.Name)
		task := g.Tasks[0]
		if e := task.Env; e["TZ"] != "UTC" || e["A"] != "1" || e["B"] != "2" || len(e) != 3 {
			t.Errorf("group %s env %v", g.Name, e)
		}
		if k := task.Meta["com.example.kind"]; "m-"+k != g.Name {
			t.Errorf("group %s task meta %v", g.Name, task.Meta)
		}
	}
	if strings.Join(names, ",") != "m-cn-heavy,m-rex" {
		t.Fatalf("groups %v", names)
	}
}

// A dynamic block's iterator reaches name = value blocks (meta, env, a
// service's meta) as it reaches everything else in its content.
func TestDynamicIteratorsReachMetaAndEnvBlocks(t *testing.T) {
	t.Parallel()
	src := `job "j" {
  dynamic "group" {
    for_each = ["a", "b"]
    labels   = ["g-${group.value}"]
    content {
      meta { G = group.value }
      task "t" {
        driver = "raw_exec"
        config { command = "/bin/true" }
        env { N = group.key }
        meta { M = "m-${group.value}" }
        service {
          name = "s-${group.value}"
          meta { SM = group.value }
        }
      }
    }
  }
}
`
	job, err := Parse("j.nomad.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range job.Groups {
		v := string(rune('a' + i))
		task := g.Tasks[0]
		if g.Meta["G"] != v || task.Env["N"] != string(rune('0'+i)) || task.Meta["M"] != "m-"+v || task.Services[0].Meta["SM"] != v {
			t.Errorf("group %s: meta %v, env %v, task meta %v, service meta %v", g.Name, g.Meta, task.Env, task.Meta, task.Services[0].Meta)
		}
	}
}

// Where a brace opens a block, quoted argument names work past comments;
// where it opens an object (after a for expression's "in", in a template
// directive), its quoted keys stay as written.
func TestQuotedNamesTellBlocksFromObjects(t *testing.T) {
	t.Parallel()
	src := `job "j" /* note */ {
  meta /* x */ {
    "com.example.x" = "y"
    keys = join(",", [for k, v in { "a.b" = 1, "c" = 2 } : k])
    one  = join(",", [
      for v in { "d.e" = 1 } : v
    ])
    tmpl = "%{ for k, v in { "f.g" = 1 } }${k}%{ endfor }"
  }
  group "g" { # a comment
    meta = { "h.i" = "j" }
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
`
	job, err := Parse("j.nomad.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"com.example.x": "y", "keys": "a.b,c", "one": "1", "tmpl": "f.g"}
	for k, v := range want {
		if job.Meta[k] != v {
			t.Errorf("meta %s = %q, want %q (all: %v)", k, job.Meta[k], v, job.Meta)
		}
	}
	if job.Groups[0].Meta["h.i"] != "j" {
		t.Errorf("group meta %v", job.Groups[0].Meta)
	}
}
