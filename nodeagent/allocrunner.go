package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// maxTaskEvents bounds the events kept per task in the status key.
const maxTaskEvents = 10

// allocRunner runs the tasks of one allocation and reports their state.
type allocRunner struct {
	a *Agent

	mu       sync.Mutex
	alloc    *api.Allocation
	status   api.AllocStatus
	handles  map[string]driver.Handle
	netns    string                 // the allocation's network namespace in bridge mode
	tasks    map[string]*taskRunner // once the tasks run
	services *serviceSet            // registered service instances
	received time.Time              // when the agent saw the allocation
	group    *api.TaskGroup         // once loaded
	stopWhy  string                 // set when the agent itself stopped the allocation

	stopCh     chan struct{} // closed to stop the tasks
	stopOnce   sync.Once
	detachCh   chan struct{} // closed to leave the tasks running
	detachOnce sync.Once
	// requests owns the restarts operators asked for. It is added to
	// only under mu while tasks is set, and waited for once tasks is
	// cleared, so no Add races the Wait.
	requests sync.WaitGroup
	// writeMu orders status writes.
	writeMu sync.Mutex
	// finished is closed when run returns: the last status is written.
	finished chan struct{}
	// skipDelay is closed once the operator stopped the allocation
	// without its shutdown delays (NoShutdownDelay): a delay under way
	// ends then too.
	skipDelay chan struct{}
	skipOnce  sync.Once
}

func newAllocRunner(a *Agent, alloc *api.Allocation) *allocRunner {
	r := newAllocRunnerOf(a, alloc)
	if alloc.NoShutdownDelay {
		r.skipOnce.Do(func() { close(r.skipDelay) })
	}
	return r
}

func newAllocRunnerOf(a *Agent, alloc *api.Allocation) *allocRunner {
	return &allocRunner{
		a:         a,
		alloc:     alloc,
		handles:   map[string]driver.Handle{},
		stopCh:    make(chan struct{}),
		detachCh:  make(chan struct{}),
		finished:  make(chan struct{}),
		skipDelay: make(chan struct{}),
		received:  time.Now(),
		status:    api.AllocStatus{ClientStatus: api.AllocClientPending, Tasks: map[string]*api.TaskState{}},
	}
}

// update takes a new version of the allocation from the servers.
func (r *allocRunner) update(alloc *api.Allocation) {
	r.mu.Lock()
	r.alloc = alloc
	r.mu.Unlock()
	if alloc.NoShutdownDelay {
		r.skipOnce.Do(func() { close(r.skipDelay) })
	}
	if alloc.DesiredStatus == api.AllocDesiredStop {
		r.stop()
		return
	}
	r.checkRequests()
}

// checkRequests carries out the operator's restart and signal requests
// that were not carried out yet.
func (r *allocRunner) checkRequests() {
	r.mu.Lock()
	alloc := r.alloc
	var restart, signal *api.TaskRequest
	if alloc.Restart != nil && alloc.Restart.ID != r.status.HandledRestart && r.tasks != nil {
		restart = alloc.Restart
		r.status.HandledRestart = restart.ID
	}
	if alloc.Signal != nil && alloc.Signal.ID != r.status.HandledSignal && r.tasks != nil {
		signal = alloc.Signal
		r.status.HandledSignal = signal.ID
	}
	var targets []*taskRunner
	for name, tr := range r.tasks {
		if req := firstOf(restart, signal); req != nil && (req.Task == "" || req.Task == name) {
			targets = append(targets, tr)
		}
	}
	if restart != nil {
		r.requests.Add(len(targets))
	}
	r.mu.Unlock()
	if restart == nil && signal == nil {
		return
	}
	for _, tr := range targets {
		if restart != nil {
			go func() {
				defer r.requests.Done()
				tr.restart()
			}()
		}
		if signal != nil {
			tr.signal(signal.Signal)
		}
	}
	r.writeStatus(context.Background())
}

func firstOf(a, b *api.TaskRequest) *api.TaskRequest {
	if a != nil {
		return a
	}
	return b
}

func (r *allocRunner) stop()    { r.stopOnce.Do(func() { close(r.stopCh) }) }
func (r *allocRunner) destroy() { r.stop() }
func (r *allocRunner) detach()  { r.detachOnce.Do(func() { close(r.detachCh) }) }

func (r *allocRunner) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

func (r *allocRunner) detached() bool {
	select {
	case <-r.detachCh:
		return true
	default:
		return false
	}
}

