package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/planner"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// keptEvals is how many finished evaluations of a job are kept for
// `nctl get evals`; older ones are deleted as new ones finish.
const keptEvals = 10

// maxPlanAttempts bounds how often one pass re-plans after conflicts.
const maxPlanAttempts = 5

// EvalController turns evaluations into committed plans. Every server runs
// one; the servers share the work by job: a server works a job's pending
// evaluations only while it holds the job's claim, a key bound to its
// lease, so a dead server's claims expire and another server takes over.
// All pending evaluations of a job are worked in one pass, so a burst of
// updates to one job costs one scheduling pass.
type EvalController struct {
	Store *store.Store
	// Cache is the server's informer, whose watch tells the controller
	// of evaluations, claims and nodes.
	Cache  *store.Cache
	Server string
	Lease  store.Lease
	// PlanLock, when set, is the session's plan lock, under which plans
	// are committed (store.PlanLock).
	PlanLock *store.PlanLock
	Workers  int
	Now      func() time.Time
	// PassTimeout bounds one scheduling pass (0: none); a pass cut short
	// is retried.
	PassTimeout time.Duration

	queue *queue

	mu      sync.Mutex
	blocked map[string]bool // jobs with a blocked evaluation
	// deferred are jobs this server left to another server's claim; the
	// claim's release brings them back.
	deferred map[string]bool
	timers   map[string]*time.Timer // jobs waiting for a delayed evaluation
}

// Run works evaluations until ctx ends.
func (c *EvalController) Run(ctx context.Context) {
	c.queue = newQueue()
	c.blocked = map[string]bool{}
	c.deferred = map[string]bool{}
	c.timers = map[string]*time.Timer{}
	defer func() {
		c.mu.Lock()
		for _, t := range c.timers {
			t.Stop()
		}
		c.mu.Unlock()
	}()
	var wg sync.WaitGroup
	subscribe := func(sub store.Subscriber) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Cache.Subscribe(ctx, sub)
		}()
	}
	subscribe(store.Subscriber{Kinds: []store.Kind{store.KindEvals}, Resync: c.resyncEvals, Changed: c.evalChanged})
	// A released or expired claim of another server may leave pending
	// evaluations of a job this server deferred to it. (Its own releases
	// bring nothing back: that would work every job again and again.)
	subscribe(onChange(func(ch store.Change) {
		if !ch.Deleted {
			return
		}
		job := ch.Namespace + "/" + ch.Job
		c.mu.Lock()
		deferred := c.deferred[job]
		delete(c.deferred, job)
		c.mu.Unlock()
		if deferred {
			c.queue.add(job)
		}
	}, store.KindEvalClaims))
	// New capacity may unblock evaluations that found no place.
	subscribe(onChange(func(ch store.Change) {
		if ch.Kind == store.KindNodes || !ch.Deleted {
			c.retryBlocked()
		}
	}, store.KindHeartbeats, store.KindNodes))
	runWorkers(ctx, c.queue, max(c.Workers, 1), c.work)
	wg.Wait()
}

func (c *EvalController) retryBlocked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.blocked {
		c.queue.add(k)
	}
}

// resyncEvals looks at every evaluation again after a (re)list.
func (c *EvalController) resyncEvals(all []store.Change) {
	c.mu.Lock()
	c.blocked = map[string]bool{}
	c.mu.Unlock()
	for _, ch := range all {
		c.evalChanged(ch)
	}
}

// evalChanged queues the job of a pending evaluation and remembers jobs
// with a blocked one.
func (c *EvalController) evalChanged(ch store.Change) {
	if ch.Deleted {
		return
	}
	e, err := store.Decode[api.Evaluation](ch)
	if err != nil || e.JobID == "" {
		slog.Warn("skipping undecodable evaluation", "eval", ch.ID, "err", err)
		return
	}
	job := e.Namespace + "/" + e.JobID
	c.mu.Lock()
	if e.Status == api.EvalStatusBlocked {
		c.blocked[job] = true
	}
	c.mu.Unlock()
	if e.Status == api.EvalStatusPending {
		c.queue.add(job)
	}
}

