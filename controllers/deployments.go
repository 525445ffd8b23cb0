package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DeploymentWatcher is a singleton controller that moves active
// deployments along: it counts the health of their allocations, moves
// the progress deadline when an allocation becomes healthy, fails a
// deployment on an unhealthy allocation or a missed progress deadline
// (reverting the job to its newest stable version when auto_revert asks,
// in the same transaction), promotes healthy canaries when auto_promote
// asks, and marks a deployment successful, and its job version stable,
// once every group has its count of healthy allocations. A change in
// health evaluates the job, so the scheduler takes the rollout's next
// step. Every write compares the election key and the deployment's
// revision.
type DeploymentWatcher struct {
	Store *store.Store
	Guard clientv3.Cmp
	Now   func() time.Time
	// Tick is how often active deployments are looked at for their
	// deadlines (default 1 s).
	Tick time.Duration
}

// Run watches deployments and allocation health until ctx ends.
func (w *DeploymentWatcher) Run(ctx context.Context) {
	if w.Tick <= 0 {
		w.Tick = time.Second
	}
	q := newQueue()
	keys := w.Store.Keys()
	var mu sync.Mutex
	active := map[string]bool{} // "ns/job" of active deployments
	health := map[string]string{}

	depPrefix := keys.Deployments("", "")
	onDeployment := func(ev store.Event) {
		rest := strings.TrimPrefix(ev.Key, depPrefix)
		i := strings.LastIndex(rest, "/")
		if i < 0 {
			return
		}
		job := rest[:i]
		var d api.Deployment
		mu.Lock()
		defer mu.Unlock()
		if ev.Delete || json.Unmarshal(ev.Value, &d) != nil || !d.Active() {
			return
		}
		active[job] = true
		q.add("job:" + job)
	}
	statusPrefix := keys.Kind("allocstatus")
	onStatus := func(ev store.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Delete {
			delete(health, ev.Key)
			return
		}
		var st api.AllocStatus
		if json.Unmarshal(ev.Value, &st) != nil {
			return
		}
		h := ""
		if st.Health != nil {
			h = fmt.Sprint(st.Health.Healthy)
		}
		if h != health[ev.Key] {
			health[ev.Key] = h
			if len(active) > 0 {
				q.add("alloc:" + strings.TrimPrefix(ev.Key, statusPrefix))
			}
		}
	}
	var wg sync.WaitGroup
	for prefix, apply := range map[string]func(store.Event){depPrefix: onDeployment, statusPrefix: onStatus} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Store.ListWatch(ctx, prefix, handlerFuncs{apply: apply})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		every(ctx, w.Tick, "deployment deadlines", func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			for job := range active {
				q.add("job:" + job)
			}
			return nil
		})
	}()
	runWorkers(ctx, q, 2, func(ctx context.Context, key string) error {
		if rest, ok := strings.CutPrefix(key, "alloc:"); ok {
			return w.allocChanged(ctx, rest)
		}
		ns, job, _ := strings.Cut(strings.TrimPrefix(key, "job:"), "/")
		still, err := w.reconcile(ctx, ns, job)
		if err == nil && !still {
			mu.Lock()
			delete(active, ns+"/"+job)
			mu.Unlock()
		}
		return err
	})
	wg.Wait()
}

// allocChanged reconciles the deployment of an allocation whose health
// changed ("node/alloc").
func (w *DeploymentWatcher) allocChanged(ctx context.Context, key string) error {
	nodeID, allocID, _ := strings.Cut(key, "/")
	resp, err := w.Store.Client().Get(ctx, w.Store.Keys().Alloc(nodeID, allocID))
	if err != nil || len(resp.Kvs) == 0 {
		return err
	}
	var a api.Allocation
	if json.Unmarshal(resp.Kvs[0].Value, &a) != nil || a.DeploymentID == "" {
		return nil
	}
	_, err = w.reconcile(ctx, a.Namespace, a.JobID)
	return err
}

