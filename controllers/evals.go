package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
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
	Store   *store.Store
	Server  string
	Lease   clientv3.LeaseID
	Workers int
	Now     func() time.Time
	// PassTimeout bounds one scheduling pass (0: none); a pass cut short
	// is retried.
	PassTimeout time.Duration

	queue *queue

	mu      sync.Mutex
	blocked map[string]bool        // jobs with a blocked evaluation
	timers  map[string]*time.Timer // jobs waiting for a delayed evaluation
}

// Run works evaluations until ctx ends.
func (c *EvalController) Run(ctx context.Context) {
	c.queue = newQueue()
	c.blocked = map[string]bool{}
	c.timers = map[string]*time.Timer{}
	defer func() {
		c.mu.Lock()
		for _, t := range c.timers {
			t.Stop()
		}
		c.mu.Unlock()
	}()
	keys := c.Store.Keys()
	var wg sync.WaitGroup
	watch := func(prefix string, h store.Handler) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Store.ListWatch(ctx, prefix, h)
		}()
	}
	watch(keys.Kind("evals"), &evalHandler{c: c})
	// A released or expired claim may leave pending evaluations behind.
	watch(keys.Kind("evalclaims"), handlerFuncs{apply: func(ev store.Event) {
		if ev.Delete {
			c.queue.add(jobKeyFromSuffix(ev.Key, keys.Kind("evalclaims")))
		}
	}})
	// New capacity may unblock evaluations that found no place.
	watch(keys.Kind("heartbeats"), handlerFuncs{apply: func(ev store.Event) {
		if !ev.Delete {
			c.retryBlocked()
		}
	}})
	watch(keys.Kind("nodes"), handlerFuncs{apply: func(store.Event) { c.retryBlocked() }})
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

// evalHandler queues the jobs that have evaluations to work.
type evalHandler struct{ c *EvalController }

func (h *evalHandler) Replace(items map[string][]byte, _ int64) {
	h.c.mu.Lock()
	h.c.blocked = map[string]bool{}
	h.c.mu.Unlock()
	for key, value := range items {
		h.Apply(store.Event{Key: key, Value: value})
	}
}

func (h *evalHandler) Apply(ev store.Event) {
	if ev.Delete {
		return
	}
	var e api.Evaluation
	if err := jsonUnmarshal(ev.Value, &e); err != nil || e.JobID == "" {
		slog.Warn("skipping undecodable evaluation", "key", ev.Key, "err", err)
		return
	}
	job := e.Namespace + "/" + e.JobID
	h.c.mu.Lock()
	if e.Status == api.EvalStatusBlocked {
		h.c.blocked[job] = true
	}
	h.c.mu.Unlock()
	if e.Status == api.EvalStatusPending {
		h.c.queue.add(job)
	}
}

func jobKeyFromSuffix(key, prefix string) string { return strings.TrimPrefix(key, prefix) }

