package nodeagent

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/mock"
)

// The agent's unit tests run a real agent over the fake store, with the
// mock driver wrapped to record what the agent asked of it.

// waitTimeout bounds every wait of these tests; generous, as they run
// beside each other under the race detector on small machines.
const waitTimeout = 20 * time.Second

// eventLog is the order in which things happened to tasks and services.
type eventLog struct {
	mu      sync.Mutex
	entries []string
	times   []time.Time
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	l.times = append(l.times, time.Now())
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) changes() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// at returns when e first happened, and whether it did.
func (l *eventLog) at(e string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.entries, e); i >= 0 {
		return l.times[i], true
	}
	return time.Time{}, false
}

// before fails the test unless a happened, b happened, and a first.
func (l *eventLog) before(t *testing.T, a, b string) {
	t.Helper()
	entries := l.all()
	i, j := slices.Index(entries, a), slices.Index(entries, b)
	if i < 0 || j < 0 || i >= j {
		t.Fatalf("want %q before %q; log: %q", a, b, entries)
	}
}

func sigName(sig os.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return sig.String()
}

// recDriver records what the agent asks of a driver.
type recDriver struct {
	driver.Driver
	log *eventLog

	mu      sync.Mutex
	starts  map[string]int // by alloc/task
	configs map[string]*driver.TaskConfig
	handles []*recHandle
}

func newRecDriver(d driver.Driver, log *eventLog) *recDriver {
	return &recDriver{Driver: d, log: log, starts: map[string]int{}, configs: map[string]*driver.TaskConfig{}}
}

func (d *recDriver) Start(ctx context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	h, err := d.Driver.Start(ctx, tc)
	if err != nil {
		d.log.add("start-failed " + tc.TaskName)
		return nil, err
	}
	rh := &recHandle{Handle: h, task: tc.TaskName, log: d.log}
	d.mu.Lock()
	d.starts[tc.AllocID+"/"+tc.TaskName]++
	d.configs[tc.AllocID+"/"+tc.TaskName] = tc
	d.handles = append(d.handles, rh)
	d.mu.Unlock()
	d.log.add("start " + tc.TaskName)
	return rh, nil
}

func (d *recDriver) Recover(ctx context.Context, state map[string]string) (driver.Handle, error) {
	h, err := d.Driver.Recover(ctx, state)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, rh := range d.handles {
		if rh.Handle == h {
			d.log.add("recover " + rh.task)
			return rh, nil
		}
	}
	return h, nil
}

func (d *recDriver) startsOf(allocID, task string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts[allocID+"/"+task]
}

func (d *recDriver) config(allocID, task string) *driver.TaskConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.configs[allocID+"/"+task]
}

func (d *recDriver) allHandles() []*recHandle {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.handles)
}

// recHandle records a task's end and the signals sent to it.
type recHandle struct {
	driver.Handle
	task string
	log  *eventLog
	once sync.Once
}

func (h *recHandle) Wait(ctx context.Context) (*driver.ExitResult, error) {
	res, err := h.Handle.Wait(ctx)
	if err == nil {
		h.once.Do(func() { h.log.add("exit " + h.task) })
	}
	return res, err
}

func (h *recHandle) Signal(sig os.Signal) error {
	h.log.add("signal " + h.task + " " + sigName(sig))
	return h.Handle.Signal(sig)
}

func (h *recHandle) Stop(ctx context.Context, sig os.Signal, timeout time.Duration) error {
	h.log.add("stop " + h.task + " " + sigName(sig))
	return h.Handle.Stop(ctx, sig, timeout)
}

// ended waits a little for the task to end and reports whether it did.
func (h *recHandle) ended() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.Handle.Wait(ctx)
	return err == nil
}

// stubbornDriver runs tasks that ignore every signal but SIGKILL, so that
// a stop needs its kill_timeout and SIGKILL. Its handles stop the way
// every driver does, through driver.Stop.
type stubbornDriver struct {
	log *eventLog
}

