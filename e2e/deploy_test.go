package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// serviceFile writes a service job of count sleeping tasks with an
// update block; script is what each task runs and extra goes into the
// update block.
func serviceFile(t *testing.T, dir, script, extra string) string {
	t.Helper()
	src := fmt.Sprintf(`job "web" {
  type = "service"
  update {
    max_parallel      = 1
    health_check      = "task_states"
    min_healthy_time  = "1s"
    healthy_deadline  = "20s"
    progress_deadline = "40s"
    auto_revert       = true
    %s
  }
  group "app" {
    count = 3
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`, extra, script)
	path := filepath.Join(dir, "web.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDeploymentsRollOutRevertAndWaitForPromotion drives deployments
// through nctl on a dev agent: apply follows each rollout to its end, a
// version whose tasks fail is rolled back to the last stable one, and a
// canary waits for `nctl rollout promote`.
func TestDeploymentsRollOutRevertAndWaitForPromotion(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()

	out := mustNctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 300 # v0", ""))
	if !strings.Contains(out, "3/3 healthy") || !strings.Contains(out, "job/web version 0 is rolled out") {
		t.Fatalf("first apply: %q", out)
	}
	out = mustNctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 300 # v1", ""))
	if !strings.Contains(out, "(version 1) running: 1/3 healthy") || !strings.Contains(out, "job/web version 1 is rolled out") {
		t.Fatalf("rolling apply: %q", out)
	}

	// A version whose tasks fail: apply exits 1 and names the rollback.
	out, errOut, code := nctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 0.5; exit 7", ""))
	if code != 1 || !strings.Contains(errOut, "failed due to unhealthy allocations - rolling back to job version 1 (as version 3)") {
		t.Fatalf("bad version: exit %d: %s%s", code, out, errOut)
	}
	mustNctl(t, addr, dir, "rollout", "status", "web")
	hist := mustNctl(t, addr, dir, "rollout", "history", "web")
	want := map[string]string{"3": "true successful", "2": "false failed", "1": "true successful", "0": "true successful"}
	for _, line := range strings.Split(strings.TrimSpace(hist), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || want[f[0]] != f[1]+" "+f[4] {
			t.Fatalf("history line %q, want version %s %s:\n%s", line, f[0], want[f[0]], hist)
		}
		delete(want, f[0])
	}
	if len(want) > 0 {
		t.Fatalf("history lacks versions %v:\n%s", want, hist)
	}
	running := 0
	for _, a := range allocs(t, addr, "web") {
		if a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning {
			if a.JobVersion != 3 {
				t.Fatalf("allocation %s runs version %d after the rollback", a.Name, a.JobVersion)
			}
			running++
		}
	}
	if running != 3 {
		t.Fatalf("%d allocations running after the rollback", running)
	}

	// A canary runs beside the three until promoted.
	out = mustNctl(t, addr, dir, "apply", "-f", serviceFile(t, dir, "sleep 300 # v4", "canary = 1"))
	if !strings.Contains(out, "wait for promotion: nctl rollout promote web") {
		t.Fatalf("canary apply: %q", out)
	}
	old, canaries := 0, 0
	for _, a := range allocs(t, addr, "web") {
		if a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning {
			if a.Canary && a.JobVersion == 4 {
				canaries++
			} else if a.JobVersion == 3 {
				old++
			}
		}
	}
	if old != 3 || canaries != 1 {
		t.Fatalf("before promotion: %d old and %d canaries, want 3 and 1", old, canaries)
	}
	var ds []*api.Deployment
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "deployments", "--job", "web", "-o", "json")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 || ds[0].JobVersion != 4 || ds[0].Status != api.DeploymentRunning {
		t.Fatalf("deployments, newest first: %d, first %+v", len(ds), ds[0])
	}
	if _, errOut, code := nctl(t, addr, dir, "rollout", "resume", "web"); code != 1 || !strings.Contains(errOut, "is not paused") {
		t.Fatalf("resume of a running deployment: exit %d, %s", code, errOut)
	}
	if out := mustNctl(t, addr, dir, "rollout", "promote", "web"); !strings.Contains(out, "promoted") {
		t.Fatalf("promote: %q", out)
	}
	if out := mustNctl(t, addr, dir, "rollout", "status", "web"); !strings.Contains(out, "job/web version 4 is rolled out") {
		t.Fatalf("status after promotion: %q", out)
	}
	desc := mustNctl(t, addr, dir, "describe", "deployment", ds[0].ID[:8])
	if !strings.Contains(desc, "successful") || !strings.Contains(desc, "true   ") {
		t.Fatalf("describe deployment:\n%s", desc)
	}
}
