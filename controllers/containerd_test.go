package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/containerd"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/testutil/ctrtest"
)

// startContainerd starts a private containerd and builds the test image,
// or skips the test where containerd cannot run (make test requires it).
func startContainerd(t testing.TB) (*containerd.Driver, string) {
	t.Helper()
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
	archive := filepath.Join(c.Dir, "busybox.tar")
	if err := ctrtest.BuildImage(archive); err != nil {
		t.Fatal(err)
	}
	d := &containerd.Driver{Address: c.Address}
	t.Cleanup(func() { _ = d.Close() })
	return d, archive
}

func containerJob(id, archive, script string, mods ...func(*api.Job)) *api.Job {
	j := &api.Job{ID: id, Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{
		Name: "web", Driver: "containerd",
		Config:    map[string]any{"image": ctrtest.ImageRef, "image_archive": archive, "command": "sh", "args": []any{"-c", script}},
		Resources: &api.Resources{CPU: 100, MemoryMB: 64}, KillTimeout: api.Duration(2 * time.Second)}}}}}
	for _, m := range mods {
		m(j)
	}
	j.Canonicalize()
	return j
}

func TestBridgeNetworkingMapsPortsOnLoopback(t *testing.T) {
	d, archive := startContainerd(t)
	c := newCluster(t)
	c.agent("n1", true, d)
	ctx := context.Background()
	j := containerJob("web", archive, `echo "hello from $NOMAD_PORT_http" > /local/index.html; exec httpd -f -p $NOMAD_PORT_http -h /local`,
		func(j *api.Job) {
			j.Groups[0].Network = &api.Network{Mode: "bridge", Ports: []api.Port{{Label: "http", To: 8080}}}
		})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	running := c.waitStatus("web", api.AllocClientRunning, 1)
	a := running[0]
	if len(a.Ports) != 1 || a.Ports[0].To != 8080 || a.Status.NetworkAddress == "" {
		t.Fatalf("allocation network: ports %+v, address %q", a.Ports, a.Status.NetworkAddress)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/index.html", a.Ports[0].Value)
	var body string
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200, resp.Status
	})
	if strings.TrimSpace(body) != "hello from 8080" {
		t.Fatalf("answer %q", body)
	}
	if _, err := c.store.StopJob(ctx, "default", "web", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("web", api.AllocClientComplete, 1)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := os.Stat("/var/run/netns/nomadic-" + a.ID)
		return os.IsNotExist(err), "network namespace still there"
	})
}

func TestContainersSurviveAnAgentRestartAndAreReattached(t *testing.T) {
	d, archive := startContainerd(t)
	c := newCluster(t)
	dir := t.TempDir()
	_, stop := c.agentIn("n1", dir, false, d)
	ctx := context.Background()
	if _, err := c.store.RegisterJob(ctx, containerJob("long", archive, "sleep 120"), time.Now()); err != nil {
		t.Fatal(err)
	}
	before := c.waitStatus("long", api.AllocClientRunning, 1)[0]
	pid := before.Status.Tasks["web"].PID
	stop() // the agent goes; its container stays
	if !alive(pid) {
		t.Fatalf("container process %d died with the agent", pid)
	}
	c.agentIn("n1", dir, true, &containerd.Driver{Address: d.Address})
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		all := c.allocs("long")
		if len(all) != 1 {
			return false, fmt.Sprintf("%d allocations", len(all))
		}
		ts := all[0].Status.Tasks["web"]
		last := ts.Events[len(ts.Events)-1]
		return last.Type == "Reattached" && ts.PID == pid, fmt.Sprintf("last event %s, pid %d", last.Type, ts.PID)
	})
	if _, err := c.store.StopJob(ctx, "default", "long", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("long", api.AllocClientComplete, 1)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) { return !alive(pid), "container still running" })
}
