package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The fault suite (docs/reliability.md): faults injected one after
// another into one cluster of real processes — three servers on a
// 3-member etcd of Debian's etcd, a real node agent running raw_exec
// tasks and a dozen hollow nodes — each followed by the checks that
// nothing was lost, duplicated or overcommitted, with the time the
// cluster took to converge logged as "fault: …" lines (the figures of
// docs/reliability.md come from them).

// etcdMember is one member of a test's etcd cluster, which the fault
// suite kills, freezes and starts again.
type etcdMember struct {
	name, client string
	args         []string
	p            *proc
}

func (m *etcdMember) start(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	m.p = start(t, etcdBin, m.args...)
}

func (m *etcdMember) signal(t *testing.T, sig syscall.Signal) {
	if err := m.p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling etcd member %s: %v", m.name, err)
	}
}

// etcdMembers starts a 3-member etcd cluster of Debian's etcd.
func etcdMembers(t *testing.T) ([]*etcdMember, string) {
	var clients, peers, initial []string
	for i := 0; i < 3; i++ {
		clients = append(clients, "http://"+freeAddr(t))
		peers = append(peers, "http://"+freeAddr(t))
		initial = append(initial, fmt.Sprintf("e%d=%s", i, peers[i]))
	}
	token := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	var members []*etcdMember
	for i := 0; i < 3; i++ {
		m := &etcdMember{name: fmt.Sprintf("e%d", i), client: clients[i], args: []string{
			"--name", fmt.Sprintf("e%d", i), "--data-dir", t.TempDir(),
			"--listen-client-urls", clients[i], "--advertise-client-urls", clients[i],
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token}}
		m.start(t)
		members = append(members, m)
	}
	return members, strings.Join(clients, ",")
}

// etcdLeader returns the member that leads the etcd cluster.
func etcdLeader(t *testing.T, members []*etcdMember) *etcdMember {
	var eps []string
	for _, m := range members {
		eps = append(eps, m.client)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var leader *etcdMember
	eventually(t, 20*time.Second, func() (bool, string) {
		for _, m := range members {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, m.client)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				leader = m
				return true, ""
			}
		}
		return false, "no etcd member says it leads"
	})
	return leader
}

// faultCluster is the cluster the fault suite runs on.
type faultCluster struct {
	// root is the suite's test, which owns every process (a subtest's
	// would stop them when it ends); t is the running subtest.
	root       *testing.T
	t          *testing.T
	members    []*etcdMember
	endpoints  string
	serverArgs [][]string
	servers    []*proc
	addrs      []string
	realArgs   []string
	real       *proc
	statsAddr  string
	dir        string
}

// hollowNodes is how many hollow nodes the suite's sim runs; with the
// real agent the cluster has hollowNodes+1 nodes.
const hollowNodes = 12

func newFaultCluster(t *testing.T) *faultCluster {
	c := &faultCluster{root: t, t: t, dir: t.TempDir()}
	c.members, c.endpoints = etcdMembers(t)
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		args := []string{"agent", "-server", "-name", fmt.Sprintf("s%d", i), "-etcd-endpoints", c.endpoints,
			"-http-addr", addr, "-data-dir", t.TempDir(), "-server-ttl", "3s", "-etcd-request-timeout", "3s"}
		c.serverArgs = append(c.serverArgs, args)
		c.addrs = append(c.addrs, addr)
		c.servers = append(c.servers, start(t, filepath.Join(binDir, "nomadic"), args...))
	}
	c.realArgs = []string{"agent", "-client", "-enable-raw-exec", "-node-name", "real", "-etcd-endpoints", c.endpoints,
		"-data-dir", t.TempDir(), "-node-ttl", "4s", "-client-http-addr", freeAddr(t)}
	c.real = start(t, filepath.Join(binDir, "nomadic"), c.realArgs...)
	c.statsAddr = freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "sim", "-nodes", fmt.Sprint(hollowNodes), "-node-ttl", "4s",
		"-cpu", "1000", "-memory", "1000", "-etcd-endpoints", c.endpoints, "-data-dir", t.TempDir(), "-stats-addr", c.statsAddr)
	waitReadyNodes(t, c.addr(), hollowNodes+1)
	return c
}

