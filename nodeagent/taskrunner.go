package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
)

// taskRunner runs one task of an allocation: starts it, waits for it and
// restarts it in place according to the group's restart policy.
type taskRunner struct {
	r     *allocRunner
	job   *api.Job
	group *api.TaskGroup
	task  *api.Task

	started   chan struct{} // closed once the task first runs
	startOnce sync.Once
	done      chan struct{} // closed when the task is dead for good
	failed    bool          // set before done closes
	killed    chan struct{}
	killOnce  sync.Once
	forced    atomic.Bool // an operator's restart is under way
	unhealthy atomic.Bool // a check_restart's restart is under way

	// files is what the prestart hooks keep (templates.go); the watches
	// of the templates' data belong to watches and end with watchCtx,
	// when run returns.
	files    *taskFiles
	watchCtx context.Context
	watches  sync.WaitGroup
}

// restart stops the running task so that its runner starts it again at
// once, outside the restart policy's count.
func (tr *taskRunner) restart() { tr.restartFor("restart requested by an operator") }

// restartFor is restart with the reason the task's events show.
func (tr *taskRunner) restartFor(why string) { tr.stopToRestart(why, &tr.forced) }

// restartUnhealthy stops the running task for a check that stays
// unhealthy: its runner restarts it as a failed task, under the group's
// restart policy (which may give up on it).
func (tr *taskRunner) restartUnhealthy(why string) { tr.stopToRestart(why, &tr.unhealthy) }

// stopToRestart stops the running task, setting flag first so that its
// runner knows why it ended.
func (tr *taskRunner) stopToRestart(why string, flag *atomic.Bool) {
	r := tr.r
	r.mu.Lock()
	h := r.handles[tr.task.Name]
	ts := r.status.Tasks[tr.task.Name]
	running := ts != nil && ts.State == api.TaskStateRunning
	if running {
		r.event(ts, "Restart Signaled", why)
	}
	r.mu.Unlock()
	if h == nil || !running {
		return
	}
	flag.Store(true)
	if err := h.Stop(context.Background(), parseSignal(tr.task.KillSignal), max(tr.task.KillTimeout.Std(), time.Second)); err != nil {
		slog.Warn("restarting task", "task", tr.task.Name, "err", err)
	}
}

// signal sends a signal to the running task.
func (tr *taskRunner) signal(name string) {
	tr.signalFor(name, "sending "+name+" at an operator's request")
}

// signalFor is signal with the reason the task's events show.
func (tr *taskRunner) signalFor(name, why string) {
	r := tr.r
	r.mu.Lock()
	h := r.handles[tr.task.Name]
	ts := r.status.Tasks[tr.task.Name]
	if ts != nil && ts.State == api.TaskStateRunning {
		r.event(ts, "Signaling", why)
	}
	r.mu.Unlock()
	if h == nil {
		return
	}
	if err := h.Signal(parseSignal(name)); err != nil {
		slog.Warn("signaling task", "task", tr.task.Name, "err", err)
	}
}

func newTaskRunner(r *allocRunner, job *api.Job, g *api.TaskGroup, t *api.Task) *taskRunner {
	return &taskRunner{r: r, job: job, group: g, task: t, started: make(chan struct{}), done: make(chan struct{}), killed: make(chan struct{}),
		files: &taskFiles{notify: make(chan struct{}, 1)}, watchCtx: context.Background()}
}

func (tr *taskRunner) hook() string {
	if tr.task.Lifecycle == nil {
		return ""
	}
	return tr.task.Lifecycle.Hook
}

func (tr *taskRunner) sidecar() bool { return tr.task.Lifecycle != nil && tr.task.Lifecycle.Sidecar }

// restartsOnSuccess reports whether a task that exits 0 is restarted: the
// long-running tasks of service and system jobs are; batch tasks and
// hooks that are not sidecars run to completion.
func (tr *taskRunner) restartsOnSuccess() bool {
	if tr.job.Type == api.JobTypeBatch || tr.job.Type == api.JobTypeSysbatch {
		return false
	}
	return tr.hook() == "" || tr.sidecar()
}

func (tr *taskRunner) markStarted() { tr.startOnce.Do(func() { close(tr.started) }) }

