package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// sleeperJob is a raw_exec job whose task is a shell with a child, so
// that a task's whole process group is what must die.
func sleeperJob(t *testing.T, dir, id string) string {
	src := fmt.Sprintf(`job %q {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 300; true"]
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

// groupAlive reports whether any process of the process group lives.
func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func TestADevAgentsTasksDieWithItHoweverItEnds(t *testing.T) {
	addr, agent := devAgent(t)
	dir := t.TempDir()
	mustNctl(t, addr, dir, "apply", "-f", sleeperJob(t, dir, "dies"))
	pids := taskPIDs(waitRunning(t, addr, "dies", 1))
	if len(pids) != 1 || !groupAlive(pids[0]) {
		t.Fatalf("task pids %v", pids)
	}
	// kill -9: no shutdown runs at all.
	agent.stop(t, syscall.SIGKILL, 20*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		return !groupAlive(pids[0]), fmt.Sprintf("process group %d of the task outlived its dev agent", pids[0])
	})
}

func TestADevAgentSurvivesABrokenLogPipeAndStopsOnSIGHUP(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(filepath.Join(binDir, "nomadic"), "agent", "-dev", "-http-addr", addr,
		"-nomad-http-addr", freeAddr(t), "-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// done is closed when the agent has exited, with its result in
	// waitErr; every select below may read it, and so may the cleanup.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// Read its log until it is up, then close the pipe as a Ctrl-C'd
	// `tee` would.
	buf := make([]byte, 4096)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_ = r.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = r.Read(buf)
		if _, _, code := nctl(t, addr, "", "get", "nodes"); code == 0 {
			break
		}
	}
	waitReadyNodes(t, addr, 1)
	dir := t.TempDir()
	mustNctl(t, addr, dir, "apply", "-f", sleeperJob(t, dir, "piped"))
	pids := taskPIDs(waitRunning(t, addr, "piped", 1))
	r.Close()
	// It logs into the broken pipe, and lives on.
	for range 3 {
		nctl(t, addr, dir, "get", "allocs")
	}
	select {
	case <-done:
		t.Fatalf("the agent died of its broken log pipe: %v", waitErr)
	case <-time.After(2 * time.Second):
	}
	// SIGHUP (a closed terminal) shuts it down like Ctrl-C: it stops its
	// tasks and exits 0.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("exit after SIGHUP: %v", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop on SIGHUP")
	}
	if len(pids) != 1 {
		t.Fatalf("task pids %v", pids)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		return !groupAlive(pids[0]), fmt.Sprintf("process group %d of the task outlived its agent", pids[0])
	})
}