// run drives the allocation to its end: it recovers or starts the tasks,
// waits for them, and stops them when the servers say so.
func (r *allocRunner) run() {
	defer close(r.finished)
	ctx, cancel := context.WithCancel(context.Background())
	var detachWatch sync.WaitGroup
	defer detachWatch.Wait()
	defer cancel()
	detachWatch.Go(func() {
		select {
		case <-r.detachCh:
			cancel()
		case <-ctx.Done():
		}
	})
	alloc := r.current()
	log := slog.With("alloc", api.ShortID(alloc.ID), "name", alloc.Name)

	prior, err := r.readPriorStatus(ctx)
	if err != nil {
		return
	}
	if prior != nil {
		r.mu.Lock()
		r.status = *prior
		if r.status.Tasks == nil {
			r.status.Tasks = map[string]*api.TaskState{}
		}
		r.mu.Unlock()
		if api.IsTerminalClientStatus(prior.ClientStatus) {
			return
		}
	}
	if alloc.DesiredStatus == api.AllocDesiredStop && prior == nil {
		r.setClientStatus(api.AllocClientComplete, "stopped before it started")
		r.writeStatus(ctx)
		return
	}

	job, group, err := r.loadGroup(ctx, alloc)
	if err == nil {
		r.mu.Lock()
		r.group = group
		r.mu.Unlock()
	}
	if err != nil {
		if !r.detached() {
			log.Warn("allocation cannot run", "err", err)
			r.setClientStatus(api.AllocClientFailed, err.Error())
			r.writeStatus(ctx)
		}
		return
	}

	if group.Network != nil && group.Network.Mode == "bridge" {
		path, addr, err := setupBridge(ctx, alloc)
		if err != nil {
			if !r.detached() {
				log.Warn("allocation network failed", "err", err)
				r.setClientStatus(api.AllocClientFailed, err.Error())
				r.writeStatus(ctx)
			}
			return
		}
		r.mu.Lock()
		r.netns = path
		r.status.NetworkAddress = addr
		r.mu.Unlock()
	}
	r.runTasks(ctx, job, group)
	if r.detached() {
		return
	}
	if r.netns != "" {
		if err := teardownBridge(context.WithoutCancel(ctx), alloc); err != nil {
			log.Warn("removing allocation network", "err", err)
		}
	}
	r.refreshClientStatus()
	r.judgeEnd(group)
	r.mu.Lock()
	if r.stopWhy != "" {
		r.status.Description = r.stopWhy
	}
	r.mu.Unlock()
	r.writeStatus(ctx)
	log.Info("allocation finished", "status", r.snapshot().ClientStatus)
}

// logConfigs are the logs blocks of the allocation's tasks, by task.
func (r *allocRunner) logConfigs() map[string]*api.LogConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*api.LogConfig{}
	if r.group != nil {
		for _, t := range r.group.Tasks {
			out[t.Name] = t.Logs
		}
	}
	return out
}

func (r *allocRunner) current() *api.Allocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alloc
}

// readPriorStatus reads what an earlier run of the agent reported, so that
// running tasks are re-attached rather than started twice.
func (r *allocRunner) readPriorStatus(ctx context.Context) (*api.AllocStatus, error) {
	alloc := r.current()
	for attempt := 0; ; attempt++ {
		st, err := r.a.store.GetAllocStatus(ctx, r.a.cfg.NodeID, alloc.ID)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		slog.Warn("reading allocation status; retrying", "alloc", alloc.ID, "err", err)
		loop.Sleep(ctx, min(time.Duration(attempt+1)*500*time.Millisecond, 5*time.Second))
	}
}

func (r *allocRunner) loadGroup(ctx context.Context, alloc *api.Allocation) (*api.Job, *api.TaskGroup, error) {
	var job *api.Job
	var err error
	deadline := time.Now().Add(r.a.cfg.JobWait)
	for failures, missing := 0, 0; failures < 10; {
		job, err = r.a.jobs.get(ctx, alloc.Namespace, alloc.JobID, alloc.JobVersion)
		if err == nil || ctx.Err() != nil {
			break
		}
		if errors.Is(err, store.ErrNotFound) {
			// The leader copies the version into the node's tree
			// after the allocation appears (controllers.NodeCopies):
			// wait for it, a while, unless the allocation stops.
			if r.stopping() || !time.Now().Before(deadline) {
				break
			}
			missing++
			loop.Sleep(ctx, min(time.Duration(missing)*100*time.Millisecond, 2*time.Second, time.Until(deadline)))
			continue
		}
		failures++
		loop.Sleep(ctx, time.Duration(failures)*500*time.Millisecond)
	}
	if err != nil {
		return nil, nil, err
	}
	g := job.LookupGroup(alloc.TaskGroup)
	if g == nil {
		return nil, nil, fmt.Errorf("job %q version %d has no group %q", alloc.JobID, alloc.JobVersion, alloc.TaskGroup)
	}
	return job, g, nil
}

