package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil/ctrtest"
)

// containerdAgent starts a private containerd and a dev agent whose
// containerd, exec, docker and podman drivers use it, with the busybox
// test image written as an archive for jobs to load. Without containerd
// the test is skipped, unless NOMADIC_REQUIRE_CONTAINERD is set (as in CI).
func containerdAgent(t *testing.T) (addr, archive string) {
	t.Helper()
	if why := ctrtest.Available(); why != "" {
		if os.Getenv("NOMADIC_REQUIRE_CONTAINERD") != "" {
			t.Fatalf("containerd tests cannot run: %s", why)
		}
		t.Skip(why)
	}
	ctrd, err := ctrtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctrd.Stop)
	archive = filepath.Join(ctrd.Dir, "busybox.tar")
	if err := ctrtest.BuildImage(archive); err != nil {
		t.Fatal(err)
	}
	addr = freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev",
		"-http-addr", addr, "-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t),
		"-data-dir", t.TempDir(), "-containerd-address", ctrd.Address)
	waitReadyNodes(t, addr, 1)
	return addr, archive
}

// dockerJob is a job written for Nomad's Docker driver: a busybox httpd
// serving a page it writes into a volumes bind, on a group port, with env
// and args.
func dockerJob(archive string) string {
	return fmt.Sprintf(`job "web" {
  group "web" {
    network {
      port "http" {}
    }
    scaling {
      min = 1
      max = 2
    }
    task "httpd" {
      driver = "docker"
      config {
        image   = "nomadic.test/busybox:latest"
        load    = %q
        command = "sh"
        args    = ["-c", "echo $GREETING > /www/index.html && echo serving on ${NOMAD_PORT_http} && exec httpd -f -p 127.0.0.1:${NOMAD_PORT_http} -h /www"]
        ports   = ["http"]
        volumes = ["local/www:/www"]
        labels {
          "com.example.team" = "web"
        }
      }
      env {
        GREETING = "hello from docker"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, archive)
}

func TestADockerJobRunsOnContainerd(t *testing.T) {
	addr, archive := containerdAgent(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.hcl"), []byte(dockerJob(archive)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "validate", "web.hcl")
	mustNctl(t, addr, dir, "apply", "-f", "web.hcl")
	alloc := waitRunning(t, addr, "web", 1)[0]
	var port int
	for _, p := range alloc.Ports {
		if p.Label == "http" {
			port = p.Value
		}
	}
	if port == 0 {
		t.Fatalf("no http port in %+v", alloc.Ports)
	}
	// The port answers on loopback with the page the task wrote.
	eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "hello from docker"), fmt.Sprintf("%d %q", resp.StatusCode, b)
	})
	// Its logs are readable, with the interpolated port.
	eventually(t, 10*time.Second, func() (bool, string) {
		logs, _, _ := nctl(t, addr, dir, "logs", alloc.ID[:8], "httpd")
		return strings.Contains(logs, fmt.Sprintf("serving on %d", port)), logs
	})
	// The bind is the task directory's local/www, seen by alloc fs.
	fs := mustNctl(t, addr, dir, "alloc", "fs", alloc.ID[:8], "httpd/local/www")
	if !strings.Contains(fs, "index.html") {
		t.Fatalf("alloc fs of the bind:\n%s", fs)
	}
	// A command runs inside the container: its root, its environment, its
	// exit code.
	out, errOut, code := nctl(t, addr, dir, "alloc", "exec", alloc.ID[:8], "--", "sh", "-c", `cat /www/index.html; echo "task=$NOMAD_TASK_NAME"; echo to-stderr >&2; exit 4`)
	if code != 4 || !strings.Contains(out, "hello from docker") || !strings.Contains(out, "task=httpd") || !strings.Contains(errOut, "to-stderr") {
		t.Fatalf("alloc exec in the container: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, _, code := nctl(t, addr, dir, "alloc", "exec", alloc.ID[:8], "-t", "--", "sh", "-c", "test -t 0 && echo on a tty"); code != 0 || !strings.Contains(out, "on a tty") {
		t.Fatalf("alloc exec -t in the container: exit %d, %q", code, out)
	}
	// Its usage is its container's cgroup's.
	eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/v1/client/allocation/" + alloc.ID + "/stats")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var u api.AllocUsage
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &u); err != nil || u.Tasks["httpd"] == nil {
			return false, string(b)
		}
		ts := u.Tasks["httpd"]
		return ts.Usage > 0 && len(ts.MemoryMeasured) == 5, string(b)
	})

	// Scaling stays within the group's scaling block.
	if out, errOut, code := nctl(t, addr, dir, "job", "scale", "web", "web", "3"); code == 0 || !strings.Contains(errOut, "outside the scaling bounds") {
		t.Fatalf("scale beyond max: %d %s%s", code, out, errOut)
	}
	if out := mustNctl(t, addr, dir, "job", "scale", "web", "web", "2"); !strings.Contains(out, `group "web" scaled from 1 to 2`) {
		t.Fatalf("scale: %s", out)
	}
	waitRunning(t, addr, "web", 2)
	// The scale API does the same for autoscalers.
	resp, err := http.Post("http://"+addr+"/v1/job/web/scale", "application/json", strings.NewReader(`{"target": {"group": "web"}, "count": 1, "message": "less"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg api.RegisterResponse
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != http.StatusOK || reg.Result != "updated" {
		t.Fatalf("scale API: %d %+v %v", resp.StatusCode, reg, err)
	}
	resp.Body.Close()
	resp, err = http.Post("http://"+addr+"/v1/job/web/scale", "application/json", strings.NewReader(`{"target": {"group": "web"}, "count": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("scale API below min: %d", resp.StatusCode)
	}

	// A port mapped to the container's own port, as Docker jobs write it:
	// the group gets bridge mode and the node's port reaches 8080 inside.
	bridged := strings.NewReplacer(`job "web"`, `job "bridged"`, `port "http" {}`, `port "http" {
        to = 8080
      }`, "127.0.0.1:${NOMAD_PORT_http}", "8080").Replace(dockerJob(archive))
	if err := os.WriteFile(filepath.Join(dir, "bridged.hcl"), []byte(bridged), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, warn, _ := nctl(t, addr, dir, "validate", "bridged.hcl"); !strings.Contains(warn, "its docker tasks get a bridge network, as on Docker's default network") {
		t.Fatalf("validate warnings:\n%s", warn)
	}
	mustNctl(t, addr, dir, "apply", "-f", "bridged.hcl")
	b := waitRunning(t, addr, "bridged", 1)[0]
	if len(b.Ports) != 1 || b.Ports[0].To != 8080 {
		t.Fatalf("ports %+v", b.Ports)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", b.Ports[0].Value))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "hello from docker"), fmt.Sprintf("%d %q", resp.StatusCode, body)
	})
}

func TestAPrivilegedDockerJobIsRefusedByAClientThatDoesNotAllowIt(t *testing.T) {
	addr, archive := containerdAgent(t)
	dir := t.TempDir()
	job := fmt.Sprintf(`job "priv" {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "t" {
      driver = "docker"
      config {
        image      = "nomadic.test/busybox:latest"
        load       = %q
        command    = "true"
        privileged = true
      }
    }
  }
}
`, archive)
	if err := os.WriteFile(filepath.Join(dir, "priv.hcl"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warn, _ := nctl(t, addr, dir, "validate", "priv.hcl")
	if !strings.Contains(warn, "a privileged container runs only on nodes whose agent was started with -docker-allow-privileged") {
		t.Fatalf("validate warnings:\n%s", warn)
	}
	mustNctl(t, addr, dir, "apply", "--detach", "-f", "priv.hcl")
	eventually(t, 60*time.Second, func() (bool, string) {
		for _, a := range allocs(t, addr, "priv") {
			if a.ClientStatusOf() != api.AllocClientFailed || a.Status == nil {
				continue
			}
			for _, ev := range a.Status.Tasks["t"].Events {
				if strings.Contains(ev.Message, "privileged containers are not allowed on this node") {
					return true, ""
				}
			}
		}
		return false, "no failed allocation with the privileged refusal yet"
	})
}

func TestAJobForADriverNoNodeHasIsAcceptedAndItsPlacementSaysWhy(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	job := `job "jar" {
  group "g" {
    task "t" {
      driver = "java"
      config {
        jar_path = "local/app.jar"
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "jar.hcl"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warn, code := nctl(t, addr, dir, "validate", "jar.hcl")
	if code != 0 || !strings.Contains(warn, `nomadic ships no "java" driver`) {
		t.Fatalf("validate: %d %s", code, warn)
	}
	out, errOut, _ := nctl(t, addr, dir, "plan", "-f", "jar.hcl")
	if !strings.Contains(out+errOut, `missing driver "java"`) {
		t.Fatalf("plan does not name the missing driver:\n%s%s", out, errOut)
	}
}
