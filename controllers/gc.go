package controllers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// GC is a singleton controller that deletes what nobody needs any more:
// the allocations of purged jobs once they stopped, with the jobs' versions,
// evaluations and deployments; stopped allocations of live jobs once they
// are older than AllocAge; versions of live jobs beyond the newest
// KeepVersions that no allocation runs; finished deployments beyond
// the newest KeepVersions of a job; and ACL tokens expired an hour ago.
type GC struct {
	Store *store.Store
	// Cache, when set, tells the collector of operators' requests for a
	// pass now.
	Cache    *store.Cache
	Guard    store.Guard
	Now      func() time.Time
	Interval time.Duration
	AllocAge time.Duration
	// KeepVersions is how many versions of a job are kept for history
	// and revert (default 10).
	KeepVersions int
	// NodeAge is how long a node stays down, with no live allocation,
	// before it is purged (0: never).
	NodeAge time.Duration

	// downSince is when this collector first saw each down node down; it
	// is the leader's own memory, so a new leader starts counting again
	// (a node is purged later, never sooner).
	downSince map[string]time.Time
	// userMissingSince is when this collector first saw each node's etcd
	// user without a node record.
	userMissingSince map[string]time.Time
}

// Run collects garbage every Interval until ctx ends.
func (c *GC) Run(ctx context.Context) {
	requested := make(chan struct{}, 1)
	var wg sync.WaitGroup
	if c.Cache != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An operator's request (nomad system gc) runs a pass now.
			c.Cache.Subscribe(ctx, onChange(func(store.Change) {
				select {
				case requested <- struct{}{}:
				default:
				}
			}, store.KindGCRequest))
		}()
	}
	defer wg.Wait()
	t := time.NewTicker(max(c.Interval, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-requested:
		}
		if err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("garbage collection failed", "err", err)
		}
	}
}

// Collect runs one garbage collection pass.
func (c *GC) Collect(ctx context.Context) error {
	jobs, err := c.Store.ListJobs(ctx, "")
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, j := range jobs {
		exists[j.Namespace+"/"+j.ID] = true
	}
	allocs, err := c.Store.ListAllocs(ctx, store.AllocFilter{})
	if err != nil {
		return err
	}
	now := c.Now()
	var dead []*api.Allocation
	remaining := map[string]bool{}
	for _, a := range allocs {
		key := a.Namespace + "/" + a.JobID
		stoppedLongAgo := a.DesiredStatus == api.AllocDesiredStop && now.Sub(a.ModifyTime) > c.AllocAge
		if a.Terminal() && (!exists[key] || stoppedLongAgo) {
			dead = append(dead, a)
			continue
		}
		remaining[key] = true
	}
	if len(dead) > 0 {
		if err := c.Store.DeleteAllocs(ctx, dead, c.Guard); err != nil {
			return err
		}
		slog.Info("garbage collected allocations", "count", len(dead))
	}
	if err := c.collectNodes(ctx, allocs, now); err != nil {
		return err
	}
	if err := c.collectACLTokens(ctx, now); err != nil {
		return err
	}
	// Old versions of live jobs, beyond the newest KeepVersions, unless an
	// allocation still runs them or they are tagged.
	running := map[string]map[uint64]bool{}
	for _, a := range allocs {
		if !a.Terminal() {
			k := a.Namespace + "/" + a.JobID
			if running[k] == nil {
				running[k] = map[uint64]bool{}
			}
			running[k][a.JobVersion] = true
		}
	}
	for _, j := range jobs {
		versions, err := c.Store.ListJobVersions(ctx, j.Namespace, j.ID)
		if err != nil {
			return err
		}
		keep := max(c.KeepVersions, 1)
		var old []uint64
		for i, v := range versions {
			if i < len(versions)-keep && v.Version != j.Version && !running[j.Namespace+"/"+j.ID][v.Version] {
				old = append(old, v.Version) // DeleteJobVersions keeps the tagged ones
			}
		}
		if len(old) > 0 {
			if err := c.Store.DeleteJobVersions(ctx, j.Namespace, j.ID, old, c.Guard); err != nil {
				return err
			}
		}
		if err := c.collectDeployments(ctx, j, keep); err != nil {
			return err
		}
	}
	// History of purged jobs whose allocations are all gone.
	versioned, err := c.Store.VersionedJobs(ctx)
	if err != nil {
		return err
	}
	for _, v := range versioned {
		k := v.Namespace + "/" + v.Job
		if exists[k] || remaining[k] {
			continue
		}
		if err := c.Store.PurgeJobHistory(ctx, v.Namespace, v.Job, c.Guard); err != nil {
			return err
		}
	}
	return nil
}

// ACLTokenGrace is how long an expired ACL token stays listed (and is
// refused as expired, not as unknown) before the collector deletes it.
const ACLTokenGrace = time.Hour