// startOrRecover re-attaches to a task an earlier agent started, or starts
// it. It returns nil and no error for a task that already ended. A task
// killed while it started is stopped here, as its kill found nothing to
// stop.
func (r *allocRunner) startOrRecover(ctx context.Context, tr *taskRunner) (driver.Handle, error) {
	job, g, t := tr.job, tr.group, tr.task
	alloc := r.current()
	d := r.a.drivers[t.Driver]
	r.mu.Lock()
	ts := r.status.Tasks[t.Name]
	if ts == nil {
		ts = &api.TaskState{State: api.TaskStatePending}
		r.status.Tasks[t.Name] = ts
	}
	r.mu.Unlock()

	if ts.State == api.TaskStateDead {
		return nil, nil
	}
	if ts.State == api.TaskStateRunning && ts.Handle != nil && d != nil {
		h, err := d.Recover(ctx, ts.Handle)
		if err == nil {
			r.mu.Lock()
			r.handles[t.Name] = h
			r.event(ts, "Reattached", fmt.Sprintf("re-attached to pid %d after agent restart", h.PID()))
			missed := tr.wasKilled()
			r.mu.Unlock()
			if missed {
				tr.stopMissed(ctx, h)
			}
			return h, nil
		}
		r.mu.Lock()
		ts.State = api.TaskStateDead
		ts.FinishedAt = time.Now().UTC()
		r.event(ts, "Terminated", "task exited while the agent was down; exit code unknown")
		r.mu.Unlock()
		return nil, nil
	}
	if r.stopping() || tr.wasKilled() {
		return nil, errors.New("allocation stopped before the task started")
	}
	if d == nil {
		return nil, r.failTask(ts, fmt.Errorf("driver %q is not available on this node", t.Driver))
	}

	allocDir := filepath.Join(r.a.cfg.DataDir, "alloc", alloc.ID)
	taskDir := filepath.Join(allocDir, t.Name)
	logDir := filepath.Join(allocDir, "alloc", "logs")
	for _, dir := range []string{logDir, filepath.Join(allocDir, "alloc", "data"), filepath.Join(taskDir, "local"), filepath.Join(taskDir, "secrets"), filepath.Join(taskDir, "tmp")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, r.failTask(ts, fmt.Errorf("creating allocation directory: %w", err))
		}
	}
	if dp := t.DispatchPayload; dp != nil && len(job.Payload) > 0 {
		if err := os.WriteFile(filepath.Join(taskDir, "local", filepath.Clean("/"+dp.File)), job.Payload, 0o640); err != nil {
			return nil, r.failTask(ts, fmt.Errorf("writing the dispatch payload: %w", err))
		}
	}
	r.mu.Lock()
	if len(ts.Events) == 0 {
		r.event(ts, "Received", "task received by the node agent")
	}
	r.event(ts, "Task Setup", "building task directory")
	if t.Driver == "containerd" {
		r.event(ts, "Driver", "preparing the container (pulling or importing the image if it is not there)")
	}
	r.mu.Unlock()
	env := taskEnv(r.a, job, g, t, alloc, allocDir, taskDir)
	extra, err := r.prestart(ctx, tr, ts, allocDir, env)
	if err != nil {
		if ctx.Err() != nil || r.stopping() || tr.wasKilled() {
			return nil, err
		}
		typ := "Driver Failure"
		var he *hookError
		if errors.As(err, &he) {
			typ = he.typ
		}
		return nil, r.failTaskAs(ts, typ, err)
	}
	// The task's env block wins over what templates render, as in Nomad.
	env = append(append(env[:len(env):len(env)], extra...), taskEnvBlock(t)...)
	cfg := &driver.TaskConfig{
		AllocID:    alloc.ID,
		JobID:      alloc.JobID,
		JobVersion: alloc.JobVersion,
		TaskName:   t.Name,
		Config:     t.Config,
		Env:        env,
		Resources:  *t.Resources,
		User:       t.User,
		Dir:        taskDir,
		AllocDir:   filepath.Join(allocDir, "alloc"),
		NetNS:      r.netns,
		StdoutPath: filepath.Join(logDir, t.Name+".stdout.0"),
		StderrPath: filepath.Join(logDir, t.Name+".stderr.0"),
	}
	h, err := d.Start(ctx, cfg)
	if err != nil {
		metricDriverErrors.WithLabelValues(t.Driver).Inc()
		return nil, r.failTask(ts, err)
	}
	metricTaskStarts.WithLabelValues(t.Driver).Inc()
	if ts.Restarts == 0 {
		metricStartLatency.WithLabelValues(t.Driver).Observe(time.Since(r.received).Seconds())
	} else {
		metricTaskRestarts.WithLabelValues(t.Driver).Inc()
	}
	r.mu.Lock()
	r.handles[t.Name] = h
	ts.State = api.TaskStateRunning
	ts.PID = h.PID()
	ts.Handle = h.State()
	ts.StartedAt = time.Now().UTC()
	r.event(ts, "Started", fmt.Sprintf("task started by the %s driver", t.Driver))
	missed := tr.wasKilled()
	r.mu.Unlock()
	if missed {
		tr.stopMissed(ctx, h)
	}
	return h, nil
}

