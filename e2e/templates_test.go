package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil/ctrtest"
)

// page reads a page, "" when it does not answer.
func page(url string) string {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// portOf is the host port of a label of an allocation.
func portOf(a *api.Allocation, label string) int {
	for _, p := range a.Ports {
		if p.Label == label {
			return p.Value
		}
	}
	return 0
}

// within fails the test unless cond holds within d (checking every 50 ms).
func within(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not within %v: %s", what, d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeJob(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pageTemplate renders the greeting variable and the port of the
// service's instance.
const pageTemplate = `{{ with nomadVar "nomad/jobs/site" }}{{ .greeting }}{{ end }} from{{ range nomadService "site-web" }} {{ .Port }}{{ end }}`

// TestTemplatesRenderVariablesAndServicesAndFollowChanges runs raw_exec
// tasks serving a page their template renders from a variable and the
// service catalog: one restarted on a change, one signaled (it copies
// the page to where it serves it only when it gets SIGHUP). A change of
// the variable reaches both pages within 2 s.
func TestTemplatesRenderVariablesAndServicesAndFollowChanges(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	mustNctl(t, addr, "", "var", "put", "nomad/jobs/site", "greeting=hello")
	job := writeJob(t, dir, "site.hcl", fmt.Sprintf(`job "site" {
  group "g" {
    network {
      port "http" {}
      port "sig" {}
    }
    service {
      name = "site-web"
      port = "http"
    }
    task "restarted" {
      driver = "raw_exec"
      kill_timeout = "1s"
      config {
        command = "/bin/busybox"
        args = ["sh", "-c", "mkdir -p local/www && cp local/page.html local/www/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:$NOMAD_PORT_http -h local/www"]
      }
      template {
        data = %q
        destination = "local/page.html"
        change_mode = "restart"
      }
    }
    task "signaled" {
      driver = "raw_exec"
      kill_timeout = "1s"
      config {
        command = "/bin/busybox"
        args = ["sh", "-c", "mkdir -p local/www && cp local/page.html local/www/index.html; trap 'cp local/page.html local/www/index.html' HUP; /bin/busybox httpd -f -p 127.0.0.1:$NOMAD_PORT_sig -h local/www & while true; do sleep 0.1; done"]
      }
      template {
        data = %q
        destination = "local/page.html"
        change_mode = "signal"
        change_signal = "SIGHUP"
      }
    }
  }
}
`, pageTemplate, pageTemplate))
	mustNctl(t, addr, dir, "apply", "-f", job)
	a := waitRunning(t, addr, "site", 1)[0]
	restarted := fmt.Sprintf("http://127.0.0.1:%d/", portOf(a, "http"))
	signaled := fmt.Sprintf("http://127.0.0.1:%d/", portOf(a, "sig"))
	want := fmt.Sprintf("hello from %d", portOf(a, "http"))
	eventually(t, 20*time.Second, func() (bool, string) {
		got1, got2 := page(restarted), page(signaled)
		return got1 == want && got2 == want, fmt.Sprintf("pages %q and %q, want %q", got1, got2, want)
	})

	// The first render saw no instance of the service yet (it registers
	// once the tasks run); the one that did restarted the first task (and
	// may have restarted the second too, had its SIGHUP come before the
	// shell set its trap).
	var before, sigBefore int
	eventually(t, 10*time.Second, func() (bool, string) {
		st := allocs(t, addr, "site")[0].Status
		if st == nil || st.Tasks["restarted"] == nil || st.Tasks["signaled"] == nil {
			return false, "no status"
		}
		before, sigBefore = st.Tasks["restarted"].Restarts, st.Tasks["signaled"].Restarts
		return before >= 1, fmt.Sprintf("restarts %d before the change", before)
	})
	mustNctl(t, addr, "", "var", "put", "nomad/jobs/site", "greeting=bonjour")
	want = strings.Replace(want, "hello", "bonjour", 1)
	within(t, 2*time.Second, "both pages changed", func() (bool, string) {
		got1, got2 := page(restarted), page(signaled)
		return got1 == want && got2 == want, fmt.Sprintf("pages %q and %q, want %q", got1, got2, want)
	})
	eventually(t, 10*time.Second, func() (bool, string) {
		list := allocs(t, addr, "site")
		st := list[0].Status
		if st == nil || st.Tasks["restarted"] == nil || st.Tasks["signaled"] == nil {
			return false, "no status"
		}
		r, s := st.Tasks["restarted"], st.Tasks["signaled"]
		return r.Restarts == before+1 && s.Restarts == sigBefore && r.State == api.TaskStateRunning,
			fmt.Sprintf("restarts %d (before the change %d) and %d (before %d), state %s", r.Restarts, before, s.Restarts, sigBefore, r.State)
	})
}

// TestATaskCannotReadAnotherJobsVariables: a template reading another
// job's variable fails its task with a readable event.
func TestATaskCannotReadAnotherJobsVariables(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	mustNctl(t, addr, "", "var", "put", "nomad/jobs/bank", "password=vault")
	job := writeJob(t, dir, "spy.hcl", `job "spy" {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode = "fail"
    }
    reschedule {
      attempts = 0
      unlimited = false
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/cat"
        args = ["local/stolen"]
      }
      template {
        data = "{{ with nomadVar \"nomad/jobs/bank\" }}{{ .password }}{{ end }}"
        destination = "local/stolen"
      }
    }
  }
}
`)
	mustNctl(t, addr, dir, "apply", "--detach", "-f", job)
	eventually(t, 30*time.Second, func() (bool, string) {
		list := allocs(t, addr, "spy")
		if len(list) == 0 || list[0].Status == nil || list[0].Status.Tasks["t"] == nil {
			return false, "no status yet"
		}
		ts := list[0].Status.Tasks["t"]
		for _, e := range ts.Events {
			if e.Type == "Template Failed" && strings.Contains(e.Message, "permission denied") && strings.Contains(e.Message, "nomad/jobs/bank") {
				return list[0].Status.ClientStatus == api.AllocClientFailed, "status " + list[0].Status.ClientStatus
			}
		}
		return false, fmt.Sprintf("events %+v", ts.Events)
	})
}

func tarGzOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestArtifactsAreDownloadedVerifiedAndUnpacked serves an archive on
// loopback: a task with its checksum runs the script it holds; one with
// a wrong checksum fails with a readable event.
func TestArtifactsAreDownloadedVerifiedAndUnpacked(t *testing.T) {
	archive := tarGzOf(t, map[string]string{"tool/hello.sh": "#!/bin/sh\necho unpacked-and-run\n"})
	sum := sha256.Sum256(archive)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
	defer srv.Close()
	addr, _ := devAgent(t)
	dir := t.TempDir()
	jobFile := func(id, checksum string) string {
		return writeJob(t, dir, id+".hcl", fmt.Sprintf(`job %q {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode = "fail"
    }
    reschedule {
      attempts = 0
      unlimited = false
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["local/tool/hello.sh"]
      }
      artifact {
        source = "%s/tool.tar.gz"
        options {
          checksum = %q
        }
      }
    }
  }
}
`, id, srv.URL, checksum))
	}
	mustNctl(t, addr, dir, "apply", "--detach", "-f", jobFile("good", "sha256:"+hex.EncodeToString(sum[:])))
	mustNctl(t, addr, dir, "apply", "--detach", "-f", jobFile("bad", "sha256:"+strings.Repeat("0", 64)))
	status := func(job string) (*api.Allocation, bool) {
		list := allocs(t, addr, job)
		if len(list) == 0 || list[0].Status == nil || !api.IsTerminalClientStatus(list[0].Status.ClientStatus) {
			return nil, false
		}
		return list[0], true
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		a, ok := status("good")
		if !ok {
			return false, "good not finished"
		}
		logs := mustNctl(t, addr, "", "logs", a.ID, "t")
		return a.Status.ClientStatus == api.AllocClientComplete && strings.Contains(logs, "unpacked-and-run"), a.Status.ClientStatus + ": " + logs
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		a, ok := status("bad")
		if !ok {
			return false, "bad not finished"
		}
		for _, e := range a.Status.Tasks["t"].Events {
			if e.Type == "Failed Artifact Download" && strings.Contains(e.Message, "checksum mismatch") {
				return a.Status.ClientStatus == api.AllocClientFailed, a.Status.ClientStatus
			}
		}
		return false, fmt.Sprintf("events %+v", a.Status.Tasks["t"].Events)
	})
}

// TestATemplateRendersIntoAContainerServedByBusybox runs busybox httpd in
// a container of the containerd driver, serving the page its template
// renders into /local; a change of the variable restarts it with the new
// page within 2 s.
func TestATemplateRendersIntoAContainerServedByBusybox(t *testing.T) {
	if why := ctrtest.Available(); why != "" {
		if os.Getenv("NOMADIC_REQUIRE_CONTAINERD") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	c, err := ctrtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	image := filepath.Join(c.Dir, "busybox.tar")
	if err := ctrtest.BuildImage(image); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := devAgentWithNomadAPI(t, "-containerd-address", c.Address)
	dir := t.TempDir()
	mustNctl(t, addr, "", "var", "put", "nomad/jobs/site", "greeting=hello")
	job := writeJob(t, dir, "site.hcl", fmt.Sprintf(`job "site" {
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "site-web"
      port = "http"
    }
    task "web" {
      driver = "containerd"
      kill_timeout = "1s"
      config {
        image = %q
        image_archive = %q
        command = "sh"
        args = ["-c", "trap 'kill $pid; exit 0' TERM; httpd -f -p 127.0.0.1:$NOMAD_PORT_http -h /local/www & pid=$!; wait"]
      }
      template {
        data = %q
        destination = "local/www/index.html"
        change_mode = "restart"
      }
      resources {
        cpu = 100
        memory = 64
      }
    }
  }
}
`, ctrtest.ImageRef, image, pageTemplate))
	mustNctl(t, addr, dir, "apply", "-f", job)
	a := waitRunning(t, addr, "site", 1)[0]
	url := fmt.Sprintf("http://127.0.0.1:%d/", portOf(a, "http"))
	want := fmt.Sprintf("hello from %d", portOf(a, "http"))
	eventually(t, 30*time.Second, func() (bool, string) { got := page(url); return got == want, got })
	before := allocs(t, addr, "site")[0].Status.Tasks["web"].Restarts
	mustNctl(t, addr, "", "var", "put", "nomad/jobs/site", "greeting=bonjour")
	want = strings.Replace(want, "hello", "bonjour", 1)
	within(t, 2*time.Second, "the page changed", func() (bool, string) { got := page(url); return got == want, got })
	eventually(t, 10*time.Second, func() (bool, string) {
		st := allocs(t, addr, "site")[0].Status
		ts := st.Tasks["web"]
		return ts.Restarts == before+1 && ts.State == api.TaskStateRunning, fmt.Sprintf("restarts %d (before %d), state %s", ts.Restarts, before, ts.State)
	})
}