// work runs one scheduling pass for a job ("namespace/job").
func (c *EvalController) work(ctx context.Context, jobKey string) error {
	ns, jobID, ok := strings.Cut(jobKey, "/")
	if !ok || ns == "" || jobID == "" {
		return nil
	}
	// Marked before trying, so a release between the try and the mark
	// cannot be missed.
	c.mu.Lock()
	c.deferred[jobKey] = true
	c.mu.Unlock()
	claimed, err := c.Store.ClaimJob(ctx, ns, jobID, c.Server, c.Lease)
	if err != nil || claimed {
		c.mu.Lock()
		delete(c.deferred, jobKey)
		c.mu.Unlock()
	}
	if err != nil {
		return err
	}
	if !claimed {
		// Another server works it; its release brings the job back here.
		return nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.Store.ReleaseJob(rctx, ns, jobID, c.Lease); err != nil {
			slog.Warn("releasing job claim", "job", jobKey, "err", err)
		}
	}()
	start := time.Now()
	pctx := ctx
	if c.PassTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, c.PassTimeout)
		defer cancel()
	}
	err = c.process(pctx, ns, jobID)
	metricSchedule.Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() == nil {
		metricEvals.WithLabelValues("error").Inc()
		slog.Warn("evaluation failed; will retry", "job", jobKey, "err", err)
	}
	return err
}

func (c *EvalController) process(ctx context.Context, ns, jobID string) error {
	evals, err := c.Store.ListEvals(ctx, ns, jobID)
	if err != nil {
		return err
	}
	now := c.Now()
	var open []*api.Evaluation
	var wait time.Time
	for _, e := range evals {
		if e.Status != api.EvalStatusPending && e.Status != api.EvalStatusBlocked {
			continue
		}
		if e.WaitUntil.After(now) {
			// Not due yet (a delayed reschedule): come back then.
			if wait.IsZero() || e.WaitUntil.Before(wait) {
				wait = e.WaitUntil
			}
			continue
		}
		open = append(open, e)
	}
	if !wait.IsZero() {
		c.wakeAt(ns+"/"+jobID, wait)
	}
	if len(open) == 0 {
		return nil
	}
	guard := c.Store.ClaimGuard(ns, jobID, c.Lease)
	newest := open[len(open)-1]

	var plan *scheduler.Plan
	placed, stopped := 0, 0
	for attempt := 1; ; attempt++ {
		var snap *store.JobSnapshot
		plan, snap, err = planner.Compute(ctx, c.Store, ns, jobID, nil, newest.ID, c.Now())
		if err != nil {
			return err
		}
		if plan.Empty() {
			break
		}
		commit := &store.Commit{
			Allocs:       append(append([]*api.Allocation{}, plan.Place...), plan.Update...),
			Placing:      plan.Placing(),
			NodePlanRevs: snap.NodePlanRevs,
			Guard:        guard,
			Lock:         c.PlanLock,
		}
		for _, d := range append(plan.DeploymentUpdates, plan.Deployment) {
			if d != nil {
				commit.Deployments = append(commit.Deployments, d)
			}
		}
		n, err := c.Store.CommitPlan(ctx, commit)
		// What was written counts, also from a pass that conflicted.
		p, u := writtenOf(plan, commit.Written)
		placed, stopped = placed+p, stopped+u
		metricRefits.Add(float64(commit.Refitted))
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		metricConflicts.Inc()
		slog.Info("plan conflicted; re-planning", "job", ns+"/"+jobID, "attempt", attempt, "written", n)
		if attempt >= maxPlanAttempts {
			return fmt.Errorf("plan for job %q conflicted %d times", jobID, attempt)
		}
	}
	if err := c.followUps(ctx, ns, jobID, plan, wait, guard); err != nil {
		return err
	}

	now = c.Now()
	for _, e := range open {
		e.ModifyTime = now
		e.Status = api.EvalStatusComplete
		e.FailedTGAllocs = nil
		if e != newest {
			e.StatusDescription = "coalesced into evaluation " + api.ShortID(newest.ID)
		}
	}
	newest.PlacedAllocs += placed
	newest.StoppedAllocs += stopped
	if d := plan.Deployment; d != nil {
		newest.DeploymentID = d.ID
	} else {
		for _, p := range plan.Place {
			if p.DeploymentID != "" {
				newest.DeploymentID = p.DeploymentID
				break
			}
		}
	}
	newest.StatusDescription = ""
	if len(plan.Failed) > 0 {
		newest.Status = api.EvalStatusBlocked
		newest.FailedTGAllocs = plan.Failed
		newest.StatusDescription = "some allocations could not be placed; retried when nodes change"
	}
	if err := c.Store.UpdateEvals(ctx, open, guard); err != nil {
		return err
	}
	metricEvals.WithLabelValues(newest.Status).Add(float64(len(open)))
	for _, e := range open {
		metricEvalLatency.Observe(now.Sub(e.CreateTime).Seconds())
	}
	metricPlaced.Add(float64(placed))
	c.mu.Lock()
	if newest.Status == api.EvalStatusBlocked {
		c.blocked[ns+"/"+jobID] = true
	} else {
		delete(c.blocked, ns+"/"+jobID)
	}
	c.mu.Unlock()
	return c.trimEvals(ctx, evals, guard)
}