func (r *allocRunner) failTask(ts *api.TaskState, err error) error {
	return r.failTaskAs(ts, "Driver Failure", err)
}

// failTaskAs is failTask with the event type that says what failed.
func (r *allocRunner) failTaskAs(ts *api.TaskState, typ string, err error) error {
	r.mu.Lock()
	ts.State = api.TaskStateDead
	ts.Failed = true
	ts.FinishedAt = time.Now().UTC()
	r.event(ts, typ, err.Error())
	r.mu.Unlock()
	return err
}

// taskExited records a task's end and reports whether it failed. Whether
// the task is failed for good is for its runner to decide (it may be
// restarted), so the state's Failed flag is left alone.
func (r *allocRunner) taskExited(t *api.Task, res *driver.ExitResult, killed bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.status.Tasks[t.Name]
	ts.State = api.TaskStateDead
	ts.FinishedAt = time.Now().UTC()
	ts.Handle = nil
	killed = killed || r.stopping()
	if res.OOMKilled {
		metricOOMKills.WithLabelValues(t.Driver).Inc()
		r.event(ts, "OOM Killed", fmt.Sprintf("the task exceeded its memory limit of %d MiB", max(t.Resources.MemoryMB, t.Resources.MemoryMax)))
	}
	switch {
	case res.Unknown:
		r.event(ts, "Terminated", "task exited; exit code unknown (re-attached after an agent restart)")
	default:
		code := res.ExitCode
		ts.ExitCode = &code
		msg := fmt.Sprintf("exit code %d", code)
		if res.Signal != 0 {
			msg += fmt.Sprintf(", signal %d", res.Signal)
		}
		if res.Err != nil {
			msg += ": " + res.Err.Error()
		}
		r.event(ts, "Terminated", msg)
		return !res.Successful() && !killed
	}
	return false
}

func (r *allocRunner) event(ts *api.TaskState, typ, msg string) {
	ts.Events = append(ts.Events, api.TaskEvent{Time: time.Now().UTC(), Type: typ, Message: msg})
	if len(ts.Events) > maxTaskEvents {
		ts.Events = ts.Events[len(ts.Events)-maxTaskEvents:]
	}
}

func (r *allocRunner) setClientStatus(status, desc string) {
	r.mu.Lock()
	r.status.ClientStatus = status
	r.status.Description = desc
	r.mu.Unlock()
}

// refreshClientStatus derives the allocation's status from its tasks.
func (r *allocRunner) refreshClientStatus() {
	r.mu.Lock()
	defer r.mu.Unlock()
	running, dead, failed := 0, 0, 0
	for _, ts := range r.status.Tasks {
		switch ts.State {
		case api.TaskStateRunning:
			running++
		case api.TaskStateDead:
			dead++
			if ts.Failed {
				failed++
			}
		}
	}
	switch {
	case len(r.status.Tasks) > 0 && dead == len(r.status.Tasks) && failed > 0:
		r.status.ClientStatus, r.status.Description = api.AllocClientFailed, "a task failed"
	case len(r.status.Tasks) > 0 && dead == len(r.status.Tasks):
		r.status.ClientStatus, r.status.Description = api.AllocClientComplete, "all tasks have completed"
	case running > 0:
		r.status.ClientStatus, r.status.Description = api.AllocClientRunning, "tasks are running"
	case r.status.ClientStatus == api.AllocClientRunning:
		// Between lifecycle phases (poststop tasks yet to start).
	default:
		r.status.ClientStatus, r.status.Description = api.AllocClientPending, "no task has started"
	}
}

