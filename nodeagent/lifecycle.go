package nodeagent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// lifecycle is one run of an allocation's tasks, phase by phase: prestart
// tasks (the ones that are not sidecars to completion), then the main
// tasks, with the poststart tasks once the main tasks run; the allocation
// ends when its main tasks are all dead, when its leader dies, when a
// main or prestart task fails for good, or when the servers stop it; the
// remaining tasks are then killed (after the group's shutdown_delay) and
// the poststop tasks run to completion, even after a failure.
//
// Every goroutine of the run belongs to wg. Only the goroutine that calls
// runTasks starts them and only it waits for them, so no Add can race a
// Wait; a goroutine that watches the main tasks ends with helpers.
type lifecycle struct {
	r     *allocRunner
	job   *api.Job
	group *api.TaskGroup
	// ctx ends when the agent detaches from the tasks.
	ctx context.Context
	// helpers ends the goroutines that watch the main tasks once the
	// tasks were killed.
	helpers     context.Context
	stopHelpers context.CancelFunc
	wg          sync.WaitGroup

	pre, main, post, stop []*taskRunner
	runners               map[string]*taskRunner
	// ended receives each main task once it is dead for good.
	ended chan *taskRunner
	// overdue receives a main task that ran past its max_run_duration.
	overdue chan *taskRunner
	// timedOut is set when the allocation ends for a max_run_duration:
	// its poststop tasks do not run.
	timedOut bool
}

// runTasks runs an allocation's tasks in their lifecycle order until they
// are all dead, or until the agent detaches from them.
func (r *allocRunner) runTasks(ctx context.Context, job *api.Job, g *api.TaskGroup) {
	lc := newLifecycle(ctx, r, job, g)
	defer lc.close()
	why, detached := lc.prestart()
	if why == "" && !detached {
		why, detached = lc.runMain()
	}
	if detached {
		// The tasks are left running for the next agent to re-attach.
		lc.wait()
		return
	}
	lc.shutdown(why)
	lc.wait()
	if r.detached() {
		return
	}
	if !lc.timedOut {
		lc.poststop()
	}
	r.abandonPending()
}

func newLifecycle(ctx context.Context, r *allocRunner, job *api.Job, g *api.TaskGroup) *lifecycle {
	// Every task is known from the start, so that the allocation does not
	// read complete while its poststop tasks have yet to run.
	r.mu.Lock()
	for _, t := range g.Tasks {
		if r.status.Tasks[t.Name] == nil {
			r.status.Tasks[t.Name] = &api.TaskState{State: api.TaskStatePending}
		}
	}
	r.mu.Unlock()
	lc := &lifecycle{r: r, job: job, group: g, ctx: ctx, runners: map[string]*taskRunner{}}
	lc.helpers, lc.stopHelpers = context.WithCancel(ctx)
	for _, t := range g.Tasks {
		tr := newTaskRunner(r, job, g, t)
		lc.runners[t.Name] = tr
		switch tr.hook() {
		case "prestart":
			lc.pre = append(lc.pre, tr)
		case "poststart":
			lc.post = append(lc.post, tr)
		case "poststop":
			lc.stop = append(lc.stop, tr)
		default:
			lc.main = append(lc.main, tr)
		}
	}
	lc.ended = make(chan *taskRunner, len(lc.main))
	lc.overdue = make(chan *taskRunner, len(lc.main))
	return lc
}

// start runs tasks, each in a goroutine of the run; main tasks report
// their end on ended.
func (lc *lifecycle) start(trs []*taskRunner, main bool) {
	for _, tr := range trs {
		lc.wg.Go(func() {
			tr.run(lc.ctx)
			if main && tr.isDone() {
				lc.ended <- tr
			}
		})
	}
}

// helper runs fn in a goroutine of the run until the tasks were killed.
func (lc *lifecycle) helper(fn func(ctx context.Context)) {
	lc.wg.Go(func() { fn(lc.helpers) })
}

// prestart runs the prestart tasks and waits for those that are not
// sidecars. It returns why the allocation ends, or "" to go on to the
// main tasks.
func (lc *lifecycle) prestart() (why string, detached bool) {
	r := lc.r
	lc.start(lc.pre, false)
	for _, tr := range lc.pre {
		if tr.sidecar() {
			continue
		}
		select {
		case <-tr.done:
			if tr.failed {
				return "prestart task " + tr.task.Name + " failed", false
			}
		case <-r.stopCh:
			return "allocation stopped", false
		case <-r.detachCh:
			return "", true
		}
	}
	return "", false
}

