package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyringtest"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestApplyKeepsTheJobFile: nctl apply sends the file with its job, the
// server keeps it with the version (its variables sealed), and job
// inspect -o source prints it back — what nomad job inspect -hcl reads
// on the Nomad API.
func TestApplyKeepsTheJobFile(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/nctl")
	kr := keyringtest.Running(t, st)
	ts := httptest.NewServer((&httpapi.Server{Store: st, Name: "t", Version: "test",
		Vars: &variables.Service{Store: st, Keyring: kr}}).Handler())
	t.Cleanup(ts.Close)
	t.Setenv("NCTL_CONFIG", t.TempDir()+"/config.yaml")

	dir := t.TempDir()
	const file = `variable "greeting" {
  type = string
}

variable "count" {
  type    = number
  default = 1
}

job "hello" {
  group "g" {
    count = var.count
    task "t" {
      driver = "raw_exec"
      config {
        command = "echo"
        args    = [var.greeting]
      }
    }
  }
}
`
	job := write(t, dir, "hello.nomad.hcl", file)
	base := write(t, dir, "base.hcl", "greeting = \"hi\"\n")
	prod := write(t, dir, "a-prod.hcl", "greeting = \"hello, prod\"\n")
	// The files apply in the order given, a later one winning, as in
	// Nomad's CLI (not in the order of their names).
	if out, errOut, code := nctl(t, "", "--addr", ts.URL, "apply", "--detach", "-f", job,
		"--var-file", base, "--var-file", prod, "--var", "count=2"); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
	out, errOut, code := nctl(t, "", "--addr", ts.URL, "job", "inspect", "hello")
	if code != 0 || !strings.Contains(out, `"hello, prod"`) || !strings.Contains(out, `"count": 2`) {
		t.Fatalf("the job as registered: %d %s %s", code, out, errOut)
	}

	out, errOut, code = nctl(t, "", "--addr", ts.URL, "job", "inspect", "hello", "-o", "source")
	if code != 0 || out != file {
		t.Fatalf("the source: %d %q %s", code, out, errOut)
	}
	out, errOut, code = nctl(t, "", "--addr", ts.URL, "job", "inspect", "hello", "-o", "source", "--with-vars")
	if code != 0 || !strings.HasPrefix(out, file) || !strings.Contains(out, "greeting = \"hi\"\ngreeting = \"hello, prod\"\n") ||
		!strings.Contains(out, `# count="2"`) {
		t.Fatalf("the source with its variables: %d %q %s", code, out, errOut)
	}
	// The sealed variables are not in etcd in plain text.
	resp, err := cli.Get(t.Context(), "/nctl/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Key), "jobsources/") && strings.Contains(string(kv.Value), "hello, prod") {
			t.Fatalf("the variables are in plain text under %s", kv.Key)
		}
	}

	if _, errOut, code := nctl(t, "", "--addr", ts.URL, "job", "inspect", "hello", "-o", "source", "--version", "7"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("a version that does not exist: %d %s", code, errOut)
	}
	if _, errOut, code := nctl(t, "", "--addr", ts.URL, "job", "inspect", "-f", job, "-o", "source"); code == 0 || !strings.Contains(errOut, "submitted job") {
		t.Fatalf("-o source of a file: %d %s", code, errOut)
	}
}