// reconcile takes one step for the job's active deployment. It reports
// whether the job still has an active deployment.
func (w *DeploymentWatcher) reconcile(ctx context.Context, ns, jobID string) (bool, error) {
	d, err := w.Store.LatestDeployment(ctx, ns, jobID)
	if err != nil || d == nil || !d.Active() {
		return false, err
	}
	d, rev, err := w.Store.ReadDeployment(ctx, ns, jobID, d.ID)
	if err != nil {
		return false, err
	}
	job, _, err := w.Store.GetJob(ctx, ns, jobID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return true, err
	}
	allocs, err := w.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns, JobID: jobID})
	if err != nil {
		return true, err
	}
	step := DeploymentStep(d, job, allocs, w.Now())
	if step == nil {
		return true, nil
	}
	change := &store.DeploymentChange{Deployment: step.Next, Rev: rev}
	now := w.Now()
	reverted := false
	if step.Revert {
		if reverted, err = addRevert(ctx, w.Store, change, now); err != nil {
			return true, err
		}
		step.Evaluate = step.Evaluate || !reverted
	}
	if step.Evaluate && !reverted {
		change.Ops = append(change.Ops, w.Store.EvalOp(ns, jobID, api.EvalTriggerDeployment, "", now))
	}
	if step.Next.Status == api.DeploymentSuccessful {
		cmps, ops, err := w.Store.StableOps(ctx, ns, jobID, d.JobVersion)
		if err != nil {
			return true, err
		}
		change.Cmps, change.Ops = append(change.Cmps, cmps...), append(change.Ops, ops...)
	}
	if err := w.Store.UpdateDeployment(ctx, change, w.Guard); err != nil {
		return true, err
	}
	if step.Next.Status != d.Status {
		slog.Info("deployment "+step.Next.Status, "deployment", api.ShortID(d.ID), "job", jobID,
			"version", d.JobVersion, "why", step.Next.StatusDescription)
		metricDeployments.WithLabelValues(step.Next.Status).Inc()
	}
	return step.Next.Active(), nil
}

// addRevert adds to a change that fails a deployment the writes that
// submit the job's newest stable version older than the deployment's
// again, and says so in the deployment's description. It reports whether
// there was a version to revert to.
func addRevert(ctx context.Context, st *store.Store, change *store.DeploymentChange, now time.Time) (bool, error) {
	d := change.Deployment
	stable, err := st.LatestStable(ctx, d.Namespace, d.JobID, d.JobVersion)
	if err != nil {
		return false, err
	}
	if stable == nil {
		d.StatusDescription += " - no stable job version to auto revert to"
		return false, nil
	}
	// Reverting to what just failed would fail again, and again.
	if failed, err := st.GetJobVersion(ctx, d.Namespace, d.JobID, d.JobVersion); err == nil && store.SameSpec(failed, stable) {
		d.StatusDescription += fmt.Sprintf(" - not reverting: the newest stable version %d is what failed", stable.Version)
		return false, nil
	}
	cmps, ops, v, err := st.RevertOps(ctx, d.Namespace, d.JobID, stable.Version, now)
	if err != nil {
		return false, err
	}
	change.Cmps, change.Ops = append(change.Cmps, cmps...), append(change.Ops, ops...)
	d.StatusDescription += fmt.Sprintf(" - rolling back to job version %d (as version %d)", stable.Version, v)
	return true, nil
}

// Step is what the deployment watcher does to a deployment: write Next,
// and evaluate the job, or revert it to its newest stable version (which
// brings its own evaluation).
type Step struct {
	Next     *api.Deployment
	Evaluate bool
	Revert   bool
}