func (d *stubbornDriver) Name() string { return "stubborn" }
func (d *stubbornDriver) Fingerprint(context.Context) *api.DriverInfo {
	return &api.DriverInfo{Detected: true, Healthy: true}
}
func (d *stubbornDriver) Validate(map[string]any) error { return nil }
func (d *stubbornDriver) Recover(context.Context, map[string]string) (driver.Handle, error) {
	return nil, driver.ErrTaskGone
}

func (d *stubbornDriver) Start(_ context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	return &stubbornHandle{task: tc.TaskName, log: d.log, done: make(chan struct{})}, nil
}

type stubbornHandle struct {
	task string
	log  *eventLog
	once sync.Once
	done chan struct{}
}

func (h *stubbornHandle) PID() int                 { return 0 }
func (h *stubbornHandle) State() map[string]string { return nil }

func (h *stubbornHandle) Wait(ctx context.Context) (*driver.ExitResult, error) {
	select {
	case <-h.done:
		return &driver.ExitResult{ExitCode: 137, Signal: int(syscall.SIGKILL)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *stubbornHandle) Signal(sig os.Signal) error {
	h.log.add("received " + h.task + " " + sigName(sig))
	if sig == syscall.SIGKILL {
		h.once.Do(func() { close(h.done) })
	}
	return nil
}

func (h *stubbornHandle) Stop(ctx context.Context, sig os.Signal, timeout time.Duration) error {
	return driver.Stop(ctx, h.done, h.Signal, sig, timeout, 5*time.Second)
}

// harness is an agent over the fake store with the mock and stubborn
// drivers.
type harness struct {
	t     *testing.T
	store *fakeStore
	log   *eventLog
	dir   string
	mock  *recDriver
	stub  *recDriver

	agent  *Agent
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t *testing.T, opts ...func(*Config)) *harness {
	h := &harness{t: t, store: newFakeStore(), log: newEventLog(), dir: t.TempDir()}
	h.store.log = h.log
	h.mock = newRecDriver(&mock.Driver{}, h.log)
	h.stub = newRecDriver(&stubbornDriver{log: h.log}, h.log)
	h.startAgent(opts...)
	return h
}

// startAgent starts an agent in the harness's data directory: after
// stopAgent, the same node comes back.
func (h *harness) startAgent(opts ...func(*Config)) {
	t := h.t
	cfg := Config{Name: "test-node", Datacenter: "dc-test", DataDir: h.dir, TTL: 2 * time.Second, StopTasksOnShutdown: true,
		Drivers: []driver.Driver{h.mock, h.stub}, Resources: &api.Resources{CPU: 4000, MemoryMB: 4096}, JobWait: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := newAgent(h.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	h.agent, h.cfg, h.cancel, h.done = a, cfg, cancel, done
	t.Cleanup(h.stopAgent)
	select {
	case <-a.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("the agent did not register")
	}
}

// stopAgent stops the agent and waits for it. An agent that stops its
// tasks must leave none running.
func (h *harness) stopAgent() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(waitTimeout):
		h.t.Errorf("the agent did not stop within %v", waitTimeout)
		return
	}
	if !h.cfg.StopTasksOnShutdown {
		return
	}
	for _, d := range []*recDriver{h.mock, h.stub} {
		for _, rh := range d.allHandles() {
			if !rh.ended() {
				h.t.Errorf("task %s still runs after the agent stopped", rh.task)
			}
		}
	}
}

// waitFor waits until cond holds, looking again at every change of the
// store or the log.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		sc, lc := h.store.changes(), h.log.changes()
		if cond() {
			return
		}
		select {
		case <-sc:
		case <-lc:
		case <-deadline.C:
			h.t.Fatalf("timed out after %v waiting for %s; log: %q", waitTimeout, what, h.log.all())
		}
	}
}

