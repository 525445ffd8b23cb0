package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
)

// TestNomadMonitorOfAnotherNode: nomad monitor -node-id follows the log of
// a client agent in its own process, through the server, at a level below
// the one the agent logs at.
func TestNomadMonitorOfAnotherNode(t *testing.T) {
	addr, naddr := freeAddr(t), freeAddr(t)
	etcdAddr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-http-addr", addr, "-nomad-http-addr", naddr,
		"-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 1)
	client := start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver", "-node-name", "watched",
		"-log-level", "warn", "-etcd-endpoints", "http://"+etcdAddr, "-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 2)

	c, err := napi.NewClient(&napi.Config{Address: "http://" + naddr})
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := c.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, n := range nodes {
		if n.Name == "watched" {
			id = n.ID
		}
	}
	if id == "" {
		t.Fatalf("no node watched among %d", len(nodes))
	}
	stop := make(chan struct{})
	defer close(stop)
	frames, errs := c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"node_id": id[:8], "log_level": "debug"}})

	// A job placed on that node: its agent logs the new allocation at
	// debug, which it does not write to its own standard error (warn).
	dir := t.TempDir()
	job := `job "watched" {
  constraint {
    attribute = "${node.unique.name}"
    value     = "watched"
  }
  group "g" {
    task "t" {
      driver = "mock"
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "watched.hcl"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "--detach", "-f", "watched.hcl")
	deadline := time.After(30 * time.Second)
	var got string
	for !strings.Contains(got, "running a new allocation") {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the follow ended: %v; got %q", <-errs, got)
			}
			got += string(f.Data)
		case err := <-errs:
			t.Fatalf("monitor: %v; got %q", err, got)
		case <-deadline:
			t.Fatalf("no line of the node's agent in 30 s; got %q", got)
		}
	}
	if !strings.Contains(got, "job=watched") {
		t.Fatalf("the line: %q", got)
	}
	if strings.Contains(client.out.String(), "running a new allocation") {
		t.Fatal("the agent wrote the debug line to its own log too")
	}

	// An unknown node is a 404.
	_, errs = c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"node_id": "ffffffff-0000"}})
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown node: %v", err)
	}
}
