package controllers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/controllers"
	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// cluster is a server and node agents in this process, on a real etcd.
type cluster struct {
	t      testing.TB
	store  *store.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newCluster(t testing.TB) *cluster {
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
func (c *cluster) agent(name string, stopTasks bool, extra ...driver.Driver) (*nodeagent.Agent, context.CancelFunc) {
	return c.agentIn(name, filepath.Join(c.t.TempDir(), name), stopTasks, extra...)
}

// agentIn starts a node agent on a given data directory.
func (c *cluster) agentIn(name, dir string, stopTasks bool, extra ...driver.Driver) (*nodeagent.Agent, context.CancelFunc) {
	a, err := nodeagent.New(c.store, nodeagent.Config{
		Name: name, DataDir: dir, TTL: 3 * time.Second,
		Drivers: append([]driver.Driver{&rawexec.Driver{Enabled: true}}, extra...), StopTasksOnShutdown: stopTasks,
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
	j := sleepJob("batchy", 2)
	j.Update = &api.UpdateStrategy{MaxParallel: 1}
	j.Canonicalize()
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("batchy", api.AllocClientRunning, 2)
	if ds, err := c.store.ListDeployments(ctx, "default", "batchy"); err != nil || len(ds) != 1 {
		t.Fatalf("deployments before the purge: %d %v", len(ds), err)
	}
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
	if ds, err := c.store.ListDeployments(ctx, "default", "batchy"); err != nil || len(ds) != 0 {
		t.Fatalf("deployments after the purge: %d %v", len(ds), err)
	}
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

func shJob(id, script string, count int, mods ...func(*api.Job)) *api.Job {
	j := &api.Job{ID: id, Groups: []*api.TaskGroup{{Name: "g", Count: count, Tasks: []*api.Task{{
		Name: "t", Driver: "raw_exec", Config: map[string]any{"command": "sh", "args": []any{"-c", script}},
		Resources: &api.Resources{CPU: 10, MemoryMB: 10}, KillTimeout: api.Duration(2 * time.Second)}}}}}
	for _, m := range mods {
		m(j)
	}
	j.Canonicalize()
	return j
}

func TestFailedAllocationIsRescheduledPerPolicy(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	j := shJob("flaky", "exit 3", 1, func(j *api.Job) {
		j.Groups[0].Reschedule = &api.ReschedulePolicy{Attempts: 1, Interval: api.Duration(time.Hour), Delay: api.Duration(time.Second), DelayFunction: "constant"}
		j.Groups[0].Restart = &api.RestartPolicy{Attempts: 1, Interval: api.Duration(time.Minute), Delay: api.Duration(200 * time.Millisecond), Mode: "fail"}
	})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The first fails (after one restart in place), is replaced after its
	// 1s delay, the replacement fails too, and the single reschedule
	// attempt is used up: two allocations in all.
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		all := c.allocs("flaky")
		failed := 0
		for _, a := range all {
			if a.ClientStatusOf() == api.AllocClientFailed {
				failed++
			}
		}
		return len(all) == 2 && failed == 2, fmt.Sprintf("%d allocations, %d failed", len(all), failed)
	})
	all := c.allocs("flaky")
	first, second := all[0], all[1]
	if first.PreviousAllocation != "" {
		first, second = second, first
	}
	if second.PreviousAllocation != first.ID || first.NextAllocation != second.ID || len(second.RescheduleTracker) != 1 {
		t.Fatalf("reschedule chain: %+v / %+v", first, second)
	}
	// Each was restarted in place once before failing for good.
	for _, a := range all {
		if ts := a.Status.Tasks["t"]; ts.Restarts != 1 || !ts.Failed || *ts.ExitCode != 3 {
			t.Fatalf("task state of %s: %+v", a.Name, ts)
		}
	}
	time.Sleep(2 * time.Second)
	if n := len(c.allocs("flaky")); n != 2 {
		t.Fatalf("rescheduled beyond its attempts: %d allocations", n)
	}
}

func TestSystemJobFollowsNodes(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	c.agent("n2", true)
	ctx := context.Background()
	j := sleepJob("sys", 1)
	j.Type = api.JobTypeSystem
	j.Canonicalize()
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("sys", api.AllocClientRunning, 2)
	c.agent("n3", true)
	c.waitStatus("sys", api.AllocClientRunning, 3)
	nodes := map[string]bool{}
	for _, a := range c.allocs("sys") {
		nodes[a.NodeID] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("system allocations on %d nodes", len(nodes))
	}
	// A system job registered after the liveness controller last read
	// the jobs (for n3) reaches a node that comes later.
	j2 := sleepJob("sys2", 1)
	j2.Type = api.JobTypeSystem
	j2.Canonicalize()
	if _, err := c.store.RegisterJob(ctx, j2, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("sys2", api.AllocClientRunning, 3)
	c.agent("n4", true)
	c.waitStatus("sys", api.AllocClientRunning, 4)
	c.waitStatus("sys2", api.AllocClientRunning, 4)
}

func TestRollingUpdateReplacesOneAtATime(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	upd := func(v string) func(*api.Job) {
		return func(j *api.Job) {
			// Zero durations take the defaults when stored (10 s of
			// min_healthy_time); a millisecond keeps the test quick.
			j.Update = &api.UpdateStrategy{MaxParallel: 1, MinHealthyTime: api.Duration(time.Millisecond)}
			j.Groups[0].Tasks[0].Env = map[string]string{"V": v}
		}
	}
	if _, err := c.store.RegisterJob(ctx, shJob("roll", "sleep 60", 3, upd("1")), time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("roll", api.AllocClientRunning, 3)
	if _, err := c.store.RegisterJob(ctx, shJob("roll", "sleep 60", 3, upd("2")), time.Now()); err != nil {
		t.Fatal(err)
	}
	maxPending := 0
	testutil.Eventually(t, 60*time.Second, func() (bool, string) {
		newRunning, pendingNew := 0, 0
		for _, a := range c.allocs("roll") {
			if a.JobVersion == 1 && a.DesiredStatus == api.AllocDesiredRun {
				switch a.ClientStatusOf() {
				case api.AllocClientRunning:
					newRunning++
				case api.AllocClientPending:
					pendingNew++
				}
			}
		}
		maxPending = max(maxPending, pendingNew)
		return newRunning == 3, fmt.Sprintf("%d of version 1 running", newRunning)
	})
	if maxPending > 1 {
		t.Fatalf("%d replacements were pending at once with max_parallel 1", maxPending)
	}
	c.waitStatus("roll", api.AllocClientRunning, 3)
}

func TestLifecycleHooksRunInOrderAndTheLeaderEndsTheGroup(t *testing.T) {
	c := newCluster(t)
	agent, _ := c.agent("n1", true)
	ctx := context.Background()
	task := func(name, hook string, sidecar, leader bool, script string) *api.Task {
		t := &api.Task{Name: name, Driver: "raw_exec", Leader: leader,
			Config:    map[string]any{"command": "sh", "args": []any{"-c", script}},
			Resources: &api.Resources{CPU: 10, MemoryMB: 10}, KillTimeout: api.Duration(time.Second)}
		if hook != "" {
			t.Lifecycle = &api.Lifecycle{Hook: hook, Sidecar: sidecar}
		}
		return t
	}
	log := `echo $NOMAD_TASK_NAME >> $NOMAD_ALLOC_DIR/order`
	j := &api.Job{ID: "hooks", Type: api.JobTypeBatch, Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{
		task("setup", "prestart", false, false, log+"; sleep 0.3"),
		task("proxy", "prestart", true, false, "sleep 60"),
		task("main", "", false, true, "sleep 0.5; "+log),
		task("other", "", false, false, "sleep 60"),
		task("announce", "poststart", false, false, log),
		task("cleanup", "poststop", false, false, log),
	}}}}
	j.Canonicalize()
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	done := c.waitStatus("hooks", api.AllocClientComplete, 1)
	b, err := os.ReadFile(filepath.Join(agent.AllocDir(done[0].ID), "alloc", "order"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, ",") != "setup,announce,main,cleanup" {
		t.Fatalf("order of tasks: %v", got)
	}
	for name, ts := range done[0].Status.Tasks {
		if ts.State != api.TaskStateDead || ts.Failed {
			t.Errorf("task %s: %+v", name, ts)
		}
	}
}

func TestDrainMigratesAllocationsAndLeavesTheNodeIneligible(t *testing.T) {
	c := newCluster(t)
	a, _ := c.agent("a", true)
	ctx := context.Background()
	mig := sleepJob("mig", 3)
	mig.Groups[0].Migrate = &api.MigrateStrategy{MaxParallel: 1, HealthCheck: "task_states",
		MinHealthyTime: api.Duration(500 * time.Millisecond), HealthyDeadline: api.Duration(30 * time.Second)}
	if _, err := c.store.RegisterJob(ctx, mig, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("mig", api.AllocClientRunning, 3)
	b, _ := c.agent("b", true)
	srv := httptest.NewServer((&httpapi.Server{Store: c.store}).Handler())
	defer srv.Close()
	cl := client.New(srv.URL)
	if _, err := cl.DrainNode(ctx, a.NodeID(), &client.DrainRequest{Enable: true}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, func() (bool, string) {
		onB := 0
		for _, al := range c.allocs("mig") {
			if al.NodeID == b.NodeID() && al.ClientStatusOf() == api.AllocClientRunning {
				onB++
			}
		}
		return onB == 3, fmt.Sprintf("%d running on b", onB)
	})
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		n, err := cl.Node(ctx, a.NodeID())
		return err == nil && n.Drain == nil && !n.Eligible, fmt.Sprintf("drain %+v eligible %v", n.Drain, n.Eligible)
	})
	// The node keeps a record of the drain: complete, after it started.
	if n, err := cl.Node(ctx, a.NodeID()); err != nil || n.LastDrain == nil || n.LastDrain.Status != api.DrainStatusComplete ||
		n.LastDrain.UpdatedAt.Before(n.LastDrain.StartedAt) || n.LastDrain.StartedAt.IsZero() {
		t.Errorf("the last drain of a drained node: %+v %v", n.LastDrain, err)
	}
	var moved []*api.Allocation
	for _, al := range c.allocs("mig") {
		if al.NodeID == a.NodeID() && !al.Migrate {
			t.Errorf("allocation %s left node a without the migrate mark", al.Name)
		}
		if al.NodeID == b.NodeID() {
			moved = append(moved, al)
		}
	}
	// One at a time: each replacement was placed once the one before it
	// was healthy per the migrate block.
	sort.Slice(moved, func(i, j int) bool { return moved[i].CreateTime.Before(moved[j].CreateTime) })
	for i := 1; i < len(moved); i++ {
		prev := moved[i-1].Health()
		if !moved[i].Migrated || prev == nil || !prev.Healthy || moved[i].CreateTime.Before(prev.Time.Add(-50*time.Millisecond)) {
			t.Errorf("%s placed at %s, before %s was healthy (%+v)", moved[i].Name, moved[i].CreateTime, moved[i-1].Name, prev)
		}
	}
	if n, err := cl.SetNodeEligibility(ctx, a.NodeID(), true); err != nil || !n.Eligible {
		t.Fatalf("eligibility: %v %+v", err, n)
	}
}

func TestOperatorRestartSignalAndStopOfAnAllocation(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	// The task counts the HUPs it gets in a file of the allocation.
	j := shJob("ops", `trap 'echo hup >> $NOMAD_ALLOC_DIR/hups' HUP; while true; do sleep 0.1; done`, 1)
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	a := c.waitStatus("ops", api.AllocClientRunning, 1)[0]
	pid := a.Status.Tasks["t"].PID
	srv := httptest.NewServer((&httpapi.Server{Store: c.store}).Handler())
	defer srv.Close()
	cl := client.New(srv.URL)
	if _, err := cl.RestartAlloc(ctx, a.ID[:8], ""); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		cur, err := cl.Alloc(ctx, a.ID)
		if err != nil {
			return false, err.Error()
		}
		ts := cur.Status.Tasks["t"]
		return ts.State == api.TaskStateRunning && ts.PID != pid && ts.Restarts == 1, fmt.Sprintf("%s pid %d restarts %d", ts.State, ts.PID, ts.Restarts)
	})
	if _, err := cl.SignalAlloc(ctx, a.ID, "t", "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SignalAlloc(ctx, a.ID, "nope", "SIGHUP"); err == nil {
		t.Fatal("signal to a task that does not exist accepted")
	}
	stopped, err := cl.StopAlloc(ctx, a.ID)
	if err != nil || !stopped.StopRequested {
		t.Fatalf("stop: %v %+v", err, stopped)
	}
	// The job still wants one: the scheduler stops it and a replacement,
	// linked to it, runs.
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		var runningNew int
		linked := false
		for _, x := range c.allocs("ops") {
			if x.ID != a.ID && x.ClientStatusOf() == api.AllocClientRunning && x.PreviousAllocation == a.ID {
				runningNew++
			}
			if x.ID == a.ID {
				linked = x.DesiredStatus == api.AllocDesiredStop && x.NextAllocation != ""
			}
		}
		return runningNew == 1 && linked, fmt.Sprintf("%d replacements running, stopped and linked %v", runningNew, linked)
	})
}