// runMain runs the main tasks, and the poststart tasks and the group's
// services once every main task has started, until the allocation ends.
// It returns why it ended.
func (lc *lifecycle) runMain() (why string, detached bool) {
	r := lc.r
	lc.start(lc.main, true)
	r.mu.Lock()
	r.tasks = lc.runners
	r.mu.Unlock()
	lc.helper(func(ctx context.Context) { r.watchHealth(ctx, lc.group, lc.main) })
	for _, tr := range lc.main {
		if d := tr.task.MaxRunDuration.Std(); d > 0 && (lc.job.Type == api.JobTypeBatch || lc.job.Type == api.JobTypeSysbatch) {
			lc.helper(func(ctx context.Context) { lc.watchRunDuration(ctx, tr, d) })
		}
	}
	started := make(chan struct{})
	lc.helper(func(ctx context.Context) {
		for _, tr := range lc.main {
			select {
			case <-tr.started:
			case <-ctx.Done():
				return
			}
		}
		close(started)
	})
	for remaining := len(lc.main); remaining > 0; {
		select {
		case <-started:
			started = nil
			// Requests made while the agent was away are carried out now.
			lc.wg.Go(r.checkRequests)
			if !r.stopping() {
				lc.start(lc.post, false)
				r.startServices(lc.ctx, lc.job, lc.group)
			}
		case tr := <-lc.ended:
			remaining--
			switch {
			case tr.failed:
				return "task " + tr.task.Name + " failed", false
			case tr.task.Leader:
				return "leader task " + tr.task.Name + " ended", false
			}
		case <-lc.overdue:
			// The whole allocation ends, and its poststop tasks do not
			// run (as Nomad's batch timeouts): complete, not failed.
			lc.timedOut = true
			r.mu.Lock()
			r.stopWhy = api.AllocExceededMaxRunDuration
			r.mu.Unlock()
			return api.AllocExceededMaxRunDuration, false
		case <-r.stopCh:
			return "allocation stopped", false
		case <-r.detachCh:
			return "", true
		}
	}
	return "main tasks ended", false
}

// watchRunDuration reports a main task of a batch or sysbatch job that
// still runs limit after it started (its start before an agent restart
// counts: the status keeps it).
func (lc *lifecycle) watchRunDuration(ctx context.Context, tr *taskRunner, limit time.Duration) {
	select {
	case <-tr.started:
	case <-ctx.Done():
		return
	}
	r := lc.r
	start := time.Now()
	r.mu.Lock()
	if ts := r.status.Tasks[tr.task.Name]; ts != nil && !ts.StartedAt.IsZero() {
		start = ts.StartedAt
	}
	r.mu.Unlock()
	t := time.NewTimer(time.Until(start.Add(limit)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-tr.done:
		return
	case <-ctx.Done():
		return
	}
	slog.Info("task exceeded max_run_duration", "alloc", api.ShortID(r.current().ID), "task", tr.task.Name, "max_run_duration", limit)
	lc.overdue <- tr
}

// shutdown stops what still runs: the group's services leave the catalog,
// then, after the group's shutdown_delay, every task that is not a
// poststop task is killed.
func (lc *lifecycle) shutdown(why string) {
	r := lc.r
	if !r.detached() {
		r.stopServices()
	}
	if d := lc.group.ShutdownDelay.Std(); d > 0 && !r.detached() {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.detachCh:
		case <-r.skipDelay:
		}
		t.Stop()
	}
	var kills sync.WaitGroup
	for _, trs := range [][]*taskRunner{lc.pre, lc.main, lc.post} {
		for _, tr := range trs {
			kills.Go(func() { tr.kill(lc.ctx, why) })
		}
	}
	kills.Wait()
}

// poststop runs the poststop tasks to completion.
func (lc *lifecycle) poststop() {
	lc.start(lc.stop, false)
	lc.wg.Wait()
}

// wait stops the helpers and waits for every goroutine of the run.
func (lc *lifecycle) wait() {
	lc.stopHelpers()
	lc.wg.Wait()
}

// close ends the run: operators' requests are no longer taken, and those
// under way are waited for.
func (lc *lifecycle) close() {
	lc.stopHelpers()
	r := lc.r
	r.mu.Lock()
	r.tasks = nil
	r.mu.Unlock()
	r.requests.Wait()
}

// abandonPending marks the tasks that never started (after a failed
// prestart task, or a stop before they ran) dead, so the allocation's
// status settles.
func (r *allocRunner) abandonPending() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ts := range r.status.Tasks {
		if ts.State == api.TaskStatePending {
			ts.State = api.TaskStateDead
			r.event(ts, "Not Started", "the allocation ended before this task ran")
		}
	}
}