// writtenOf counts the placements and the updates of a plan among the
// allocations a commit wrote.
func writtenOf(plan *scheduler.Plan, written []*api.Allocation) (placed, updated int) {
	if len(written) == 0 {
		return 0, 0
	}
	place := make(map[string]bool, len(plan.Place))
	for _, a := range plan.Place {
		place[a.ID] = true
	}
	for _, a := range written {
		if place[a.ID] {
			placed++
		} else {
			updated++
		}
	}
	return placed, updated
}

// followUps creates the evaluations a plan calls for: a delayed one for
// reschedules waiting for their delay (unless one is already waiting no
// later), and one for each job whose allocations were preempted.
func (c *EvalController) followUps(ctx context.Context, ns, jobID string, plan *scheduler.Plan, waiting time.Time, guard store.Guard) error {
	if at := plan.NextEvalAt; !at.IsZero() && (waiting.IsZero() || waiting.After(at)) {
		e, err := c.Store.CreateEvalAt(ctx, ns, jobID, api.EvalTriggerReschedule, "", c.Now(), at, guard)
		if err != nil {
			return err
		}
		c.wakeAt(ns+"/"+jobID, e.WaitUntil)
	}
	seen := map[string]bool{}
	for _, a := range plan.Preempted {
		k := a.Namespace + "/" + a.JobID
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, err := c.Store.CreateEval(ctx, a.Namespace, a.JobID, api.EvalTriggerPreemption, a.NodeID, c.Now(), guard); err != nil {
			return err
		}
	}
	return nil
}

// wakeAt queues a job again at a given time.
func (c *EvalController) wakeAt(job string, at time.Time) {
	d := at.Sub(c.Now())
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.timers[job]; t != nil {
		t.Stop()
	}
	c.timers[job] = time.AfterFunc(max(d, 0)+10*time.Millisecond, func() { c.queue.add(job) })
}

// trimEvals deletes the oldest finished evaluations beyond keptEvals.
func (c *EvalController) trimEvals(ctx context.Context, evals []*api.Evaluation, guard store.Guard) error {
	var done []*api.Evaluation
	for _, e := range evals {
		if e.Status == api.EvalStatusComplete || e.Status == api.EvalStatusFailed {
			done = append(done, e)
		}
	}
	if len(done) <= keptEvals {
		return nil
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].ModifyTime.Before(done[j].ModifyTime) })
	return c.Store.DeleteEvals(ctx, done[:len(done)-keptEvals], guard)
}
