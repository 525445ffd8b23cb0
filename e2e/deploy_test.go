package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

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

// shopFile writes a service of four busybox httpd instances whose HTTP
// check asks for checkPath; release changes the tasks' environment.
func shopFile(t *testing.T, dir, release, checkPath string) string {
	t.Helper()
	src := fmt.Sprintf(`job "shop" {
  update {
    max_parallel      = 1
    min_healthy_time  = "1s"
    healthy_deadline  = "6s"
    progress_deadline = "40s"
    auto_revert       = true
  }
  group "web" {
    count = 4
    network {
      port "http" {}
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    service {
      name = "shop"
      port = "http"
      check {
        type     = "http"
        path     = %q
        interval = "200ms"
        timeout  = "1s"
      }
    }
    task "httpd" {
      driver = "raw_exec"
      env {
        RELEASE = %q
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p $NOMAD_TASK_DIR/www && echo ok > $NOMAD_TASK_DIR/www/health && exec /bin/busybox httpd -f -p 127.0.0.1:$NOMAD_PORT_http -h $NOMAD_TASK_DIR/www"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`, checkPath, release)
	path := filepath.Join(dir, "shop.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServiceRolloutFollowsItsHTTPChecks is issue 8's acceptance run with
// real processes: four httpd instances are replaced one at a time, each
// only once the one before passed its check for min_healthy_time; a
// version whose check fails stops after one instance and is rolled back.
func TestServiceRolloutFollowsItsHTTPChecks(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed")
	}
	addr, _ := devAgent(t)
	dir := t.TempDir()
	mustNctl(t, addr, dir, "apply", "-f", shopFile(t, dir, "1", "/health"))
	out := mustNctl(t, addr, dir, "apply", "-f", shopFile(t, dir, "2", "/health"))
	if !strings.Contains(out, "job/shop version 1 is rolled out") {
		t.Fatalf("rollout: %q", out)
	}
	var v1 []*api.Allocation
	for _, a := range allocs(t, addr, "shop") {
		if a.JobVersion == 1 && a.DesiredStatus == api.AllocDesiredRun {
			v1 = append(v1, a)
		}
	}
	sort.Slice(v1, func(i, j int) bool { return v1[i].CreateTime.Before(v1[j].CreateTime) })
	if len(v1) != 4 {
		t.Fatalf("%d allocations of version 1, want 4", len(v1))
	}
	for i := 1; i < len(v1); i++ {
		prev := v1[i-1].Health()
		if prev == nil || !prev.Healthy || v1[i].CreateTime.Before(prev.Time.Add(-50*time.Millisecond)) {
			t.Fatalf("%s was placed at %s, before %s was healthy (%+v)", v1[i].Name, v1[i].CreateTime, v1[i-1].Name, prev)
		}
	}

	// The check of this version answers 404: its first instance never
	// gets healthy, the deployment fails and the job goes back.
	out, errOut, code := nctl(t, addr, dir, "apply", "-f", shopFile(t, dir, "3", "/missing"))
	if code != 1 || !strings.Contains(errOut, "rolling back to job version 1 (as version 3)") {
		t.Fatalf("bad version: exit %d: %s%s", code, out, errOut)
	}
	placed := 0
	for _, a := range allocs(t, addr, "shop") {
		if a.JobVersion == 2 {
			placed++
		}
	}
	if placed != 1 {
		t.Fatalf("the failing version placed %d allocations, want 1", placed)
	}
	mustNctl(t, addr, dir, "rollout", "status", "shop")
	var regs []*api.ServiceRegistration
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "get", "services", "shop", "-o", "json")), &regs); err != nil {
		t.Fatal(err)
	}
	healthy := 0
	for _, r := range regs {
		if r.Healthy() {
			healthy++
		}
	}
	if healthy != 4 {
		t.Fatalf("%d of %d instances healthy after the rollback", healthy, len(regs))
	}
}

// TestInstancesOfAKilledNodeLeaveTheCatalog kills a client agent with
// SIGKILL while its httpd instances pass their checks: they leave the
// catalog when its lease expires, within the node TTL and a little.
func TestInstancesOfAKilledNodeLeaveTheCatalog(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed")
	}
	etcdAddr := freeAddr(t)
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-http-addr", addr, "-nomad-http-addr", freeAddr(t),
		"-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 1)
	const ttl = 3 * time.Second
	client := start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec", "-node-name", "edge-1",
		"-node-class", "edge", "-node-ttl", ttl.String(), "-etcd-endpoints", "http://"+etcdAddr, "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 2)

	dir := t.TempDir()
	src, err := os.ReadFile(shopFile(t, dir, "1", "/health"))
	if err != nil {
		t.Fatal(err)
	}
	edge := strings.Replace(strings.Replace(string(src), `job "shop" {`, "job \"edge\" {\n  constraint {\n    attribute = \"${node.class}\"\n    value     = \"edge\"\n  }", 1),
		`name = "shop"`, `name = "edge"`, 1)
	edge = strings.Replace(edge, "count = 4", "count = 2", 1)
	if err := os.WriteFile(filepath.Join(dir, "edge.hcl"), []byte(edge), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "-f", "edge.hcl")
	running := waitRunning(t, addr, "edge", 2)
	t.Cleanup(func() {
		// The agent was killed; its tasks are ours to end.
		for _, pid := range taskPIDs(running) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	instances := func() []*api.ServiceRegistration {
		out, errOut, code := nctl(t, addr, dir, "get", "services", "edge", "-o", "json")
		if code != 0 {
			if strings.Contains(errOut, "has no instance") {
				return nil
			}
			t.Fatalf("get services: exit %d: %s", code, errOut)
		}
		var regs []*api.ServiceRegistration
		if err := json.Unmarshal([]byte(out), &regs); err != nil {
			t.Fatal(err)
		}
		return regs
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		n := 0
		for _, r := range instances() {
			if r.Healthy() {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%d of 2 instances healthy", n)
	})
	killed := time.Now()
	if err := client.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, ttl+10*time.Second, func() (bool, string) {
		n := len(instances())
		return n == 0, fmt.Sprintf("%d instances left", n)
	})
	gone := time.Since(killed)
	t.Logf("instances of the killed node left the catalog %.1fs after SIGKILL (node TTL %s)", gone.Seconds(), ttl)
	if gone > ttl+3*time.Second {
		t.Fatalf("instances left %s after the kill, more than the TTL %s and 3 s", gone, ttl)
	}
}