func (r *allocRunner) snapshot() *api.AllocStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Tasks = make(map[string]*api.TaskState, len(r.status.Tasks))
	for k, v := range r.status.Tasks {
		c := *v
		c.Events = append([]api.TaskEvent(nil), v.Events...)
		c.Handle = maps.Clone(v.Handle)
		st.Tasks[k] = &c
	}
	return &st
}

// writeStatus writes the allocation's status key. Writes are ordered, and
// retried a few times: a lost write is repaired by the next one.
func (r *allocRunner) writeStatus(ctx context.Context) {
	if r.detached() {
		return
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	st := r.snapshot()
	st.UpdateTime = time.Now().UTC()
	// Coalesced with the other writes of the agent (statuswriter.go);
	// the write outlives the runner's context.
	_ = r.a.statuses.write(context.WithoutCancel(ctx), r.current().ID, st)
}

// taskEnv builds a task's environment: the agent's own, the runtime
// variables Nomad tasks expect, then the task's env block.
func taskEnv(a *Agent, job *api.Job, g *api.TaskGroup, t *api.Task, alloc *api.Allocation, allocDir, taskDir string) []string {
	var env []string
	vars := map[string]string{
		"NOMAD_ALLOC_ID":       alloc.ID,
		"NOMAD_SHORT_ALLOC_ID": api.ShortID(alloc.ID),
		"NOMAD_ALLOC_NAME":     alloc.Name,
		"NOMAD_ALLOC_INDEX":    strconv.Itoa(alloc.Index),
		"NOMAD_ALLOC_DIR":      filepath.Join(allocDir, "alloc"),
		"NOMAD_TASK_DIR":       filepath.Join(taskDir, "local"),
		"NOMAD_SECRETS_DIR":    filepath.Join(taskDir, "secrets"),
		"NOMAD_JOB_ID":         job.ID,
		"NOMAD_JOB_NAME":       job.Name,
		"NOMAD_GROUP_NAME":     g.Name,
		"NOMAD_TASK_NAME":      t.Name,
		"NOMAD_NAMESPACE":      job.Namespace,
		"NOMAD_DC":             a.node.Datacenter,
		"NOMAD_NODE_ID":        a.cfg.NodeID,
		"NOMAD_NODE_NAME":      a.node.Name,
		"NOMAD_CPU_LIMIT":      strconv.Itoa(t.Resources.CPU),
		"NOMAD_MEMORY_LIMIT":   strconv.Itoa(t.Resources.MemoryMB),
	}
	for _, meta := range []map[string]string{job.Meta, g.Meta, t.Meta} {
		for k, v := range meta {
			vars["NOMAD_META_"+k] = v
		}
	}
	if job.ParentID != "" {
		vars["NOMAD_JOB_PARENT_ID"] = job.ParentID
	}
	bridge := g.Network != nil && g.Network.Mode == "bridge"
	for _, p := range alloc.Ports {
		inside := p.Value
		if bridge && p.To > 0 {
			inside = p.To
		}
		ip := p.HostIP
		if ip == "" {
			ip = a.node.Address
		}
		vars["NOMAD_PORT_"+p.Label] = strconv.Itoa(inside)
		vars["NOMAD_ALLOC_PORT_"+p.Label] = strconv.Itoa(inside)
		vars["NOMAD_HOST_PORT_"+p.Label] = strconv.Itoa(p.Value)
		vars["NOMAD_IP_"+p.Label] = ip
		vars["NOMAD_HOST_IP_"+p.Label] = ip
		vars["NOMAD_ADDR_"+p.Label] = net.JoinHostPort(ip, strconv.Itoa(p.Value))
		vars["NOMAD_HOST_ADDR_"+p.Label] = net.JoinHostPort(ip, strconv.Itoa(p.Value))
	}
	for k, v := range vars {
		// Nomad's names, and the same under our own prefix.
		env = append(env, k+"="+v, "NOMADIC_"+strings.TrimPrefix(k, "NOMAD_")+"="+v)
	}
	return append(env, taskEnvBlock(t)...)
}

// taskEnvBlock is the task's env block as KEY=value entries.
func taskEnvBlock(t *api.Task) []string {
	var env []string
	for k, v := range t.Env {
		env = append(env, k+"="+v)
	}
	return env
}