func TestPeriodicJobsLaunchChildrenWithoutOverlap(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	ctx := context.Background()
	// Every second, each launch running for 60s: with prohibit_overlap
	// only the first launch runs.
	j := shJob("tick", "sleep 60", 1, func(j *api.Job) {
		j.Type = api.JobTypeBatch
		j.Periodic = &api.PeriodicConfig{Crons: []string{"* * * * * * *"}, ProhibitOverlap: true, Enabled: true}
	})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	var children []*api.Job
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		jobs, _ := c.store.ListJobs(ctx, "default")
		children = children[:0]
		for _, x := range jobs {
			if x.ParentID == "tick" {
				children = append(children, x)
			}
		}
		return len(children) >= 1, fmt.Sprintf("%d children", len(children))
	})
	child := children[0]
	if !strings.HasPrefix(child.ID, "tick-periodic-") || child.Periodic != nil {
		t.Fatalf("child %+v", child)
	}
	c.waitStatus(child.ID, api.AllocClientRunning, 1)
	time.Sleep(3 * time.Second)
	jobs, _ := c.store.ListJobs(ctx, "default")
	n := 0
	for _, x := range jobs {
		if x.ParentID == "tick" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d children launched while the first one ran", n)
	}
	// The parent itself runs nothing.
	if len(c.allocs("tick")) != 0 {
		t.Fatal("the periodic job itself was placed")
	}
}

