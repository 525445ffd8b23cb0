package controllers

import (
	"context"
	"log/slog"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
	nodepkg "github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// DrainWatcher is a singleton controller that finishes node drains: once
// a draining node runs no allocation that must leave it, its drain ends
// and it stays ineligible; once a drain's deadline passes, the jobs still
// on the node are evaluated, and the scheduler moves what is left.
type DrainWatcher struct {
	Store    *store.Store
	Guard    store.Guard
	Now      func() time.Time
	Interval time.Duration
}

// Run checks draining nodes every Interval until ctx ends.
func (d *DrainWatcher) Run(ctx context.Context) {
	loop.Every(ctx, max(d.Interval, 100*time.Millisecond), "checking drains", d.check)
}

func (d *DrainWatcher) check(ctx context.Context) error {
	nodes, err := d.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Drain == nil {
			continue
		}
		allocs, err := d.Store.ListAllocs(ctx, store.AllocFilter{NodeID: n.ID})
		if err != nil {
			return err
		}
		jobs := map[[2]string]bool{}
		for _, a := range allocs {
			if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
				continue
			}
			if n.Drain.IgnoreSystemJobs {
				if j, _, err := d.Store.GetJob(ctx, a.Namespace, a.JobID); err == nil && (j.Type == api.JobTypeSystem || j.Type == api.JobTypeSysbatch) {
					continue
				}
			}
			jobs[[2]string{a.Namespace, a.JobID}] = true
		}
		if len(jobs) == 0 {
			started := n.Drain.StartedAt
			err := d.Store.UpdateNodeAdmin(ctx, n.ID, d.Guard, func(a *store.NodeAdmin, _ *store.Txn) {
				nodepkg.DrainComplete(a, started, d.Now())
			})
			if err != nil {
				return err
			}
			slog.Info("node drain complete", "node", n.Name)
			continue
		}
		if !n.Drain.Deadline.IsZero() && !d.Now().Before(n.Drain.Deadline) {
			for j := range jobs {
				if err := ensureEval(ctx, d.Store, j[0], j[1], api.EvalTriggerNodeDrain, n.ID, d.Now(), d.Guard); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