// waitStatus waits for a written status of the allocation that satisfies
// cond, and returns it.
func (h *harness) waitStatus(a *api.Allocation, what string, cond func(*api.AllocStatus) bool) *api.AllocStatus {
	h.t.Helper()
	var st *api.AllocStatus
	h.waitFor(what, func() bool {
		st = h.store.status(h.agent.NodeID(), a.ID)
		return st != nil && cond(st)
	})
	return st
}

func (h *harness) waitTerminal(a *api.Allocation) *api.AllocStatus {
	h.t.Helper()
	return h.waitStatus(a, "a terminal status", func(st *api.AllocStatus) bool { return api.IsTerminalClientStatus(st.ClientStatus) })
}

func (h *harness) waitRunning(a *api.Allocation, task string) *api.AllocStatus {
	h.t.Helper()
	return h.waitStatus(a, "task "+task+" running", func(st *api.AllocStatus) bool {
		ts := st.Tasks[task]
		return ts != nil && ts.State == api.TaskStateRunning
	})
}

// waitFinished waits until the agent is done with an allocation: its
// last status is written.
func (h *harness) waitFinished(a *api.Allocation) *api.AllocStatus {
	h.t.Helper()
	h.agent.mu.Lock()
	r := h.agent.runners[a.ID]
	h.agent.mu.Unlock()
	if r == nil {
		h.t.Fatalf("the agent has no runner for allocation %s", a.ID)
	}
	select {
	case <-r.finished:
	case <-time.After(waitTimeout):
		h.t.Fatalf("allocation %s did not finish within %v", a.ID, waitTimeout)
	}
	return h.store.status(h.agent.NodeID(), a.ID)
}

// place writes the job and an allocation of its first group on the node.
func (h *harness) place(j *api.Job, edit ...func(*api.Allocation)) *api.Allocation {
	h.store.putJob(j)
	a := &api.Allocation{ID: api.NewID(), Name: j.ID + "." + j.Groups[0].Name + "[0]", Namespace: j.Namespace, JobID: j.ID,
		JobVersion: j.Version, TaskGroup: j.Groups[0].Name, NodeID: h.agent.NodeID(), DesiredStatus: api.AllocDesiredRun,
		CreateTime: time.Now()}
	for _, e := range edit {
		e(a)
	}
	h.store.putAlloc(a)
	return a
}

// change writes a new version of an allocation, as the servers would.
func (h *harness) change(a *api.Allocation, edit func(*api.Allocation)) {
	c := *a
	edit(&c)
	h.store.putAlloc(&c)
}

func (h *harness) stopAlloc(a *api.Allocation) {
	h.change(a, func(a *api.Allocation) { a.DesiredStatus = api.AllocDesiredStop })
}

// --- Jobs ---

func newJob(typ string, tasks ...*api.Task) *api.Job {
	id := "job-" + api.ShortID(api.NewID())
	return &api.Job{ID: id, Name: id, Namespace: api.DefaultNamespace, Type: typ,
		Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: tasks}}}
}

func mockTask(name string, cfg map[string]any, edit ...func(*api.Task)) *api.Task {
	t := &api.Task{Name: name, Driver: mock.Name, Config: cfg, Resources: &api.Resources{CPU: 10, MemoryMB: 10}}
	for _, e := range edit {
		e(t)
	}
	return t
}

// runFor is a mock task that runs for d, then exits with code.
func runFor(d string, code int) map[string]any {
	return map[string]any{"run_for": d, "exit_code": code}
}

// forever is a mock task that runs until it is stopped.
func forever() map[string]any { return map[string]any{} }

func hook(name string, sidecar bool) func(*api.Task) {
	return func(t *api.Task) { t.Lifecycle = &api.Lifecycle{Hook: name, Sidecar: sidecar} }
}

func eventTypes(ts *api.TaskState) []string {
	var out []string
	for _, e := range ts.Events {
		out = append(out, e.Type)
	}
	return out
}

func hasEvent(ts *api.TaskState, typ, msg string) bool {
	for _, e := range ts.Events {
		if e.Type == typ && strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}
