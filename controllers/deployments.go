package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/deploy"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
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
	Cache *store.Cache
	Guard store.Guard
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
	var mu sync.Mutex
	active := map[string]bool{} // "ns/job" of active deployments
	health := map[string]string{}

	onDeployment := func(ch store.Change) {
		job := ch.Namespace + "/" + ch.Job
		mu.Lock()
		defer mu.Unlock()
		if ch.Deleted {
			return
		}
		if d, err := store.Decode[api.Deployment](ch); err != nil || !d.Active() {
			return
		}
		active[job] = true
		q.add("job:" + job)
	}
	onStatus := func(ch store.Change) {
		key := ch.Node + "/" + ch.ID
		mu.Lock()
		defer mu.Unlock()
		if ch.Deleted {
			delete(health, key)
			return
		}
		st, err := store.Decode[api.AllocStatus](ch)
		if err != nil {
			return
		}
		h := ""
		if st.Health != nil {
			h = fmt.Sprint(st.Health.Healthy)
		}
		if h != health[key] {
			health[key] = h
			if len(active) > 0 {
				q.add("alloc:" + key)
			}
		}
	}
	var wg sync.WaitGroup
	for _, sub := range []store.Subscriber{onEach(onDeployment, store.KindDeployments), onEach(onStatus, store.KindAllocStatus)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Cache.Subscribe(ctx, sub)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		loop.Every(ctx, w.Tick, "deployment deadlines", func(context.Context) error {
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
	a, err := w.Store.ReadAlloc(ctx, nodeID, allocID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.DeploymentID == "") {
		return nil
	} else if err != nil {
		return err
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
	step := deploy.Decide(d, job, allocs, w.Now())
	if step == nil {
		return true, nil
	}
	txn := w.Store.NewTxn(w.Guard)
	now := w.Now()
	reverted := false
	if step.Revert {
		if reverted, err = deploy.AddRevert(ctx, w.Store, txn, step.Next, now); err != nil {
			return true, err
		}
		step.Evaluate = step.Evaluate || !reverted
	}
	if step.Evaluate && !reverted {
		txn.CreateEval(ns, jobID, api.EvalTriggerDeployment, "", now)
	}
	if step.Next.Status == api.DeploymentSuccessful {
		if err := w.Store.MarkStable(ctx, txn, ns, jobID, d.JobVersion); err != nil {
			return true, err
		}
	}
	txn.PutDeployment(step.Next, rev)
	if err := txn.Commit(ctx); err != nil {
		return true, fmt.Errorf("writing deployment %s: %w", api.ShortID(d.ID), err)
	}
	if step.Next.Status != d.Status {
		slog.Info("deployment "+step.Next.Status, "deployment", api.ShortID(d.ID), "job", jobID,
			"version", d.JobVersion, "why", step.Next.StatusDescription)
		metricDeployments.WithLabelValues(step.Next.Status).Inc()
	}
	return step.Next.Active(), nil
}
