package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/controllers"
	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// cluster is a server and node agents in this process, on a real etcd.
type cluster struct {
	t      *testing.T
	store  *store.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newCluster(t *testing.T) *cluster {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/it")
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{t: t, store: st, cancel: cancel}
	srv := &controllers.Server{Store: st, Cfg: controllers.ServerConfig{
		Name: "s1", SessionTTL: 5 * time.Second, Workers: 2,
		GCInterval: 200 * time.Millisecond, GCAllocAge: time.Hour, LivenessResync: time.Second,
	}}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		srv.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		c.wg.Wait()
	})
	return c
}

// agent starts a node agent and returns a function that stops it.
func (c *cluster) agent(name string, stopTasks bool) (*nodeagent.Agent, context.CancelFunc) {
	a, err := nodeagent.New(c.store, nodeagent.Config{
		Name: name, DataDir: filepath.Join(c.t.TempDir(), name), TTL: 3 * time.Second,
		Drivers: []driver.Driver{&rawexec.Driver{Enabled: true}}, StopTasksOnShutdown: stopTasks,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	stop := func() {
		cancel()
		<-done
	}
	c.t.Cleanup(stop)
	select {
	case <-a.Ready():
	case <-time.After(10 * time.Second):
		c.t.Fatal("agent did not register")
	}
	return a, stop
}

func sleepJob(id string, count int) *api.Job {
	j := &api.Job{ID: id, Groups: []*api.TaskGroup{{Name: "g", Count: count, Tasks: []*api.Task{{
		Name: "t", Driver: "raw_exec", Config: map[string]any{"command": "sleep", "args": []any{"60"}},
		Resources: &api.Resources{CPU: 10, MemoryMB: 10}, KillTimeout: api.Duration(2 * time.Second)}}}}}
	j.Canonicalize()
	return j
}

func (c *cluster) allocs(job string) []*api.Allocation {
	allocs, err := c.store.ListAllocs(context.Background(), store.AllocFilter{Namespace: "default", JobID: job})
	if err != nil {
		c.t.Fatal(err)
	}
	return allocs
}

// waitStatus waits until the job has exactly want allocations in status,
// counting only those the servers want running when desiredRun is set.
func (c *cluster) waitStatus(job, status string, want int) []*api.Allocation {
	var got []*api.Allocation
	testutil.Eventually(c.t, 30*time.Second, func() (bool, string) {
		got = got[:0]
		for _, a := range c.allocs(job) {
			if a.ClientStatusOf() == status {
				got = append(got, a)
			}
		}
		return len(got) == want, fmt.Sprintf("%d allocations %s, want %d", len(got), status, want)
	})
	return got
}

func pids(allocs []*api.Allocation) []int {
	var out []int
	for _, a := range allocs {
		if a.Status != nil {
			for _, ts := range a.Status.Tasks {
				if ts.PID > 0 {
					out = append(out, ts.PID)
				}
			}
		}
	}
	return out
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !zombie(pid) }

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] == 'Z'
		}
	}
	return false
}

func TestJobRunsScalesAndStops(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	if _, err := c.store.RegisterJob(ctx, sleepJob("web", 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	running := c.waitStatus("web", api.AllocClientRunning, 3)
	for _, pid := range pids(running) {
		if !alive(pid) {
			t.Fatalf("task pid %d reported running but not alive", pid)
		}
	}

	if _, err := c.store.RegisterJob(ctx, sleepJob("web", 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	// Scaling changes the job version, which replaces allocations: one
	// of version 1 runs, the rest complete.
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		n := 0
		for _, a := range c.allocs("web") {
			if a.ClientStatusOf() == api.AllocClientRunning {
				n++
				if a.JobVersion != 1 {
					return false, "old version still running"
				}
			}
		}
		return n == 1, fmt.Sprintf("%d running", n)
	})

	if _, err := c.store.StopJob(ctx, "default", "web", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("web", api.AllocClientRunning, 0)
	all := c.allocs("web")
	for _, a := range all {
		if a.DesiredStatus != api.AllocDesiredStop {
			t.Errorf("allocation %s still desired %s", a.Name, a.DesiredStatus)
		}
	}
	for _, pid := range pids(all) {
		testutil.Eventually(t, 10*time.Second, func() (bool, string) { return !alive(pid), fmt.Sprintf("pid %d alive", pid) })
	}
}

func TestPurgedJobIsGarbageCollected(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	if _, err := c.store.RegisterJob(ctx, sleepJob("batchy", 2), time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("batchy", api.AllocClientRunning, 2)
	if _, err := c.store.StopJob(ctx, "default", "batchy", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		n := len(c.allocs("batchy"))
		return n == 0, fmt.Sprintf("%d allocations left", n)
	})
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		evals, err := c.store.ListEvals(ctx, "default", "batchy")
		return err == nil && len(evals) == 0, fmt.Sprintf("%d evaluations left", len(evals))
	})
}

func TestAllocationsOfADeadNodeAreReplacedElsewhere(t *testing.T) {
	c := newCluster(t)
	_, stopA := c.agent("a", false)
	ctx := context.Background()
	if _, err := c.store.RegisterJob(ctx, sleepJob("svc", 2), time.Now()); err != nil {
		t.Fatal(err)
	}
	onA := c.waitStatus("svc", api.AllocClientRunning, 2)
	// The orphaned processes of node a are ours to clean up.
	t.Cleanup(func() {
		for _, pid := range pids(onA) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	b, _ := c.agent("b", true)
	stopA()
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		lost, onB := 0, 0
		for _, a := range c.allocs("svc") {
			switch {
			case a.ClientStatusOf() == api.AllocClientLost:
				lost++
			case a.NodeID == b.NodeID() && a.ClientStatusOf() == api.AllocClientRunning:
				onB++
			}
		}
		return lost == 2 && onB == 2, fmt.Sprintf("%d lost, %d running on b", lost, onB)
	})
}

func TestUnplaceableJobIsBlockedThenPlacedWhenANodeJoins(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	resp, err := c.store.RegisterJob(ctx, sleepJob("later", 1), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		evals, _ := c.store.ListEvals(ctx, "default", "later")
		for _, e := range evals {
			if e.ID == resp.EvalID && e.Status == api.EvalStatusBlocked && e.FailedTGAllocs["g"] != nil {
				return true, ""
			}
		}
		return false, "evaluation not blocked"
	})
	c.agent("n1", true)
	c.waitStatus("later", api.AllocClientRunning, 1)
}
