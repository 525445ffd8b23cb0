package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// TestTheRestOfTheCommandsAgainstADevAgent runs, through the real
// binaries, the nctl commands that the other end-to-end tests do not:
// version, completion, fmt, job inspect/history/revert/dispatch,
// describe of each kind, alloc restart/signal/stop, node eligibility and
// drain, operator scheduler configuration, and delete --purge.
func TestTheRestOfTheCommandsAgainstADevAgent(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	if out := mustNctl(t, addr, dir, "version"); strings.TrimSpace(out) == "" {
		t.Fatal("version printed nothing")
	}
	if out := mustNctl(t, addr, dir, "completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Fatalf("completion: %.200q", out)
	}
	mustNctl(t, addr, dir, "job", "init")
	mustNctl(t, addr, dir, "fmt", "--check", "example.hcl")
	mustNctl(t, addr, dir, "apply", "-f", "example.hcl")
	var inspected api.Job
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "job", "inspect", "example", "-o", "json")), &inspected); err != nil || inspected.ID != "example" {
		t.Fatalf("job inspect: %v %+v", err, inspected.ID)
	}
	running := waitRunning(t, addr, "example", 2)
	a := running[0]

	// describe, one of each kind.
	var nodes []*api.Node
	_ = json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "nodes", "-o", "json")), &nodes)
	var evals []*api.Evaluation
	_ = json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "evals", "--job", "example", "-o", "json")), &evals)
	if len(nodes) != 1 || len(evals) == 0 {
		t.Fatalf("%d nodes, %d evaluations", len(nodes), len(evals))
	}
	node := nodes[0]
	for _, c := range [][]string{
		{"describe", "job", "example", "Allocations:"},
		{"describe", "alloc", a.ID[:8], "Task \"server\""},
		{"describe", "node", node.ID[:8], node.Name},
		{"describe", "eval", evals[0].ID[:8], "example"},
	} {
		if out := mustNctl(t, addr, dir, c[:3]...); !strings.Contains(out, c[3]) {
			t.Errorf("nctl %s: lacks %q:\n%s", strings.Join(c[:3], " "), c[3], out)
		}
	}

	// alloc restart: the task runs again as another process.
	before := taskPIDs([]*api.Allocation{a})
	mustNctl(t, addr, dir, "alloc", "restart", a.ID[:8])
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, x := range allocs(t, addr, "example") {
			if x.ID == a.ID && x.ClientStatusOf() == api.AllocClientRunning {
				after := taskPIDs([]*api.Allocation{x})
				return len(after) == 1 && len(before) == 1 && after[0] != before[0], fmt.Sprintf("pids %v then %v", before, after)
			}
		}
		return false, "allocation gone"
	})
	// alloc signal: SIGWINCH leaves a shell running.
	mustNctl(t, addr, dir, "alloc", "signal", a.ID[:8], "-s", "SIGWINCH")
	// alloc stop: a replacement takes its place, linked to it both ways.
	mustNctl(t, addr, dir, "alloc", "stop", a.ID[:8])
	eventually(t, 30*time.Second, func() (bool, string) {
		n, stopped, next, prev := 0, false, "", ""
		for _, x := range allocs(t, addr, "example") {
			if x.ID == a.ID {
				stopped, next = x.DesiredStatus == api.AllocDesiredStop, x.NextAllocation
			} else if x.DesiredStatus == api.AllocDesiredRun && x.ClientStatusOf() == api.AllocClientRunning {
				n++
				if x.PreviousAllocation == a.ID {
					prev = x.ID
				}
			}
		}
		return stopped && n == 2 && next != "" && next == prev, fmt.Sprintf("stopped %v, %d others running, next %q, replacement %q", stopped, n, next, prev)
	})

	// job history and revert.
	src, _ := os.ReadFile(filepath.Join(dir, "example.hcl"))
	changed := strings.Replace(string(src), `"hello"`, `"bonjour"`, 1)
	if changed == string(src) {
		t.Fatal("the example has no \"hello\" to change")
	}
	if err := os.WriteFile(filepath.Join(dir, "example.hcl"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "-f", "example.hcl")
	if out := mustNctl(t, addr, dir, "job", "history", "example"); !strings.Contains(out, "VERSION") || !strings.Contains(out, "\n1 ") {
		t.Fatalf("job history:\n%s", out)
	}
	if out := mustNctl(t, addr, dir, "job", "revert", "example", "0"); !strings.Contains(out, "reverted to version 0 as version 2") {
		t.Fatalf("job revert: %q", out)
	}

	// node eligibility and drain.
	nodeState := func() *api.Node {
		var n api.Node
		if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "nodes", node.ID[:8], "-o", "json")), &n); err != nil {
			t.Fatal(err)
		}
		return &n
	}
	mustNctl(t, addr, dir, "node", "eligibility", node.ID[:8], "--disable")
	if n := nodeState(); n.Eligible {
		t.Fatal("node still eligible")
	}
	mustNctl(t, addr, dir, "node", "eligibility", node.ID[:8], "--enable")
	if n := nodeState(); !n.Eligible {
		t.Fatal("node not eligible again")
	}
	mustNctl(t, addr, dir, "node", "drain", node.ID[:8], "--enable", "--deadline", "1h")
	if n := nodeState(); n.Drain == nil || n.Eligible {
		t.Fatalf("draining node: drain %+v eligible %v", n.Drain, n.Eligible)
	}
	mustNctl(t, addr, dir, "node", "drain", node.ID[:8], "--disable")
	if n := nodeState(); n.Drain != nil || !n.Eligible {
		t.Fatalf("drain cancelled: drain %+v eligible %v", n.Drain, n.Eligible)
	}

	// operator scheduler configuration.
	if out := mustNctl(t, addr, dir, "operator", "scheduler", "get-config"); !strings.Contains(out, "binpack") {
		t.Fatalf("get-config: %q", out)
	}
	mustNctl(t, addr, dir, "operator", "scheduler", "set-config", "--algorithm", "spread")
	if out := mustNctl(t, addr, dir, "operator", "scheduler", "get-config"); !strings.Contains(out, "spread") {
		t.Fatalf("get-config after set: %q", out)
	}

	// namespaces: apply, list, show, delete; default is never deleted.
	mustNctl(t, addr, dir, "namespace", "apply", "prod", "--description", "production", "--meta", "team=infra")
	if out := mustNctl(t, addr, dir, "get", "namespaces", "-o", "wide"); !strings.Contains(out, "production") || !strings.Contains(out, "team=infra") || !strings.Contains(out, "default") {
		t.Fatalf("get namespaces: %q", out)
	}
	var prod api.Namespace
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "ns", "prod", "-o", "json")), &prod); err != nil || prod.Description != "production" {
		t.Fatalf("get ns prod: %v %+v", err, prod)
	}
	if _, errOut, code := nctl(t, addr, dir, "namespace", "delete", "default"); code == 0 || !strings.Contains(errOut, "cannot be deleted") {
		t.Fatalf("delete default: exit %d, %q", code, errOut)
	}
	mustNctl(t, addr, dir, "namespace", "delete", "prod")
	if out := mustNctl(t, addr, dir, "get", "namespaces", "-o", "name"); strings.TrimSpace(out) != "namespace/default" {
		t.Fatalf("after the delete: %q", out)
	}

	// job dispatch of a parameterized job, with meta and a payload.
	param := `job "shout" {
  type = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["word"]
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      dispatch_payload {
        file = "input.txt"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $NOMAD_META_word; cat $NOMAD_TASK_DIR/input.txt"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "shout.hcl"), []byte(param), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "payload"), []byte("from the payload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "-f", "shout.hcl")
	out := mustNctl(t, addr, dir, "job", "dispatch", "shout", "--meta", "word=hello", "--payload-file", "payload")
	child := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "job/shout-dispatch-") {
			child = strings.TrimPrefix(f, "job/")
		}
	}
	if child == "" {
		t.Fatalf("dispatch: %q", out)
	}
	var done *api.Allocation
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, x := range allocs(t, addr, child) {
			if x.ClientStatusOf() == api.AllocClientComplete {
				done = x
				return true, ""
			}
		}
		return false, "the dispatched job has not completed"
	})
	if logs := mustNctl(t, addr, dir, "logs", done.ID[:8]); !strings.Contains(logs, "hello") || !strings.Contains(logs, "from the payload") {
		t.Fatalf("dispatched job's output: %q", logs)
	}

	// delete --purge: the job goes, then its allocations.
	mustNctl(t, addr, dir, "delete", "job", "example", "--purge")
	eventually(t, 30*time.Second, func() (bool, string) {
		_, errOut, code := nctl(t, addr, dir, "get", "jobs", "example")
		return code == 1 && strings.Contains(errOut, "not found"), errOut
	})
}
