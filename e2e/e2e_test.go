// Package e2e starts the real nomadic binaries the way a user would and
// drives them through nctl.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nomadic-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/nomadic", "../cmd/nctl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// handedOut are the addresses freeAddr gave: the kernel may give a port
// again once its listener closed, and one etcd got the same port for its
// client and peer URLs.
var (
	handedMu  sync.Mutex
	handedOut = map[string]bool{}
)

func freeAddr(t *testing.T) string {
	t.Helper()
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut[addr] {
			handedOut[addr] = true
			return addr
		}
	}
	t.Fatal("no free port not given before in 1000 tries")
	return ""
}

// proc is a process started by a test; it is stopped when the test ends.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process exited
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t, syscall.SIGINT, 20*time.Second)
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
		}
	})
	return p
}

// stop sends sig and waits for the process, killing it after timeout.
func (p *proc) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Errorf("%s did not exit %v after %v; killing it", p.cmd.Path, timeout, sig)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// nctl runs nctl against addr and returns its stdout, stderr and exit code.
func nctl(t *testing.T, addr, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if addr != "" {
		args = append([]string{"--addr", addr}, args...)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "nctl"), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running nctl: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

func mustNctl(t *testing.T, addr, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := nctl(t, addr, dir, args...)
	if code != 0 {
		t.Fatalf("nctl %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allocs(t *testing.T, addr, job string) []*api.Allocation {
	t.Helper()
	out := mustNctl(t, addr, "", "get", "allocs", "--job", job, "-o", "json")
	var list []*api.Allocation
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("decoding nctl get allocs -o json: %v\n%s", err, out)
	}
	return list
}

func taskPIDs(list []*api.Allocation) []int {
	var pids []int
	for _, a := range list {
		if a.Status == nil {
			continue
		}
		for _, ts := range a.Status.Tasks {
			if ts.PID > 0 {
				pids = append(pids, ts.PID)
			}
		}
	}
	return pids
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) <= i+2 || s[i+2] != 'Z'
}

func waitRunning(t *testing.T, addr, job string, want int) []*api.Allocation {
	t.Helper()
	var running []*api.Allocation
	eventually(t, 60*time.Second, func() (bool, string) {
		running = running[:0]
		for _, a := range allocs(t, addr, job) {
			if a.ClientStatusOf() == api.AllocClientRunning {
				running = append(running, a)
			}
		}
		return len(running) == want, fmt.Sprintf("%d allocations running, want %d", len(running), want)
	})
	return running
}

// devAgent starts `nomadic agent -dev` on free ports and waits for its
// API and its node.
func devAgent(t *testing.T) (string, *proc) {
	addr, _, p := devAgentWithNomadAPI(t)
	return addr, p
}

// devAgentWithNomadAPI is devAgent that also says where the agent serves
// Nomad's API.
func devAgentWithNomadAPI(t *testing.T, extra ...string) (string, string, *proc) {
	addr, nomadAddr := freeAddr(t), freeAddr(t)
	args := append([]string{"agent", "-dev",
		"-http-addr", addr, "-nomad-http-addr", nomadAddr, "-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t),
		"-data-dir", t.TempDir()}, extra...)
	p := start(t, filepath.Join(binDir, "nomadic"), args...)
	waitReadyNodes(t, addr, 1)
	return addr, nomadAddr, p
}

func waitReadyNodes(t *testing.T, addr string, want int) {
	t.Helper()
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "get", "nodes", "-o", "json")
		if code != 0 {
			return false, errOut
		}
		var nodes []*api.Node
		if err := json.Unmarshal([]byte(out), &nodes); err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == api.NodeStatusReady {
				ready++
			}
		}
		return ready == want, fmt.Sprintf("%d nodes ready", ready)
	})
}