// work runs one scheduling pass for a job ("namespace/job").
func (c *EvalController) work(ctx context.Context, jobKey string) error {
	ns, jobID, ok := strings.Cut(jobKey, "/")
	if !ok || ns == "" || jobID == "" {
		return nil
	}
	claimed, err := c.Store.ClaimJob(ctx, ns, jobID, c.Server, c.Lease)
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
	guards := []clientv3.Cmp{c.Store.ClaimGuard(ns, jobID, c.Lease)}
	newest := open[len(open)-1]

	var plan *scheduler.Plan
	placed, stopped := 0, 0
	for attempt := 1; ; attempt++ {
		var snap *store.Snapshot
		plan, snap, err = ComputePlan(ctx, c.Store, ns, jobID, nil, newest.ID, c.Now())
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
			Guards:       guards,
		}
		for _, d := range append(plan.DeploymentUpdates, plan.Deployment) {
			if d != nil {
				commit.Ops = append(commit.Ops, c.Store.DeploymentOp(d))
			}
		}
		n, err := c.Store.CommitPlan(ctx, commit)
		if err == nil {
			placed += len(plan.Place)
			stopped += len(plan.Update)
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
	if err := c.followUps(ctx, ns, jobID, plan, wait, guards); err != nil {
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
	newest.StatusDescription = ""
	if len(plan.Failed) > 0 {
		newest.Status = api.EvalStatusBlocked
		newest.FailedTGAllocs = plan.Failed
		newest.StatusDescription = "some allocations could not be placed; retried when nodes change"
	}
	if err := c.Store.UpdateEvals(ctx, open, guards); err != nil {
		return err
	}
	metricEvals.WithLabelValues(newest.Status).Add(float64(len(open)))
	metricPlaced.Add(float64(placed))
	c.mu.Lock()
	if newest.Status == api.EvalStatusBlocked {
		c.blocked[ns+"/"+jobID] = true
	} else {
		delete(c.blocked, ns+"/"+jobID)
	}
	c.mu.Unlock()
	return c.trimEvals(ctx, evals, guards)
}

// followUps creates the evaluations a plan calls for: a delayed one for
// reschedules waiting for their delay (unless one is already waiting no
// later), and one for each job whose allocations were preempted.
func (c *EvalController) followUps(ctx context.Context, ns, jobID string, plan *scheduler.Plan, waiting time.Time, guards []clientv3.Cmp) error {
	if at := plan.NextEvalAt; !at.IsZero() && (waiting.IsZero() || waiting.After(at)) {
		e, err := c.Store.CreateEvalAt(ctx, ns, jobID, api.EvalTriggerReschedule, "", c.Now(), at, guards...)
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
		if _, err := c.Store.CreateEval(ctx, a.Namespace, a.JobID, api.EvalTriggerPreemption, a.NodeID, c.Now(), guards...); err != nil {
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

// ComputePlan runs the scheduler for a job on a fresh snapshot of the
// cluster. With job nil it reads the job's stored specification (nil if it
// was purged); the API's dry run passes the job it was given instead.
func ComputePlan(ctx context.Context, st *store.Store, ns, jobID string, job *api.Job, evalID string, now time.Time) (*scheduler.Plan, *store.Snapshot, error) {
	if job == nil {
		j, _, err := st.GetJob(ctx, ns, jobID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		default:
			job = j
		}
	}
	snap, err := st.ReadSnapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	versions := map[uint64]*api.Job{}
	if job != nil {
		for _, a := range snap.Allocs {
			if a.Namespace != ns || a.JobID != jobID || a.JobVersion == job.Version || versions[a.JobVersion] != nil {
				continue
			}
			v, err := st.GetJobVersion(ctx, ns, jobID, a.JobVersion)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, nil, err
			}
			if v != nil {
				versions[a.JobVersion] = v
			}
		}
	}
	cfg, err := st.GetSchedulerConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	dep, err := st.LatestDeployment(ctx, ns, jobID)
	if err != nil {
		return nil, nil, err
	}
	plan := scheduler.Compute(&scheduler.Input{
		Namespace: ns, JobID: jobID, Job: job, Versions: versions, Deployment: dep,
		Nodes: snap.Nodes, Allocs: snap.Allocs,
		EvalID: evalID, Now: now, NewID: api.NewID,
		Config: scheduler.Config{Algorithm: cfg.Algorithm, DisablePreemption: cfg.PreemptionDisabled, Seed: seedOf(evalID)},
	})
	return plan, snap, nil
}

// seedOf derives the scheduler's seed from an evaluation ID, so that one
// evaluation always makes the same choices.
func seedOf(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// trimEvals deletes the oldest finished evaluations beyond keptEvals.
func (c *EvalController) trimEvals(ctx context.Context, evals []*api.Evaluation, guards []clientv3.Cmp) error {
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
	return c.Store.DeleteEvals(ctx, done[:len(done)-keptEvals], guards)
}
