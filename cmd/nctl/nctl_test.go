package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nctl runs the command in-process with args and returns its output and
// exit code.
func nctl(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{out: &out, errOut: &errOut}
	root := newRoot(g)
	root.SetIn(strings.NewReader(stdin))
	code := runRoot(root, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFmtRewritesAndChecks(t *testing.T) {
	dir := t.TempDir()
	ugly := write(t, dir, "ugly.hcl", "job \"x\" {\ngroup \"g\" {\n  count=1\n}\n}\n")
	write(t, dir, "ok.hcl", "job \"y\" {}\n")
	out, _, code := nctl(t, "", "fmt", "--check", dir)
	if code != 1 || strings.TrimSpace(out) != ugly {
		t.Fatalf("fmt --check: code %d, out %q", code, out)
	}
	if _, _, code := nctl(t, "", "fmt", dir); code != 0 {
		t.Fatalf("fmt: code %d", code)
	}
	b, _ := os.ReadFile(ugly)
	if string(b) != "job \"x\" {\n  group \"g\" {\n    count = 1\n  }\n}\n" {
		t.Fatalf("formatted:\n%s", b)
	}
	if _, _, code := nctl(t, "", "fmt", "--check", dir); code != 0 {
		t.Fatalf("fmt --check after fmt: code %d", code)
	}
	out, _, code = nctl(t, "job \"z\" {\nx=1\n}\n", "fmt", "-")
	if code != 0 || out != "job \"z\" {\n  x = 1\n}\n" {
		t.Fatalf("fmt -: %d %q", code, out)
	}
	_, errOut, code := nctl(t, "job \"z\" {\n", "fmt", "-")
	if code == 0 || !strings.Contains(errOut, "<stdin>:") {
		t.Fatalf("fmt of broken input: %d %q", code, errOut)
	}
}

func TestValidateTakesVariablesAndReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.hcl", `variable "n" {
  type = number
}
job "good" {
  group "g" {
    count = var.n
    task "t" {
      driver = "raw_exec"
      config {
        command = "true"
      }
    }
  }
}
`)
	bad := write(t, dir, "bad.hcl", "job \"bad\" {\n  group \"g\" {\n    count = -1\n  }\n}\n")
	varFile := write(t, dir, "vars.hcl", "n = 3\n")

	out, _, code := nctl(t, "", "validate", good, "--var", "n=2")
	if code != 0 || !strings.Contains(out, `job "good" is valid`) {
		t.Fatalf("validate with -var: %d %q", code, out)
	}
	if _, _, code := nctl(t, "", "validate", good, "--var-file", varFile); code != 0 {
		t.Fatalf("validate with -var-file: %d", code)
	}
	out, errOut, code := nctl(t, "", "validate", good, bad)
	if code != 1 || !strings.Contains(out, `job "good" is valid`) || !strings.Contains(errOut, `good.hcl: 1:1: variable "n" has no value: validated with a placeholder`) ||
		!strings.Contains(errOut, "bad.hcl:3:13: count -1 must not be negative") || !strings.Contains(errOut, `bad.hcl:2:9: group "g" has no task`) {
		t.Fatalf("validate of a file without its variable and of a bad file: %d\n%s\n%s", code, out, errOut)
	}
	// What submits or shows the job needs the value.
	if _, errOut, code := nctl(t, "", "job", "inspect", "-f", good); code == 0 || !strings.Contains(errOut, `good.hcl:1:1: variable "n" has no value`) {
		t.Fatalf("job inspect -f without the variable: %d\n%s", code, errOut)
	}
	out, _, code = nctl(t, "", "job", "inspect", "-f", good, "--var", "n=7", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "count: 7") || !strings.Contains(out, "kill_timeout: 5s") {
		t.Fatalf("job inspect -f: %d\n%s", code, out)
	}
}

func TestJobInitWritesARunnableExampleAndRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "example.hcl")
	if _, _, code := nctl(t, "", "job", "init", path); code != 0 {
		t.Fatal("job init failed")
	}
	if out, _, code := nctl(t, "", "validate", path); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("the example does not validate: %q", out)
	}
	if _, errOut, code := nctl(t, "", "job", "init", path); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("job init overwrote: %q", errOut)
	}
	if out, _, code := nctl(t, "", "fmt", "--check", path); code != 0 {
		t.Fatalf("the example is not formatted: %q", out)
	}
}

func TestContextsChooseTheServer(t *testing.T) {
	t.Setenv("NCTL_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	t.Setenv("NCTL_ADDR", "")
	if _, errOut, code := nctl(t, "", "config", "set-context", "far", "--addr", "http://127.0.0.1:9", "--namespace", "team"); code != 0 {
		t.Fatalf("set-context: %s", errOut)
	}
	if _, _, code := nctl(t, "", "config", "set-context", "near", "--addr", "127.0.0.1:8"); code != 0 {
		t.Fatal("second set-context failed")
	}
	out, _, _ := nctl(t, "", "config", "get-contexts")
	if !strings.Contains(out, "*         far") && !strings.Contains(out, "*") {
		t.Fatalf("get-contexts: %q", out)
	}
	_, errOut, code := nctl(t, "", "get", "jobs")
	if code == 0 || !strings.Contains(errOut, "127.0.0.1:9") {
		t.Fatalf("get jobs through the current context: %d %q", code, errOut)
	}
	if _, _, code := nctl(t, "", "config", "use-context", "near"); code != 0 {
		t.Fatal("use-context failed")
	}
	if _, errOut, _ := nctl(t, "", "get", "jobs"); !strings.Contains(errOut, "127.0.0.1:8") {
		t.Fatalf("after use-context: %q", errOut)
	}
	// --addr wins over the context.
	if _, errOut, _ := nctl(t, "", "--addr", "127.0.0.1:7", "get", "jobs"); !strings.Contains(errOut, "127.0.0.1:7") {
		t.Fatalf("--addr: %q", errOut)
	}
	if _, errOut, code := nctl(t, "", "config", "use-context", "nowhere"); code == 0 || !strings.Contains(errOut, "no context") {
		t.Fatalf("unknown context: %q", errOut)
	}
}