// TestDevAgentRunsAJobAndStopsIt is the walkthrough of the README: job
// init, apply with count 3, the processes run, delete, they are gone.
func TestDevAgentRunsAJobAndStopsIt(t *testing.T) {
	addr, agent := devAgent(t)
	dir := t.TempDir()
	mustNctl(t, addr, dir, "job", "init")
	src, err := os.ReadFile(filepath.Join(dir, "example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("count = 2"), []byte("count = 3"), 1)
	if err := os.WriteFile(filepath.Join(dir, "example.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustNctl(t, addr, dir, "apply", "-f", "example.hcl")
	if !strings.Contains(out, "job/example created") || !strings.Contains(out, "job/example: 3/3 running") || !strings.Contains(out, "job/example is up") {
		t.Fatalf("apply output: %q", out)
	}
	running := waitRunning(t, addr, "example", 3)
	pids := taskPIDs(running)
	if len(pids) != 3 {
		t.Fatalf("want 3 task pids, got %v", pids)
	}
	for _, pid := range pids {
		if !processAlive(pid) {
			t.Fatalf("task process %d is not running", pid)
		}
	}
	table := mustNctl(t, addr, dir, "get", "allocs")
	if strings.Count(table, "running") != 3 || !strings.Contains(table, "example.web[2]") {
		t.Fatalf("get allocs table:\n%s", table)
	}
	if out := mustNctl(t, addr, dir, "apply", "-f", "example.hcl"); !strings.Contains(out, "unchanged") {
		t.Fatalf("second apply: %q", out)
	}
	// Logs come from the node through the server's API.
	first := running[0]
	eventually(t, 20*time.Second, func() (bool, string) {
		out, errOut, _ := nctl(t, addr, dir, "logs", first.ID[:8])
		return strings.Contains(out, "hello from "+first.Name), out + errOut
	})
	if out := mustNctl(t, addr, dir, "logs", first.ID[:8], "server", "--tail", "1"); strings.Count(out, "\n") != 1 {
		t.Fatalf("logs --tail 1: %q", out)
	}
	if _, errOut, code := nctl(t, addr, dir, "logs", "ffffffff"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("logs of a missing allocation: %d %q", code, errOut)
	}
	if out := mustNctl(t, addr, dir, "alloc", "fs", first.ID[:8], "alloc/logs"); !strings.Contains(out, "server.stdout.0") {
		t.Fatalf("alloc fs: %q", out)
	}
	// Paths are taken from the allocation's root: ".." cannot leave it.
	if out := mustNctl(t, addr, dir, "alloc", "fs", first.ID[:8], "../../.."); !strings.Contains(out, "alloc/") || !strings.Contains(out, "server/") {
		t.Fatalf("alloc fs ../../..: %q", out)
	}
	if _, errOut, code := nctl(t, addr, dir, "alloc", "fs", first.ID[:8], "nope"); code == 0 || !strings.Contains(errOut, "no such file or directory") {
		t.Fatalf("alloc fs of a missing directory: %d %q", code, errOut)
	}
	// describe shows what the running task uses.
	if out := mustNctl(t, addr, dir, "describe", "alloc", first.ID[:8]); !strings.Contains(out, "Using: cpu ") || !strings.Contains(out, "MiB") {
		t.Fatalf("describe alloc without usage:\n%s", out)
	}
	// A command runs beside a raw_exec task, with its environment.
	if out, _, code := nctl(t, addr, dir, "alloc", "exec", first.ID[:8], "--", "sh", "-c", `echo "alloc=$NOMAD_ALLOC_ID"; exit 5`); code != 5 || !strings.Contains(out, "alloc="+first.ID) {
		t.Fatalf("alloc exec: exit %d, %q", code, out)
	}
	// A file is printed.
	if out := mustNctl(t, addr, dir, "alloc", "fs", first.ID[:8], "alloc/logs/server.stdout.0"); !strings.Contains(out, "hello from "+first.Name) {
		t.Fatalf("alloc fs of a log file: %q", out)
	}

	mustNctl(t, addr, dir, "delete", "job", "example")
	for _, pid := range pids {
		eventually(t, 30*time.Second, func() (bool, string) {
			return !processAlive(pid), fmt.Sprintf("process %d still running", pid)
		})
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		out := mustNctl(t, addr, dir, "get", "jobs")
		return strings.Contains(out, "dead"), out
	})

	// Ctrl-C stops the agent and every task it started.
	mustNctl(t, addr, dir, "apply", "-f", "example.hcl")
	pids = taskPIDs(waitRunning(t, addr, "example", 3))
	agent.stop(t, syscall.SIGINT, 30*time.Second)
	for _, pid := range pids {
		eventually(t, 10*time.Second, func() (bool, string) {
			return !processAlive(pid), fmt.Sprintf("process %d outlived the dev agent", pid)
		})
	}
}

func TestNctlAgainstAStoppedAgentFailsClearly(t *testing.T) {
	addr := freeAddr(t) // nothing listens here
	_, errOut, code := nctl(t, addr, "", "get", "jobs")
	if code == 0 {
		t.Fatal("nctl exited 0 with no agent")
	}
	if !strings.Contains(errOut, "cannot reach the nomadic server") {
		t.Fatalf("unclear error: %q", errOut)
	}
}

func TestNctlReportsBadJobFilesWithTheirPlace(t *testing.T) {
	dir := t.TempDir()
	bad := "job \"x\" {\n  group \"g\" {\n    count = -1\n    task \"t\" {\n      driver = \"raw_exec\"\n      colour = \"red\"\n    }\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := nctl(t, freeAddr(t), dir, "validate", "bad.hcl")
	if code == 0 {
		t.Fatal("validate accepted a bad file")
	}
	for _, want := range []string{"bad.hcl:3:13: count -1 must not be negative", "bad.hcl:6:7: Unsupported argument"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut)
		}
	}
	// apply checks the file before it talks to any server.
	_, errOut, code = nctl(t, freeAddr(t), dir, "apply", "-f", "bad.hcl")
	if code == 0 || !strings.Contains(errOut, "bad.hcl:3:13") || strings.Contains(errOut, "cannot reach") {
		t.Fatalf("apply of a bad file: exit %d: %s", code, errOut)
	}
}

// TestServerAndClientOnAnExternalEtcd runs etcd as its own process and the
// server and the node agent as two more.
func TestServerAndClientOnAnExternalEtcd(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	clientAddr, peerAddr := freeAddr(t), freeAddr(t)
	start(t, etcdBin, "--name", "e2e", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+clientAddr, "--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr, "--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "e2e=http://"+peerAddr)
	endpoints := "http://" + clientAddr
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "server-1",
		"-etcd-endpoints", endpoints, "-etcd-prefix", "/e2e", "-http-addr", addr, "-data-dir", t.TempDir())
	clientDir := t.TempDir()
	client := start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec", "-node-name", "client-1",
		"-etcd-endpoints", endpoints, "-etcd-prefix", "/e2e", "-data-dir", clientDir, "-node-ttl", "8s")
	waitReadyNodes(t, addr, 1)

	dir := t.TempDir()
	job := `job "ext" {
  group "g" {
    count = 2
    task "sleeper" {
      driver = "raw_exec"
      config {
        command = "sleep"
        args    = ["120"]
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "ext.hcl"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "-f", "ext.hcl")
	running := waitRunning(t, addr, "ext", 2)
	pids := taskPIDs(running)
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	members := mustNctl(t, addr, dir, "server", "members")
	if !strings.Contains(members, "server-1") || !strings.Contains(members, "true") {
		t.Fatalf("server members:\n%s", members)
	}

	// A client restarted within its lease TTL re-attaches to its tasks:
	// same processes, no new allocations.
	clientArgs := []string{"agent", "-client", "-enable-raw-exec", "-node-name", "client-1",
		"-etcd-endpoints", endpoints, "-etcd-prefix", "/e2e", "-data-dir", clientDir, "-node-ttl", "8s"}
	client.stop(t, syscall.SIGTERM, 20*time.Second)
	for _, pid := range pids {
		if !processAlive(pid) {
			t.Fatalf("task %d died with its client", pid)
		}
	}
	client = start(t, filepath.Join(binDir, "nomadic"), clientArgs...)
	eventually(t, 20*time.Second, func() (bool, string) {
		list := allocs(t, addr, "ext")
		for _, a := range list {
			if a.Status == nil || a.ClientStatusOf() != api.AllocClientRunning {
				return false, "not all running"
			}
			for _, ts := range a.Status.Tasks {
				if len(ts.Events) == 0 || ts.Events[len(ts.Events)-1].Type != "Reattached" {
					return false, "not re-attached yet"
				}
			}
		}
		return len(list) == 2, fmt.Sprintf("%d allocations", len(list))
	})
	got := taskPIDs(allocs(t, addr, "ext"))
	sort.Ints(got)
	sort.Ints(pids)
	if fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Fatalf("pids after restart %v, before %v", got, pids)
	}

	// A client killed outright goes down when its lease expires.
	client.stop(t, syscall.SIGKILL, 20*time.Second)
	eventually(t, 30*time.Second, func() (bool, string) {
		out := mustNctl(t, addr, dir, "get", "nodes")
		return strings.Contains(out, "down"), out
	})
}

func TestPlanShowsChangesAndExplainsFailures(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	job := `job "planned" {
  group "g" {
    count = 3
    task "t" {
      driver = "raw_exec"
      config {
        command = "sleep"
        args    = ["60"]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`
	path := filepath.Join(dir, "planned.hcl")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := nctl(t, addr, dir, "plan", "-f", path)
	if code != 1 || !strings.Contains(out, `+ job "planned" (created)`) || !strings.Contains(out, `group "g": 3 place`) {
		t.Fatalf("plan of a new job: exit %d\n%s%s", code, out, errOut)
	}
	// A watcher started before the apply sees the allocations appear
	// and run. (Whether it also catches them pending depends on timing:
	// an agent may report running before the watcher reads again.)
	watcher := start(t, filepath.Join(binDir, "nctl"), "--addr", addr, "get", "allocs", "-w")
	mustNctl(t, addr, dir, "apply", "-f", path)
	waitRunning(t, addr, "planned", 3)
	t.Cleanup(func() { nctl(t, addr, dir, "delete", "job", "planned") })
	eventually(t, 20*time.Second, func() (bool, string) {
		out := watcher.out.String()
		return strings.Count(out, "running") >= 3 && strings.Count(out, "NAME") == 1, out
	})
	watcher.stop(t, syscall.SIGINT, 10*time.Second)
	out, _, code = nctl(t, addr, dir, "plan", "-f", path)
	if code != 0 || !strings.Contains(out, "(unchanged)") {
		t.Fatalf("plan of an applied job: exit %d\n%s", code, out)
	}
	scaled := strings.Replace(job, "count = 3", "count = 5", 1)
	scaled = strings.Replace(scaled, "resources {", "constraint {\n        attribute = \"${attr.kernel.name}\"\n        value = \"windows\"\n      }\n      resources {", 1)
	if err := os.WriteFile(path, []byte(scaled), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = nctl(t, addr, dir, "plan", "-f", path)
	for _, want := range []string{`~ groups[0].count: 3 => 5`, "cannot place", "filtered by constraint ${attr.kernel.name} = windows"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	if code != 1 {
		t.Errorf("plan with changes exited %d", code)
	}
}

// TestApplyReturnsAsSoonAsTheAllocationsRun checks that apply's follow
// loop wakes on the change it waits for: it once blocked on the
// allocations' index while what it lacked was the evaluation's end, and
// returned only after its 10 s wait.
func TestApplyReturnsAsSoonAsTheAllocationsRun(t *testing.T) {
	addr, _ := devAgent(t)
	dir := t.TempDir()
	for i := range 10 {
		src := fmt.Sprintf(`job "quick" {
  group "g" {
    count = 3
    task "t" {
      driver = "raw_exec"
      config {
        command = "sleep"
        args    = ["300"]
      }
      env {
        RUN = "%d"
      }
    }
  }
}
`, i)
		if err := os.WriteFile(filepath.Join(dir, "quick.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		mustNctl(t, addr, dir, "apply", "-f", "quick.hcl")
		if d := time.Since(began); d > 6*time.Second {
			t.Fatalf("apply %d took %s: its follow loop waited on the wrong change", i, d)
		}
	}
	mustNctl(t, addr, dir, "delete", "job", "quick")
}