func TestDispatchLaunchesAParameterizedJobWithItsInputs(t *testing.T) {
	c := newCluster(t)
	agent, _ := c.agent("n1", true)
	ctx := context.Background()
	j := shJob("resize", `echo "size=$NOMAD_META_size parent=$NOMAD_JOB_PARENT_ID"; cat $NOMAD_TASK_DIR/input`, 1, func(j *api.Job) {
		j.Type = api.JobTypeBatch
		j.Parameterized = &api.ParameterizedConfig{Payload: "required", MetaRequired: []string{"size"}}
		j.Groups[0].Tasks[0].DispatchPayload = &api.DispatchPayload{File: "input"}
	})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&httpapi.Server{Store: c.store}).Handler())
	defer srv.Close()
	cl := client.New(srv.URL)
	if _, _, err := cl.DispatchJob(ctx, "default", "resize", []byte("x"), nil); err == nil || !strings.Contains(err.Error(), `meta "size" is required`) {
		t.Fatalf("dispatch without required meta: %v", err)
	}
	if _, _, err := cl.DispatchJob(ctx, "default", "resize", nil, map[string]string{"size": "1"}); err == nil || !strings.Contains(err.Error(), "requires a payload") {
		t.Fatalf("dispatch without payload: %v", err)
	}
	child, _, err := cl.DispatchJob(ctx, "default", "resize", []byte("the-payload"), map[string]string{"size": "640"})
	if err != nil {
		t.Fatal(err)
	}
	done := c.waitStatus(child, api.AllocClientComplete, 1)
	out, err := os.ReadFile(filepath.Join(agent.AllocDir(done[0].ID), "alloc", "logs", "t.stdout.0"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, "size=640 parent=resize") || !strings.Contains(got, "the-payload") {
		t.Fatalf("output %q", got)
	}
}