// run drives the task until it is dead for good, the allocation stops, or
// the agent detaches.
func (tr *taskRunner) run(ctx context.Context) {
	r, t := tr.r, tr.task
	defer tr.markStarted()
	wctx, stopWatches := context.WithCancel(ctx)
	tr.watchCtx = wctx
	defer func() {
		stopWatches()
		tr.watches.Wait()
	}()
	watching := false
	var restarts []time.Time
	for {
		h, err := r.startOrRecover(ctx, tr)
		failed := false
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			failed = true
		case h == nil:
			// Ended before an agent restart.
			tr.finish(r.taskFailed(t.Name))
			return
		default:
			tr.markStarted()
			if len(t.Templates) > 0 && !watching {
				watching = true
				tr.watches.Go(func() { tr.watchTemplates(wctx) })
			}
			r.refreshClientStatus()
			r.writeStatus(ctx)
			res, werr := h.Wait(ctx)
			if werr != nil {
				return // the agent detached
			}
			failed = r.taskExited(t, res, tr.wasKilled())
			if tr.unhealthy.CompareAndSwap(true, false) {
				failed = true // whatever its exit code: a check failed it
			}
		}
		if tr.wasKilled() || r.stopping() {
			tr.settle(ctx, false)
			return
		}
		if tr.forced.CompareAndSwap(true, false) {
			// An operator's restart: again at once, not counted.
			r.mu.Lock()
			ts := r.status.Tasks[t.Name]
			ts.Restarts++
			ts.Failed = false
			ts.State = api.TaskStatePending
			ts.Handle = nil
			delete(r.handles, t.Name)
			r.mu.Unlock()
			continue
		}
		if !failed && !tr.restartsOnSuccess() {
			tr.settle(ctx, false)
			return
		}
		delay, ok := tr.restartDelay(&restarts)
		if !ok {
			r.mu.Lock()
			r.event(r.status.Tasks[t.Name], "Not Restarting", "exceeded the restart policy's attempts")
			r.mu.Unlock()
			tr.settle(ctx, failed || tr.restartsOnSuccess())
			return
		}
		r.mu.Lock()
		ts := r.status.Tasks[t.Name]
		ts.Restarts++
		ts.Failed = false
		ts.State = api.TaskStatePending
		r.event(ts, "Restarting", fmt.Sprintf("restarting in %v", delay))
		r.mu.Unlock()
		r.writeStatus(ctx)
		select {
		case <-time.After(delay):
		case <-tr.killed:
			tr.finish(false)
			return
		case <-r.stopCh:
			tr.finish(false)
			return
		case <-ctx.Done():
			return
		}
		r.mu.Lock()
		delete(r.handles, t.Name)
		ts.State = api.TaskStatePending
		ts.Handle = nil
		r.mu.Unlock()
	}
}

// restartDelay applies the restart policy: attempts within the interval,
// each after the delay; past the attempts, mode "delay" waits for the
// interval to free an attempt and mode "fail" gives up.
func (tr *taskRunner) restartDelay(restarts *[]time.Time) (time.Duration, bool) {
	pol := tr.group.Restart
	if tr.task != nil && tr.task.Restart != nil {
		pol = tr.task.Restart // the task's own, over its group's
	}
	if pol == nil {
		return 0, false
	}
	now := time.Now()
	kept := (*restarts)[:0]
	for _, at := range *restarts {
		if pol.Interval <= 0 || now.Sub(at) < pol.Interval.Std() {
			kept = append(kept, at)
		}
	}
	*restarts = kept
	delay := pol.Delay.Std()
	if len(kept) >= pol.Attempts {
		if pol.Mode != "delay" || pol.Interval <= 0 || len(kept) == 0 {
			return 0, false
		}
		delay = max(delay, kept[0].Add(pol.Interval.Std()).Sub(now))
		*restarts = kept[1:]
	}
	*restarts = append(*restarts, now.Add(delay))
	return delay, true
}

// settle records the task's final state, reports it, and ends the runner.
func (tr *taskRunner) settle(ctx context.Context, failed bool) {
	r := tr.r
	r.mu.Lock()
	r.status.Tasks[tr.task.Name].Failed = failed
	r.mu.Unlock()
	r.refreshClientStatus()
	r.writeStatus(ctx)
	tr.finish(failed)
}

func (tr *taskRunner) finish(failed bool) {
	tr.failed = failed
	close(tr.done)
}

// isDone reports whether the task is dead for good (rather than left
// running by an agent that detached).
func (tr *taskRunner) isDone() bool {
	select {
	case <-tr.done:
		return true
	default:
		return false
	}
}

func (tr *taskRunner) wasKilled() bool {
	select {
	case <-tr.killed:
		return true
	default:
		return false
	}
}

// kill stops the task: after its shutdown_delay, its kill_signal, then
// SIGKILL after its kill_timeout.
func (tr *taskRunner) kill(ctx context.Context, why string) {
	r := tr.r
	r.mu.Lock()
	// Under mu, where a starting task records its handle: either the
	// handle is seen here, or the task sees it was killed and stops.
	tr.killOnce.Do(func() { close(tr.killed) })
	h := r.handles[tr.task.Name]
	ts := r.status.Tasks[tr.task.Name]
	running := ts != nil && ts.State == api.TaskStateRunning
	if running {
		r.event(ts, "Killing", why)
	}
	r.mu.Unlock()
	if h == nil || !running {
		return
	}
	if d := tr.task.ShutdownDelay.Std(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.skipDelay:
		case <-tr.done:
			return
		}
	}
	sig := parseSignal(tr.task.KillSignal)
	if err := h.Stop(ctx, sig, max(tr.task.KillTimeout.Std(), time.Second)); err != nil {
		slog.Warn("stopping task", "task", tr.task.Name, "err", err)
		return
	}
	r.mu.Lock()
	r.event(ts, "Killed", "task killed")
	r.mu.Unlock()
}

// stopMissed stops a task that started while it was being killed.
func (tr *taskRunner) stopMissed(ctx context.Context, h driver.Handle) {
	r := tr.r
	r.mu.Lock()
	r.event(r.status.Tasks[tr.task.Name], "Killing", "the allocation ended while the task started")
	r.mu.Unlock()
	if err := h.Stop(ctx, parseSignal(tr.task.KillSignal), max(tr.task.KillTimeout.Std(), time.Second)); err != nil {
		slog.Warn("stopping task", "task", tr.task.Name, "err", err)
	}
}

var signals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGHUP": syscall.SIGHUP,
	"SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// parseSignal reads a kill_signal such as "SIGINT" or "INT"; SIGTERM by
// default.
func parseSignal(s string) syscall.Signal {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig, ok := signals[s]; ok {
		return sig
	}
	return syscall.SIGTERM
}

// taskFailed reports whether a task's recorded state says it failed.
func (r *allocRunner) taskFailed(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.status.Tasks[name]
	return ts != nil && ts.Failed
}
