package e2e

import (
	"context"
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
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdCluster starts a 3-member etcd cluster of Debian's etcd and returns
// its client URLs.
func etcdCluster(t *testing.T) string {
	endpoints, _ := etcdClusterProcs(t)
	return endpoints
}

// etcdClusterProcs is etcdCluster with its members' processes.
func etcdClusterProcs(t *testing.T) (string, []*proc) {
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
	var procs []*proc
	for i := 0; i < 3; i++ {
		procs = append(procs, start(t, etcdBin, "--name", fmt.Sprintf("e%d", i), "--data-dir", t.TempDir(),
			"--listen-client-urls", clients[i], "--advertise-client-urls", clients[i],
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token))
	}
	return strings.Join(clients, ","), procs
}

// TestNodeLeaseOutlivesAnEtcdMemberThatStopsAnswering stops each follower
// of a 3-member etcd in turn (SIGSTOP) for more than twice the node TTL:
// a member alive but not answering (defragmenting, stopped, its disk
// stuck) held the lease renewals of the clients whose stream was on it
// until their leases ran out (etcd-io/etcd#13313: in a C1M maintenance,
// 3,660 of 5,000 nodes). Renewals now move to another member, so the
// node keeps its lease throughout, whichever member its renewals used.
func TestNodeLeaseOutlivesAnEtcdMemberThatStopsAnswering(t *testing.T) {
	t.Parallel()
	endpoints, members := etcdClusterProcs(t)
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "server-0",
		"-etcd-endpoints", endpoints, "-http-addr", addr, "-data-dir", t.TempDir(), "-server-ttl", "3s")
	client := start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver",
		"-node-name", "client-0", "-etcd-endpoints", endpoints, "-data-dir", t.TempDir(),
		"-node-ttl", "3s", "-client-http-addr", freeAddr(t))
	waitReadyNodes(t, addr, 1)
	eps := strings.Split(endpoints, ",")
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	stopped := 0
	for i, m := range members {
		// The followers: a stopped leader is an election, whose length on
		// a loaded machine is not what this is about. Renewals go to
		// every member in turn, so each follower gets some.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(sctx, eps[i])
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId == st.Leader {
			continue
		}
		stopped++
		if err := m.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second)
		if err := m.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if out := client.out.String(); strings.Contains(out, "node lease lost") {
			t.Fatalf("the node lost its lease while etcd member %d was stopped:\n%s", i, out)
		}
		time.Sleep(2 * time.Second)
	}
	if stopped != 2 {
		t.Fatalf("%d followers stopped, want 2", stopped)
	}
	if out := client.out.String(); strings.Contains(out, "node lease lost") {
		t.Fatalf("the node lost its lease:\n%s", out)
	}
	waitReadyNodes(t, addr, 1)
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

	// etcd-maintain defragments the leader last, once it handed its
	// leadership to a member already defragmented; each member once,
	// though the first is given twice.
	first, _, _ := strings.Cut(endpoints, ",")
	out, err := exec.Command(filepath.Join(binDir, "nomadic"), "etcd-maintain", "-etcd-endpoints", endpoints+","+first).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "handed its leadership over") || !strings.Contains(string(out), "; 3 members defragmented;") {
		t.Fatalf("etcd-maintain: %v\n%s", err, out)
	}
	checkAll("after the maintenance", "client-0")
}

// TestEmbeddedEtcdClusterOfThreeServersAndForceLeave starts three servers
// whose embedded etcds form one cluster (-etcd-join), SIGKILLs one, and
// removes it with force-leave, etcd member included: the two left keep
// scheduling, and a third can join again.
func TestEmbeddedEtcdClusterOfThreeServersAndForceLeave(t *testing.T) {
	var addrs, etcds []string
	var servers []*proc
	for i := 0; i < 3; i++ {
		addr, etcdAddr := freeAddr(t), freeAddr(t)
		args := []string{"agent", "-server", "-name", fmt.Sprintf("server-%d", i), "-http-addr", addr, "-data-dir", t.TempDir(),
			"-server-ttl", "3s", "-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t)}
		if i > 0 {
			args = append(args, "-etcd-join", "http://"+etcds[0])
		}
		servers = append(servers, start(t, filepath.Join(binDir, "nomadic"), args...))
		addrs, etcds = append(addrs, addr), append(etcds, etcdAddr)
		eventually(t, 60*time.Second, func() (bool, string) {
			out, errOut, code := nctl(t, addr, "", "server", "members")
			return code == 0 && strings.Count(out, "server-") == i+1, out + errOut
		})
	}
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver", "-node-name", "client-0",
		"-etcd-endpoints", "http://"+etcds[0]+",http://"+etcds[1], "-data-dir", t.TempDir(), "-client-http-addr", freeAddr(t))
	waitReadyNodes(t, addrs[0], 1)

	servers[2].stop(t, syscall.SIGKILL, 5*time.Second)
	out := mustNctl(t, addrs[0], "", "server", "force-leave", "server-2")
	if !strings.Contains(out, "server/server-2 removed") || !strings.Contains(out, "etcd member") {
		t.Fatalf("force-leave: %q", out)
	}
	if _, errOut, code := nctl(t, addrs[0], "", "server", "force-leave", "server-2"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("a second force-leave: exit %d %s", code, errOut)
	}
	// Two of the two members left answer: the cluster schedules.
	dir := t.TempDir()
	mustNctl(t, addrs[1], dir, "apply", "-f", mockJob(t, dir, "after", 3))
	waitRunning(t, addrs[0], "after", 3)
	// Losing one more member now would lose quorum (2 of 2): instead, a
	// new server joins in the removed one's place.
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "server-3", "-http-addr", addr, "-data-dir", t.TempDir(),
		"-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t), "-etcd-join", "http://"+etcds[1])
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "server", "members")
		return code == 0 && strings.Contains(out, "server-3") && strings.Contains(out, "server-0"), out + errOut
	})
}