func TestServicesAreRegisteredCheckedAndGoWithTheirNode(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed")
	}
	c := newCluster(t)
	_, stopAgent := c.agent("n1", false)
	ctx := context.Background()
	j := shJob("webby", `mkdir -p $NOMAD_TASK_DIR/www && echo ok > $NOMAD_TASK_DIR/www/health && exec /bin/busybox httpd -f -p 127.0.0.1:$NOMAD_PORT_http -h $NOMAD_TASK_DIR/www`, 2,
		func(j *api.Job) {
			j.Groups[0].Network = &api.Network{Mode: "host", Ports: []api.Port{{Label: "http"}}}
			j.Groups[0].Restart = &api.RestartPolicy{Attempts: 5, Interval: api.Duration(time.Minute), Delay: api.Duration(500 * time.Millisecond), Mode: "fail"}
			j.Groups[0].Services = []*api.Service{{Name: "webby", Port: "http", Tags: []string{"v1"}, Checks: []*api.ServiceCheck{
				{Name: "alive", Type: "http", Path: "/health", Interval: api.Duration(200 * time.Millisecond), Timeout: api.Duration(time.Second)},
				{Type: "tcp", Interval: api.Duration(200 * time.Millisecond), Timeout: api.Duration(time.Second)},
			}}}
		})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	running := c.waitStatus("webby", api.AllocClientRunning, 2)
	t.Cleanup(func() {
		for _, pid := range pids(running) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	testutil.Eventually(t, 45*time.Second, func() (bool, string) {
		regs, err := c.store.ListServices(ctx, "default", "webby")
		if err != nil {
			return false, err.Error()
		}
		healthy := 0
		for _, r := range regs {
			if r.Healthy() && len(r.Checks) == 2 && r.Address == "127.0.0.1" && r.Port >= 20000 {
				healthy++
			}
		}
		var desc []string
		for _, r := range regs {
			desc = append(desc, fmt.Sprintf("%s:%d %+v", r.Address, r.Port, r.Checks))
		}
		return healthy == 2, fmt.Sprintf("%d of %d instances healthy: %v", healthy, len(regs), desc)
	})
	// The agent goes away without stopping its tasks: the instances go
	// with its lease.
	stopAgent()
	testutil.Eventually(t, 15*time.Second, func() (bool, string) {
		regs, _ := c.store.ListServices(ctx, "default", "webby")
		return len(regs) == 0, fmt.Sprintf("%d instances left", len(regs))
	})
}

// TestDisconnectedNodeGetsItsAllocationsBackWithinLostAfter stops a node
// agent without stopping its tasks: after its lease expires its
// allocation reads unknown and is replaced on another node; the agent
// returns within lost_after, re-attaches to the same process, and the
// replacement is stopped.
func TestDisconnectedNodeGetsItsAllocationsBackWithinLostAfter(t *testing.T) {
	c := newCluster(t)
	dir := filepath.Join(t.TempDir(), "n1")
	_, stop1 := c.agentIn("n1", dir, false)
	ctx := context.Background()
	j := sleepJob("away", 1)
	j.Groups[0].Disconnect = &api.DisconnectStrategy{LostAfter: api.Duration(time.Minute)}
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	orig := c.waitStatus("away", api.AllocClientRunning, 1)[0]
	pid := pids([]*api.Allocation{orig})[0]
	c.agent("n2", true)
	stop1()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	var repl *api.Allocation
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		var st []string
		repl = nil
		unknown := false
		for _, a := range c.allocs("away") {
			st = append(st, a.Name+"="+a.ClientStatusOf())
			if a.ID == orig.ID && a.ClientStatusOf() == api.AllocClientUnknown {
				unknown = true
			}
			if a.PreviousAllocation == orig.ID && a.ClientStatusOf() == api.AllocClientRunning {
				repl = a
			}
		}
		return unknown && repl != nil, fmt.Sprint(st)
	})
	if !alive(pid) {
		t.Fatal("the original process died while its node was away")
	}
	c.agentIn("n1", dir, false)
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		var st []string
		back, stopped := false, false
		for _, a := range c.allocs("away") {
			st = append(st, a.Name+"="+a.DesiredStatus+"/"+a.ClientStatusOf())
			if a.ID == orig.ID && a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning {
				back = true
			}
			if a.ID == repl.ID && a.DesiredStatus == api.AllocDesiredStop && a.Terminal() {
				stopped = true
			}
		}
		return back && stopped, fmt.Sprint(st)
	})
	now := c.allocs("away")
	for _, a := range now {
		if a.ID == orig.ID {
			if got := pids([]*api.Allocation{a}); len(got) != 1 || got[0] != pid || !alive(pid) {
				t.Fatalf("the original should run the same process %d, has %v", pid, got)
			}
		}
	}
}