// DeploymentStep decides the next state of an active deployment from its
// job and allocations (with status); nil when nothing changes. It is
// pure: the caller finds the version to revert to and writes.
func DeploymentStep(d *api.Deployment, job *api.Job, allocs []*api.Allocation, now time.Time) *Step {
	next := *d
	next.Groups = map[string]*api.DeploymentGroup{}
	for name, g := range d.Groups {
		c := *g
		next.Groups[name] = &c
	}
	step := &Step{Next: &next}
	switch {
	case job == nil:
		next.Status, next.StatusDescription = api.DeploymentCancelled, "cancelled because the job was purged"
	case job.Stop:
		next.Status, next.StatusDescription = api.DeploymentCancelled, "cancelled because the job was stopped"
	case job.Version != d.JobVersion:
		next.Status = api.DeploymentCancelled
		next.StatusDescription = fmt.Sprintf("cancelled because job version %d replaced version %d", job.Version, d.JobVersion)
	}
	if next.Status == api.DeploymentCancelled {
		next.ModifyTime = now
		return step
	}

	unhealthy, late := false, false
	autoRevert := false
	for name, g := range next.Groups {
		placed, healthy, bad := 0, 0, 0
		var canaries []string
		for _, a := range allocs {
			if a.DeploymentID != d.ID || a.TaskGroup != name {
				continue
			}
			h := a.Health()
			if h != nil && !h.Healthy {
				bad++
			}
			if a.DesiredStatus != api.AllocDesiredRun {
				continue
			}
			placed++
			if a.Canary {
				canaries = append(canaries, a.ID)
			}
			if h != nil && h.Healthy {
				healthy++
			}
		}
		if healthy > g.HealthyAllocs {
			step.Evaluate = true
			if g.ProgressDeadline > 0 {
				g.RequireProgressBy = now.Add(g.ProgressDeadline.Std())
			}
		}
		g.PlacedAllocs, g.HealthyAllocs, g.UnhealthyAllocs, g.PlacedCanaries = placed, healthy, bad, canaries
		unhealthy = unhealthy || bad > 0
		autoRevert = autoRevert || g.AutoRevert
		if d.Status == api.DeploymentRunning && !groupDone(g) && !g.RequireProgressBy.IsZero() && now.After(g.RequireProgressBy) {
			late = true
		}
	}

	switch {
	case unhealthy || late:
		next.Status = api.DeploymentFailed
		next.StatusDescription = "failed due to unhealthy allocations"
		if !unhealthy {
			next.StatusDescription = "failed due to progress deadline"
		}
		if autoRevert {
			step.Revert = true
		} else {
			step.Evaluate = true
		}
	case d.Status == api.DeploymentRunning:
		if promote(next.Groups) {
			next.StatusDescription = "deployment is running: canaries were promoted automatically"
			step.Evaluate = true
		}
		done, waiting := true, false
		for _, g := range next.Groups {
			done = done && groupDone(g)
			waiting = waiting || (g.RequiresPromotion() && len(g.PlacedCanaries) >= g.DesiredCanaries && g.HealthyAllocs >= g.DesiredCanaries)
		}
		switch {
		case done:
			next.Status, next.StatusDescription = api.DeploymentSuccessful, "deployment completed successfully"
		case waiting:
			next.StatusDescription = "deployment is running but requires manual promotion"
		}
	}
	next.ModifyTime = d.ModifyTime
	if reflect.DeepEqual(&next, d) && !step.Evaluate {
		return nil
	}
	next.ModifyTime = now
	return step
}

// groupDone reports whether a group reached its count of healthy
// allocations, promoted if it had canaries.
func groupDone(g *api.DeploymentGroup) bool {
	return !g.RequiresPromotion() && g.HealthyAllocs >= g.DesiredTotal
}

// promote promotes every group when all groups that wait for promotion
// ask for auto_promote and have their canaries healthy. It reports
// whether it promoted.
func promote(groups map[string]*api.DeploymentGroup) bool {
	waiting := false
	for _, g := range groups {
		if !g.RequiresPromotion() {
			continue
		}
		if !g.AutoPromote || len(g.PlacedCanaries) < g.DesiredCanaries || g.HealthyAllocs < g.DesiredCanaries {
			return false
		}
		waiting = true
	}
	if !waiting {
		return false
	}
	for _, g := range groups {
		if g.DesiredCanaries > 0 {
			g.Promoted = true
		}
	}
	return true
}