// collectACLTokens deletes ACL tokens expired for ACLTokenGrace.
func (c *GC) collectACLTokens(ctx context.Context, now time.Time) error {
	tokens, err := c.Store.ListACLTokens(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, t := range tokens {
		if t.Expired(now.Add(-ACLTokenGrace)) {
			if err := c.Store.DeleteACLToken(ctx, t.AccessorID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			n++
		}
	}
	if n > 0 {
		slog.Info("garbage collected expired ACL tokens", "count", n)
	}
	return nil
}

// collectNodes purges nodes that have been down for NodeAge with no live
// allocation, and evaluates the jobs of live allocations left on nodes
// that no longer exist (a purge whose evaluations were not all written).
func (c *GC) collectNodes(ctx context.Context, allocs []*api.Allocation, now time.Time) error {
	nodes, err := c.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]*api.Node, len(nodes))
	for _, n := range nodes {
		known[n.ID] = n
	}
	busy := map[string]bool{}
	orphaned := map[[2]string]string{}
	for _, a := range allocs {
		if a.Terminal() || a.NodeID == "" {
			continue
		}
		busy[a.NodeID] = true
		if known[a.NodeID] == nil && a.DesiredStatus == api.AllocDesiredRun {
			orphaned[[2]string{a.Namespace, a.JobID}] = a.NodeID
		}
	}
	for j, node := range orphaned {
		if err := ensureEval(ctx, c.Store, j[0], j[1], api.EvalTriggerNodeUpdate, node, now, c.Guard); err != nil {
			return err
		}
		slog.Info("allocations left on a purged node: evaluating their job", "node", node, "job", j[1])
	}
	if c.NodeAge <= 0 {
		return nil
	}
	if c.downSince == nil {
		c.downSince = map[string]time.Time{}
	}
	for id := range c.downSince {
		if n := known[id]; n == nil || n.Status == api.NodeStatusReady {
			delete(c.downSince, id)
		}
	}
	for _, n := range nodes {
		if n.Status == api.NodeStatusReady {
			continue
		}
		since, ok := c.downSince[n.ID]
		if !ok {
			c.downSince[n.ID] = now
			continue
		}
		if busy[n.ID] || now.Sub(since) < c.NodeAge {
			continue
		}
		err := c.Store.PurgeNode(ctx, n.ID, c.Guard, nil)
		var live *store.NodeLiveError
		switch {
		case err == nil:
			slog.Info("garbage collected a node down for long", "node", n.ID, "name", n.Name, "down_for", now.Sub(since).Round(time.Second))
		case errors.As(err, &live), errors.Is(err, store.ErrNotFound):
			// It came back, or someone purged it first.
		default:
			return err
		}
		delete(c.downSince, n.ID)
	}
	return c.collectNodeUsers(ctx, known, now)
}

// collectNodeUsers removes the etcd users of nodes that have had no node
// record for NodeAge: users whose removal failed at purge, or of nodes
// that joined and never registered. A user is first noted, so a node that
// just joined and has yet to write its record keeps its user.
func (c *GC) collectNodeUsers(ctx context.Context, known map[string]*api.Node, now time.Time) error {
	users := c.Store.NodeUsers()
	if users == nil {
		return nil
	}
	ids, err := users.List(ctx)
	if err != nil {
		return err
	}
	if c.userMissingSince == nil {
		c.userMissingSince = map[string]time.Time{}
	}
	missing := map[string]bool{}
	for _, id := range ids {
		if known[id] != nil {
			continue
		}
		missing[id] = true
		since, ok := c.userMissingSince[id]
		if !ok {
			c.userMissingSince[id] = now
			continue
		}
		if now.Sub(since) < c.NodeAge {
			continue
		}
		if err := users.Remove(ctx, id); err != nil {
			return err
		}
		slog.Info("removed the etcd user of a node that is gone", "node", id, "missing_for", now.Sub(since).Round(time.Second))
		delete(missing, id)
	}
	for id := range c.userMissingSince {
		if !missing[id] {
			delete(c.userMissingSince, id)
		}
	}
	return nil
}

// collectDeployments deletes a job's finished deployments beyond the
// newest keep.
func (c *GC) collectDeployments(ctx context.Context, j *api.Job, keep int) error {
	if j.Type != api.JobTypeService && j.Type != "" {
		return nil
	}
	ds, err := c.Store.ListDeployments(ctx, j.Namespace, j.ID)
	if err != nil || len(ds) <= keep {
		return err
	}
	var old []*api.Deployment
	for _, d := range ds[:len(ds)-keep] {
		if !d.Active() {
			old = append(old, d)
		}
	}
	return c.Store.DeleteDeployments(ctx, old, c.Guard)
}