// addr returns the API address of a live server.
func (c *faultCluster) addr() string {
	for i, p := range c.servers {
		select {
		case <-p.done:
		default:
			return c.addrs[i]
		}
	}
	c.t.Fatal("no server is running")
	return ""
}

// leader returns the index of the leading server.
func (c *faultCluster) leader() int {
	var idx int
	eventually(c.t, 30*time.Second, func() (bool, string) {
		out, errOut, code := nctl(c.t, c.addr(), "", "get", "servers", "-o", "json")
		if code != 0 {
			return false, errOut
		}
		var list []*api.Server
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return false, err.Error()
		}
		for _, s := range list {
			for i := range c.servers {
				if s.Leader && s.Name == fmt.Sprintf("s%d", i) {
					idx = i
					return true, ""
				}
			}
		}
		return false, "no leader: " + out
	})
	return idx
}

// simCheck asks the hollow nodes what they run.
func (c *faultCluster) simCheck() (running, duplicates, overfull int, err error) {
	resp, err := http.Get("http://" + c.statsAddr + "/check")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Running    int `json:"running"`
		Duplicates int `json:"duplicate_slots"`
		Overfull   int `json:"nodes_over_capacity"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, 0, err
	}
	return out.Running, out.Duplicates, out.Overfull, nil
}

// converge waits until the hollow nodes run want allocations, checking
// on the way that no slot runs twice and no node is over capacity, and
// returns how long it took.
func (c *faultCluster) converge(what string, want int, timeout time.Duration) time.Duration {
	c.t.Helper()
	began := time.Now()
	eventually(c.t, timeout, func() (bool, string) {
		running, dups, over, err := c.simCheck()
		if err != nil {
			return false, err.Error()
		}
		if dups > 0 || over > 0 {
			c.t.Fatalf("%s: %d slots run twice, %d nodes over capacity", what, dups, over)
		}
		return running == want, fmt.Sprintf("%s: %d of %d running", what, running, want)
	})
	return time.Since(began)
}

// liveAllocs returns the job of every allocation meant to run, by ID.
func (c *faultCluster) liveAllocs() map[string]string {
	c.t.Helper()
	out := mustNctl(c.t, c.addr(), "", "get", "allocs", "-o", "json")
	var list []*api.Allocation
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		c.t.Fatal(err)
	}
	ids := map[string]string{}
	for _, a := range list {
		if a.DesiredStatus == api.AllocDesiredRun {
			ids[a.ID] = a.JobID
		}
	}
	return ids
}

// sameAllocs fails unless the allocations meant to run are those of
// before, but for those of jobs submitted since (added): nothing was
// replaced.
func (c *faultCluster) sameAllocs(what string, before map[string]string, added ...string) {
	c.t.Helper()
	after := c.liveAllocs()
	var gone, extra int
	for id := range before {
		if after[id] == "" {
			gone++
		}
	}
	for id, job := range after {
		if before[id] == "" && !slices.Contains(added, job) {
			extra++
		}
	}
	if gone > 0 || extra > 0 {
		c.t.Fatalf("%s: %d of %d allocations replaced (%d new)", what, gone, len(before), extra)
	}
}

func faultLog(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("fault: "+format, args...)
}

func sizedMockJob(t *testing.T, dir, id string, count, cpu, mem int) string {
	src := fmt.Sprintf(`job %q {
  group "g" {
    count = %d
    task "t" {
      driver = "mock"
      resources {
        cpu    = %d
        memory = %d
      }
    }
  }
}
`, id, count, cpu, mem)
	p := filepath.Join(dir, id+".hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFaultsOnAThreeServerCluster(t *testing.T) {
	c := newFaultCluster(t)
	dir := c.dir
	const jobs, count = 10, 4
	total := 0 // allocations the hollow nodes should run

	run := func(name string, f func(t *testing.T)) {
		if t.Failed() {
			return // a fault left the cluster broken: the next ones would only say so again
		}
		t.Run(name, f)
	}

	run("the leader is killed in the middle of scheduling", func(t *testing.T) {
		c.t = t
		lead := c.leader()
		var killed time.Time
		for i := 0; i < jobs; i++ {
			if i == 3 {
				c.servers[lead].stop(t, syscall.SIGKILL, 5*time.Second)
				killed = time.Now()
			}
			file := mockJob(t, dir, fmt.Sprintf("web%d", i), count)
			eventually(t, 30*time.Second, func() (bool, string) {
				out, errOut, code := nctl(t, c.addr(), dir, "apply", "--detach", "-f", file)
				return code == 0, out + errOut
			})
		}
		total = jobs * count
		d := c.converge("after the leader's kill", total, 60*time.Second)
		faultLog(t, "leader server killed (-server-ttl 3s): %d allocations of %d jobs converged %v after the kill (%v after the last submission)",
			total, jobs, time.Since(killed).Round(100*time.Millisecond), d.Round(100*time.Millisecond))
		c.servers[lead] = start(c.root, filepath.Join(binDir, "nomadic"), c.serverArgs[lead]...)
		eventually(t, 30*time.Second, func() (bool, string) {
			out, errOut, code := nctl(t, c.addrs[lead], "", "get", "servers")
			return code == 0 && strings.Count(out, "\ns") >= 3, out + errOut
		})
	})

	run("a node agent is killed and started again", func(t *testing.T) {
		c.t = t
		src := `job "sleepers" {
  group "g" {
    count = 2
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 600"]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`
		file := filepath.Join(dir, "sleepers.hcl")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		mustNctl(t, c.addr(), dir, "apply", "--detach", "-f", file)
		before := waitRunning(t, c.addr(), "sleepers", 2)
		pids := taskPIDs(before)
		sort.Ints(pids)
		t.Cleanup(func() {
			for _, pid := range pids {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		})
		c.real.stop(t, syscall.SIGKILL, 5*time.Second)
		killed := time.Now()
		c.real = start(c.root, filepath.Join(binDir, "nomadic"), c.realArgs...)
		eventually(t, 30*time.Second, func() (bool, string) {
			var now []int
			for _, a := range allocs(t, c.addr(), "sleepers") {
				if a.ClientStatusOf() != api.AllocClientRunning || a.DesiredStatus != api.AllocDesiredRun {
					continue
				}
				for _, ts := range a.Status.Tasks {
					// The new agent says so once it re-attached.
					for _, e := range ts.Events {
						if e.Type == "Reattached" && e.Time.After(killed.Add(-time.Second)) {
							now = append(now, ts.PID)
						}
					}
				}
			}
			sort.Ints(now)
			return fmt.Sprint(now) == fmt.Sprint(pids), fmt.Sprintf("task PIDs %v, before %v", now, pids)
		})
		for _, pid := range pids {
			if !processAlive(pid) {
				t.Fatalf("task %d died with its agent", pid)
			}
		}
		ids := map[string]bool{}
		for _, a := range before {
			ids[a.ID] = true
		}
		for _, a := range allocs(t, c.addr(), "sleepers") {
			if a.DesiredStatus == api.AllocDesiredRun && !ids[a.ID] {
				t.Fatalf("allocation %s is new: the tasks were replaced, not re-attached", a.ID)
			}
		}
		faultLog(t, "node agent killed -9 and started again: its 2 tasks re-attached (same PIDs, nothing replaced) %v after the kill",
			time.Since(killed).Round(100*time.Millisecond))
		mustNctl(t, c.addr(), dir, "delete", "job", "sleepers")
	})

	run("jobs race for tight nodes", func(t *testing.T) {
		c.t = t
		// Each hollow node (1000 MHz, 1000 MiB) fits one of these
		// beside what it runs: 12 of the 20 are placed, none twice, no
		// node over capacity, the rest wait.
		var wg sync.WaitGroup
		errs := make(chan string, 20)
		for i := 0; i < 20; i++ {
			file := sizedMockJob(t, dir, fmt.Sprintf("tight%02d", i), 1, 600, 600)
			wg.Add(1)
			go func(addr string) {
				defer wg.Done()
				if out, errOut, code := nctl(t, addr, dir, "apply", "--detach", "-f", file); code != 0 {
					errs <- out + errOut
				}
			}(c.addrs[i%3])
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("apply: %s", e)
		}
		d := c.converge("tight jobs", total+hollowNodes, 60*time.Second)
		// Give the scheduler time to overcommit if it would.
		time.Sleep(2 * time.Second)
		c.converge("tight jobs, later", total+hollowNodes, 5*time.Second)
		blocked := 0
		for i := 0; i < 20; i++ {
			if jobStatus(t, c.addr(), fmt.Sprintf("tight%02d", i)) == api.JobStatusPending {
				blocked++
			}
		}
		if blocked != 20-hollowNodes {
			t.Fatalf("%d jobs pending for capacity, want %d", blocked, 20-hollowNodes)
		}
		faultLog(t, "20 jobs submitted at once to 3 servers for %d nodes with room for one each: %d placed in %v, none twice, no node over capacity, %d pending",
			hollowNodes, hollowNodes, d.Round(100*time.Millisecond), blocked)
		for i := 0; i < 20; i++ {
			mustNctl(t, c.addr(), dir, "delete", "job", fmt.Sprintf("tight%02d", i))
		}
		c.converge("tight jobs deleted", total, 30*time.Second)
	})

	run("etcd freezes for longer than the node TTL", func(t *testing.T) {
		c.t = t
		before := c.liveAllocs()
		for _, m := range c.members {
			m.signal(t, syscall.SIGSTOP)
		}
		time.Sleep(8 * time.Second)
		for _, m := range c.members {
			m.signal(t, syscall.SIGCONT)
		}
		resumed := time.Now()
		eventually(t, 30*time.Second, func() (bool, string) {
			out, errOut, code := nctl(t, c.addr(), "", "get", "jobs")
			return code == 0, out + errOut
		})
		apiBack := time.Since(resumed)
		waitReadyNodes(t, c.addr(), hollowNodes+1)
		nodesBack := time.Since(resumed)
		// Let any rescheduling that would happen happen.
		time.Sleep(5 * time.Second)
		c.sameAllocs("after etcd froze for 8 s", before)
		c.converge("after etcd froze", total, 10*time.Second)
		faultLog(t, "etcd frozen 8 s (node TTL 4 s): API answered %v after etcd resumed, all %d nodes ready after %v, 0 of %d allocations replaced",
			apiBack.Round(100*time.Millisecond), hollowNodes+1, nodesBack.Round(100*time.Millisecond), len(before))
	})

	run("hostile requests", func(t *testing.T) {
		c.t = t
		n, fourxx := hostileRequests(t, c.addrs, 300)
		file := mockJob(t, dir, "after-hostile", 2)
		mustNctl(t, c.addr(), dir, "apply", "-f", file)
		total += 2
		c.converge("after the hostile requests", total, 30*time.Second)
		faultLog(t, "%d hostile requests: %d answered 4xx with a JSON error, none 500; the cluster schedules after them", n, fourxx)
	})

	run("etcd loses a member, then its leader", func(t *testing.T) {
		c.t = t
		before := c.liveAllocs()
		lead := etcdLeader(t, c.members)
		var follower *etcdMember
		for _, m := range c.members {
			if m != lead {
				follower = m
				break
			}
		}
		follower.p.stop(t, syscall.SIGKILL, 5*time.Second)
		began := time.Now()
		file := mockJob(t, dir, "one-member-down", 2)
		mustNctl(t, c.addr(), dir, "apply", "-f", file)
		total += 2
		c.converge("with one etcd member down", total, 30*time.Second)
		faultLog(t, "one of 3 etcd members killed: a job applied and running %v later", time.Since(began).Round(100*time.Millisecond))

		// Then the leader: no quorum. Writes fail, plainly and soon.
		before = c.liveAllocs()
		lead.p.stop(t, syscall.SIGKILL, 5*time.Second)
		lost := time.Now()
		file = mockJob(t, dir, "no-quorum", 2)
		_, errOut, code := nctl(t, c.addr(), dir, "apply", "--detach", "-f", file)
		if code == 0 {
			t.Fatal("a job was accepted without an etcd quorum")
		}
		failedIn := time.Since(lost)
		if errOut == "" {
			t.Fatal("apply failed without saying why")
		}
		time.Sleep(3 * time.Second)
		follower.start(c.root)
		lead.start(c.root)
		restarted := time.Now()
		eventually(t, 60*time.Second, func() (bool, string) {
			out, errOut, code := nctl(t, c.addr(), dir, "apply", "--detach", "-f", file)
			return code == 0, out + errOut
		})
		writable := time.Since(restarted)
		total += 2
		c.converge("after etcd's quorum came back", total, 60*time.Second)
		waitReadyNodes(t, c.addr(), hollowNodes+1)
		time.Sleep(3 * time.Second)
		c.sameAllocs("after etcd lost its quorum", before, "no-quorum")
		faultLog(t, "then the etcd leader killed (no quorum for %v): apply failed in %v with %q; writes worked %v after both members restarted; 0 of %d allocations replaced",
			restarted.Sub(lost).Round(100*time.Millisecond), failedIn.Round(100*time.Millisecond), firstLine(errOut), writable.Round(100*time.Millisecond), len(before))
	})
}

// jobStatus reads a job's status as nctl shows it.
func jobStatus(t *testing.T, addr, job string) string {
	t.Helper()
	out := mustNctl(t, addr, "", "get", "jobs", job, "-o", "json")
	var one api.Job
	if err := json.Unmarshal([]byte(out), &one); err == nil {
		return one.Status
	}
	var list []*api.Job
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("nctl get jobs %s -o json: %v\n%s", job, err, out)
	}
	return list[0].Status
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// hostileRequests sends n malformed, oversized, truncated, mistyped and
// path-traversing requests to the servers' APIs. Every answer must be
// below 500, and every 4xx a JSON object with an error. It returns how
// many were sent and how many got a 4xx.
func hostileRequests(t *testing.T, addrs []string, n int) (int, int) {
	rng := rand.New(rand.NewPCG(21, 21))
	valid := `{"job":{"id":"hostile","groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"mock","resources":{"cpu":10,"memory":10}}]}]}}`
	bodies := []func() string{
		func() string { return valid[:rng.IntN(len(valid))] },
		func() string { return valid + "}}}xyz" },
		func() string { return strings.Replace(valid, `"count":1`, `"count":1e300`, 1) },
		func() string { return strings.Replace(valid, `"count":1`, `"count":9223372036854775807`, 1) },
		func() string { return strings.Replace(valid, `"count":1`, `"count":null`, 1) },
		func() string { return strings.Replace(valid, `"count":1`, `"count":"many"`, 1) },
		func() string { return strings.Replace(valid, `"hostile"`, `"../../etc/passwd"`, 1) },
		func() string { return strings.Replace(valid, `"hostile"`, `"`+strings.Repeat("x", 5000)+`"`, 1) },
		func() string { return strings.Repeat("[", 100000) },
		func() string {
			return `{"job":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat("}", 5000) + `}`
		},
		func() string { return strings.Replace(valid, `"mock"`, `"`+strings.Repeat("é", 2000)+`"`, 1) },
		func() string { return `{"job":{"id":"big","meta":{"x":"` + strings.Repeat("y", 2<<20) + `"}}}` },
		func() string {
			b := []byte(valid)
			for i := 0; i < 5; i++ {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
			return string(b)
		},
		func() string { return "" },
		func() string { return "\x00\xff\xfe" },
	}
	type target struct{ method, path string }
	targets := []target{
		{"PUT", "/v1/jobs"}, {"POST", "/v1/jobs"}, {"POST", "/v1/jobs/parse"}, {"PUT", "/v1/job/hostile/plan"},
		{"POST", "/v1/job/hostile/dispatch"}, {"POST", "/v1/job/hostile/scale"}, {"POST", "/v1/job/hostile/revert"},
		{"PUT", "/v1/node/%s/drain"}, {"PUT", "/v1/node/%s/eligibility"}, {"POST", "/v1/node/%s/purge"},
		{"POST", "/v1/allocation/%s/stop"}, {"POST", "/v1/allocation/%s/restart"}, {"POST", "/v1/allocation/%s/signal"},
		{"GET", "/v1/job/%s"}, {"GET", "/v1/allocation/%s"}, {"GET", "/v1/client/fs/logs/%s"}, {"DELETE", "/v1/job/%s"},
		{"GET", "/v1/jobs?index=%s&wait=1s"}, {"GET", "/v1/event/stream?index=%s"}, {"PUT", "/v1/var/%s"},
	}
	ids := []string{"..%2f..%2fetc", "%00", strings.Repeat("a", 4096), "-1", "99999999999999999999", "🙂", "x/../../y", "*"}
	client := &http.Client{Timeout: 20 * time.Second}
	fourxx := 0
	for i := 0; i < n; i++ {
		tg := targets[rng.IntN(len(targets))]
		path := tg.path
		for strings.Contains(path, "%s") {
			path = strings.Replace(path, "%s", ids[rng.IntN(len(ids))], 1)
		}
		var body io.Reader
		if tg.method != "GET" && tg.method != "DELETE" {
			body = bytes.NewReader([]byte(bodies[rng.IntN(len(bodies))]()))
		}
		req, err := http.NewRequest(tg.method, "http://"+addrs[i%len(addrs)]+path, body)
		if err != nil {
			continue // not even a URL: no request to send
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			t.Fatalf("%s %s: %v", tg.method, path, err)
		}
		var b []byte
		if resp.StatusCode >= 400 || !strings.Contains(path, "event/stream") {
			// An accepted event stream holds the connection: its status
			// is what counts.
			b, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		}
		resp.Body.Close()
		cancel()
		// 501 is a located "not supported" (these servers have no
		// keyring, so no variables); any other 5xx is a defect.
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s %.80s: %d %s", tg.method, path, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 {
			if resp.StatusCode < 500 {
				fourxx++
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
				t.Fatalf("%s %.80s: %d without a JSON error: %.200q", tg.method, path, resp.StatusCode, b)
			}
		}
	}
	return n, fourxx
}

// singleEtcd starts one member of Debian's etcd and returns its client URL.
func singleEtcd(t *testing.T, extra ...string) string {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	clientAddr, peerAddr := freeAddr(t), freeAddr(t)
	start(t, etcdBin, append([]string{"--name", "one", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://" + clientAddr, "--advertise-client-urls", "http://" + clientAddr,
		"--listen-peer-urls", "http://" + peerAddr, "--initial-advertise-peer-urls", "http://" + peerAddr,
		"--initial-cluster", "one=http://" + peerAddr}, extra...)...)
	return "http://" + clientAddr
}

// putJob submits a job to the native API and returns the status and body.
func putJob(t *testing.T, addr, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/jobs", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFaultEtcdOutOfSpaceIsRefusedPlainlyAndRecovers fills etcd to its
// quota: writes answer 507 with what to do, nothing is half-written,
// reads still answer, and after `nomadic etcd-maintain -disarm` the
// cluster takes jobs again.
func TestFaultEtcdOutOfSpaceIsRefusedPlainlyAndRecovers(t *testing.T) {
	endpoint := singleEtcd(t, "--quota-backend-bytes", fmt.Sprint(24<<20))
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "s", "-etcd-endpoints", endpoint,
		"-http-addr", addr, "-data-dir", t.TempDir(), "-etcd-quota-bytes", fmt.Sprint(24<<20), "-etcd-request-timeout", "5s")
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver", "-node-name", "c",
		"-etcd-endpoints", endpoint, "-data-dir", t.TempDir(), "-client-http-addr", freeAddr(t))
	waitReadyNodes(t, addr, 1)
	big := strings.Repeat("x", 400<<10)
	job := func(i int) string {
		return fmt.Sprintf(`{"job":{"id":"filler","meta":{"n":"%d","pad":"%s"},"groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"mock","resources":{"cpu":10,"memory":10}}]}]}}`, i, big)
	}
	accepted, full := 0, ""
	for i := 0; i < 200 && full == ""; i++ {
		code, body := putJob(t, addr, job(i))
		switch {
		case code == http.StatusOK || code == http.StatusCreated:
			accepted++
		case code == http.StatusInsufficientStorage:
			full = body
		default:
			t.Fatalf("registration %d: %d %s", i, code, body)
		}
	}
	if full == "" {
		t.Fatalf("etcd never filled up after %d registrations", accepted)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(full), &e); err != nil || !strings.Contains(e.Error, "etcd-maintain") && !strings.Contains(e.Error, "compact") {
		t.Fatalf("507 without saying what to do: %s", full)
	}
	filledAt := time.Now()
	// Nothing half-written: the job is at the last accepted version.
	var got api.Job
	if err := json.Unmarshal([]byte(mustNctl(t, addr, "", "get", "jobs", "filler", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if int(got.Version) != accepted-1 || got.Meta["n"] != fmt.Sprint(accepted-1) {
		t.Fatalf("after %d accepted registrations the job is at version %d (meta n=%s)", accepted, got.Version, got.Meta["n"])
	}
	// A write through nctl says so plainly too.
	dir := t.TempDir()
	_, errOut, code := nctl(t, addr, dir, "apply", "--detach", "-f", mockJob(t, dir, "small", 1))
	if code == 0 || !strings.Contains(errOut, "full") {
		t.Fatalf("apply on a full etcd: exit %d: %s", code, errOut)
	}
	out, err := exec.Command(filepath.Join(binDir, "nomadic"), "etcd-maintain", "-etcd-endpoints", endpoint, "-disarm").CombinedOutput()
	if err != nil {
		t.Fatalf("etcd-maintain: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, dir, "apply", "--detach", "-f", mockJob(t, dir, "small", 1))
		return code == 0, out + errOut
	})
	waitRunning(t, addr, "small", 1)
	faultLog(t, "etcd out of space (24 MiB quota) after %d registrations of a 400 KiB job: 507 with what to do, nothing half-written; after etcd-maintain -disarm (%s) a job ran %v after the alarm",
		accepted, strings.TrimSpace(string(out)), time.Since(filledAt).Round(100*time.Millisecond))
}

// TestFaultANodeWhoseDataDirIsFull runs a node agent on a 4 MiB tmpfs
// and fills it: the agent stays up and ready, a task that cannot get its
// directory fails with the reason, and once there is room again tasks
// run.
func TestFaultANodeWhoseDataDirIsFull(t *testing.T) {
	dataDir := t.TempDir()
	if err := syscall.Mount("tmpfs", dataDir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (this fault needs root): %v", err)
	}
	// Registered before the processes start, so it runs after they stop.
	t.Cleanup(func() { _ = syscall.Unmount(dataDir, syscall.MNT_DETACH) })
	endpoint := singleEtcd(t)
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "s", "-etcd-endpoints", endpoint,
		"-http-addr", addr, "-data-dir", t.TempDir())
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec", "-node-name", "full",
		"-etcd-endpoints", endpoint, "-data-dir", dataDir, "-node-ttl", "4s", "-client-http-addr", freeAddr(t))
	waitReadyNodes(t, addr, 1)
	filler := filepath.Join(dataDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for i := 0; i < 128; i++ { // at most 8 MiB: the tmpfs holds 4
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	dir := t.TempDir()
	job := func(id string) string {
		src := fmt.Sprintf(`job %q {
  type = "batch"
  group "g" {
    # The node offers what its data dir had free when it started (4 MiB).
    ephemeral_disk {
      size = 1
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/hello.txt; sleep 300"]
      }
      # Rendering it is the agent's own write into the data dir.
      template {
        data        = "hello from a template\n"
        destination = "local/hello.txt"
      }
    }
  }
}
`, id)
		p := filepath.Join(dir, id+".hcl")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustNctl(t, addr, dir, "apply", "--detach", "-f", job("onfull"))
	var why string
	eventually(t, 30*time.Second, func() (bool, string) {
		var seen []string
		for _, a := range allocs(t, addr, "onfull") {
			seen = append(seen, a.ClientStatusOf())
			if a.Status == nil {
				continue
			}
			for name, ts := range a.Status.Tasks {
				for _, e := range ts.Events {
					seen = append(seen, fmt.Sprintf("%s: %s %s", name, e.Type, e.Message))
					if a.ClientStatusOf() == api.AllocClientFailed && strings.Contains(e.Message, "no space left on device") {
						why = e.Message
						return true, ""
					}
				}
			}
		}
		return false, fmt.Sprintf("no allocation failed for want of space: %q", seen)
	})
	// The agent itself lives on, heartbeating.
	time.Sleep(5 * time.Second)
	waitReadyNodes(t, addr, 1)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	mustNctl(t, addr, dir, "apply", "--detach", "-f", job("afterwards"))
	pids := taskPIDs(waitRunning(t, addr, "afterwards", 1))
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	faultLog(t, "node data dir full: the task failed with %q, the node stayed ready; with room again a task ran %v later",
		why, time.Since(freed).Round(100*time.Millisecond))
}

// TestFaultServersWhoseClocksAreOff runs three servers whose clocks are
// 30 s ahead, right and 30 s behind, the one ahead leading: jobs
// converge, a rolling update succeeds, and a killed node's allocations
// are replaced in its lease TTL, which etcd keeps, not the servers'
// clocks.
func TestFaultServersWhoseClocksAreOff(t *testing.T) {
	endpoint := singleEtcd(t)
	var addrs []string
	for i, off := range []string{"30s", "0s", "-30s"} {
		addr := freeAddr(t)
		start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", fmt.Sprintf("s%d", i), "-etcd-endpoints", endpoint,
			"-http-addr", addr, "-data-dir", t.TempDir(), "-server-ttl", "3s", "-clock-offset", off)
		addrs = append(addrs, addr)
		if i == 0 {
			// The one ahead leads.
			eventually(t, 30*time.Second, func() (bool, string) {
				out, errOut, _ := nctl(t, addr, "", "get", "servers", "-o", "json")
				var list []*api.Server
				_ = json.Unmarshal([]byte(out), &list)
				return len(list) == 1 && list[0].Leader, out + errOut
			})
		}
	}
	var clients []*proc
	for i := 0; i < 2; i++ {
		clients = append(clients, start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-mock-driver",
			"-node-name", fmt.Sprintf("c%d", i), "-etcd-endpoints", endpoint, "-data-dir", t.TempDir(), "-node-ttl", "3s",
			"-client-http-addr", freeAddr(t)))
	}
	waitReadyNodes(t, addrs[1], 2)
	dir := t.TempDir()
	src := func(version string) string {
		s := fmt.Sprintf(`job "skewed" {
  meta {
    v = %q
  }
  update {
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "30s"
  }
  group "g" {
    count = 4
    task "t" {
      driver = "mock"
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`, version)
		p := filepath.Join(dir, "skewed.hcl")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustNctl(t, addrs[2], dir, "apply", "-f", src("1"))
	waitRunning(t, addrs[1], "skewed", 4)
	began := time.Now()
	mustNctl(t, addrs[2], dir, "apply", "--detach", "-f", src("2"))
	eventually(t, 90*time.Second, func() (bool, string) {
		out := mustNctl(t, addrs[1], dir, "get", "deployments", "--job", "skewed", "-o", "json")
		var ds []*api.Deployment
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			return false, err.Error()
		}
		for _, d := range ds {
			if d.JobVersion == 1 {
				if d.Status == "failed" {
					t.Fatalf("the rolling update failed: %s", d.StatusDescription)
				}
				return d.Status == "successful", d.Status
			}
		}
		return false, "no deployment of version 1"
	})
	rolled := time.Since(began)
	// Kill a node: its allocations come back on the other in about its
	// lease TTL, whatever the servers' clocks say.
	clients[0].stop(t, syscall.SIGKILL, 5*time.Second)
	killed := time.Now()
	eventually(t, 60*time.Second, func() (bool, string) {
		running, lost := 0, 0
		for _, a := range allocs(t, addrs[0], "skewed") {
			switch {
			case a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning:
				running++
			case a.NodeLost:
				lost++
			}
		}
		return running == 4 && lost > 0, fmt.Sprintf("%d running, %d lost", running, lost)
	})
	replaced := time.Since(killed)
	if replaced > 20*time.Second {
		t.Fatalf("a killed node's allocations took %v to be replaced (lease TTL 3 s)", replaced)
	}
	faultLog(t, "server clocks +30 s (leader), 0, -30 s: a rolling update of 4 succeeded in %v; a killed node's allocations replaced %v after the kill (node TTL 3 s)",
		rolled.Round(100*time.Millisecond), replaced.Round(100*time.Millisecond))
}
