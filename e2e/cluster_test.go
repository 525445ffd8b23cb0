package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// etcdCluster starts a 3-member etcd cluster of Debian's etcd and returns
// its client URLs.
func etcdCluster(t *testing.T) string {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	var clients, peers, initial []string
	for i := 0; i < 3; i++ {
		clients = append(clients, "http://"+freeAddr(t))
		peers = append(peers, "http://"+freeAddr(t))
		initial = append(initial, fmt.Sprintf("e%d=%s", i, peers[i]))
	}
	token := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	for i := 0; i < 3; i++ {
		start(t, etcdBin, "--name", fmt.Sprintf("e%d", i), "--data-dir", t.TempDir(),
			"--listen-client-urls", clients[i], "--advertise-client-urls", clients[i],
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token)
	}
	return strings.Join(clients, ",")
}

func mockJob(t *testing.T, dir, id string, count int) string {
	src := fmt.Sprintf(`job %q {
  group "g" {
    count = %d
    task "t" {
      driver = "mock"
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`, id, count)
	p := filepath.Join(dir, id+".hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestThreeServersOnAThreeMemberEtcdSurviveKills runs three servers and
// two clients on a 3-member etcd cluster, kills a server with SIGKILL in
// the middle of scheduling, then a client: every job reaches its count,
// no allocation is duplicated, and the dead client's allocations are
// replaced within its lease TTL and a few seconds.
func TestThreeServersOnAThreeMemberEtcdSurviveKills(t *testing.T) {
	endpoints := etcdCluster(t)
	var addrs []string
	var servers []*proc
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		servers = append(servers, start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", fmt.Sprintf("server-%d", i),
			"-etcd-endpoints", endpoints, "-http-addr", addr, "-data-dir", t.TempDir(), "-server-ttl", "3s"))
	}
	var clients []*proc
	for i := 0; i < 2; i++ {
		clients = append(clients, start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver",
			"-node-name", fmt.Sprintf("client-%d", i), "-etcd-endpoints", endpoints, "-data-dir", t.TempDir(),
			"-node-ttl", "3s", "-client-http-addr", freeAddr(t)))
	}
	waitReadyNodes(t, addrs[0], 2)
	dir := t.TempDir()
	const jobs, count = 6, 5
	for i := 0; i < jobs; i++ {
		if i == 3 {
			// SIGKILL a server while the first jobs are being scheduled.
			servers[1].stop(t, syscall.SIGKILL, 5*time.Second)
		}
		addr := addrs[0]
		if i >= 3 {
			addr = addrs[2]
		}
		file := mockJob(t, dir, fmt.Sprintf("job%d", i), count)
		eventually(t, 30*time.Second, func() (bool, string) {
			out, errOut, code := nctl(t, addr, dir, "apply", "--detach", "-f", file)
			return code == 0, out + errOut
		})
	}
	checkAll := func(what, avoid string) {
		eventually(t, 60*time.Second, func() (bool, string) {
			var nodes []*api.Node
			_ = json.Unmarshal([]byte(mustNctl(t, addrs[2], dir, "get", "nodes", "-o", "json")), &nodes)
			avoidID := ""
			for _, n := range nodes {
				if n.Name == avoid {
					avoidID = n.ID
				}
			}
			out, errOut, code := nctl(t, addrs[2], dir, "get", "allocs", "-o", "json")
			if code != 0 {
				return false, errOut
			}
			var list []*api.Allocation
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				return false, err.Error()
			}
			live := map[string]int{}
			for _, a := range list {
				if a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning && a.NodeID != avoidID {
					live[a.Name]++
				}
			}
			for name, n := range live {
				if n > 1 {
					t.Fatalf("%s: allocation %s runs %d times", what, name, n)
				}
			}
			return len(live) == jobs*count, fmt.Sprintf("%s: %d of %d running", what, len(live), jobs*count)
		})
	}
	checkAll("after the server kill", "")

	// Kill a client: its allocations come back on the other one.
	killed := time.Now()
	clients[0].stop(t, syscall.SIGKILL, 5*time.Second)
	checkAll("after the client kill", "client-0")
	t.Logf("allocations of the killed client replaced %v after the kill (node TTL 3s)", time.Since(killed).Round(100*time.Millisecond))
	if d := time.Since(killed); d > 3*time.Second+15*time.Second {
		t.Fatalf("replacement took %v", d)
	}
}
