// Package nodes holds the operator actions on nodes that both APIs (the
// native one and Nomad's) offer: marking a node eligible or not, draining
// it, and purging it once it is gone.
package nodes

import (
	"context"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// SetEligibility marks a node eligible for new placements or not.
func SetEligibility(ctx context.Context, st *store.Store, nodeID string, eligible bool) error {
	return st.UpdateNodeAdmin(ctx, nodeID, store.Guard{}, func(a *store.NodeAdmin, _ *store.Txn) {
		a.Eligible = eligible
	})
}

// Drain is what an operator asks of a drain.
type Drain struct {
	// Enable starts a drain; false ends one.
	Enable bool
	// Deadline, when positive, is how long allocations may take to
	// migrate before they are all moved at once.
	Deadline         time.Duration
	IgnoreSystemJobs bool
	// KeepIneligible leaves the node ineligible when a drain ends.
	KeepIneligible bool
	// Meta is kept with the drain's record (nomad node drain -meta).
	Meta map[string]string
}

// SetDrain starts or ends a node's drain. Starting one evaluates, in the
// same transaction, every job with allocations on the node, so that
// migrations start at once. It returns the evaluations it created.
func SetDrain(ctx context.Context, st *store.Store, nodeID string, d Drain, now time.Time) ([]string, error) {
	type jobRef struct{ ns, job string }
	var jobs []jobRef
	if d.Enable {
		allocs, err := st.ListAllocs(ctx, store.AllocFilter{NodeID: nodeID})
		if err != nil {
			return nil, err
		}
		seen := map[jobRef]bool{}
		for _, a := range allocs {
			j := jobRef{a.Namespace, a.JobID}
			if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() || seen[j] {
				continue
			}
			seen[j] = true
			jobs = append(jobs, j)
		}
	}
	var evals []string
	err := st.UpdateNodeAdmin(ctx, nodeID, store.Guard{}, func(a *store.NodeAdmin, txn *store.Txn) {
		evals = evals[:0]
		if !d.Enable {
			if a.Drain != nil {
				rec := drainRecord(a, now)
				rec.Status, rec.UpdatedAt = api.DrainStatusCanceled, now
				if len(d.Meta) > 0 {
					rec.Meta = d.Meta
				}
			}
			a.Drain = nil
			a.Eligible = !d.KeepIneligible
			return
		}
		started := now
		if a.Drain != nil {
			// A drain changed while it runs (nomad node drain -enable
			// -force on a draining node) is the same drain.
			started = a.Drain.StartedAt
			rec := drainRecord(a, now)
			rec.Status, rec.UpdatedAt = api.DrainStatusDraining, now
			if len(d.Meta) > 0 {
				rec.Meta = d.Meta
			}
		} else {
			a.LastDrain = &api.DrainRecord{StartedAt: now, UpdatedAt: now, Status: api.DrainStatusDraining, Meta: d.Meta}
		}
		ds := &api.DrainStrategy{StartedAt: started, IgnoreSystemJobs: d.IgnoreSystemJobs}
		if d.Deadline > 0 {
			ds.Deadline = now.Add(d.Deadline)
		}
		a.Drain = ds
		a.Eligible = false
		for _, j := range jobs {
			evals = append(evals, txn.CreateEval(j.ns, j.job, api.EvalTriggerNodeDrain, nodeID, now).ID)
		}
	})
	return evals, err
}

// drainRecord is the record of a's running drain, made from the drain
// itself when there is none (a drain started by a server from before the
// records).
func drainRecord(a *store.NodeAdmin, now time.Time) *api.DrainRecord {
	if a.LastDrain == nil || a.LastDrain.Status != api.DrainStatusDraining {
		started := now
		if a.Drain != nil && !a.Drain.StartedAt.IsZero() {
			started = a.Drain.StartedAt
		}
		a.LastDrain = &api.DrainRecord{StartedAt: started, UpdatedAt: now, Status: api.DrainStatusDraining}
	}
	return a.LastDrain
}

// DrainComplete ends a's drain started at startedAt as complete; a drain
// cancelled or started again since is left alone.
func DrainComplete(a *store.NodeAdmin, startedAt, now time.Time) bool {
	if a.Drain == nil || !a.Drain.StartedAt.Equal(startedAt) {
		return false
	}
	rec := drainRecord(a, now)
	rec.Status, rec.UpdatedAt = api.DrainStatusComplete, now
	a.Drain = nil
	a.Eligible = false
	return true
}

// maxPurgeEvals bounds the evaluations created in the purge's own
// transaction; the jobs beyond it are evaluated in further transactions
// (and, should the server die in between, by the garbage collector's
// sweep of allocations left on nodes that no longer exist).
const maxPurgeEvals = 100

// Purge removes a down node for good: it is no longer listed, and every
// job with a live allocation there is evaluated, so that those
// allocations are marked lost and replaced even while the allocations of
// other down nodes are held (a mass outage). A ready node is refused
// (store.NodeLiveError): an agent that still heartbeats would register it
// again. It returns the evaluations it created.
func Purge(ctx context.Context, st *store.Store, nodeID string, now time.Time) ([]string, error) {
	type jobRef struct{ ns, job string }
	allocs, err := st.ListAllocs(ctx, store.AllocFilter{NodeID: nodeID})
	if err != nil {
		return nil, err
	}
	var jobs []jobRef
	seen := map[jobRef]bool{}
	for _, a := range allocs {
		j := jobRef{a.Namespace, a.JobID}
		if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() || seen[j] {
			continue
		}
		seen[j] = true
		jobs = append(jobs, j)
	}
	first, rest := jobs, []jobRef(nil)
	if len(jobs) > maxPurgeEvals {
		first, rest = jobs[:maxPurgeEvals], jobs[maxPurgeEvals:]
	}
	var evals []string
	err = st.PurgeNode(ctx, nodeID, store.Guard{}, func(txn *store.Txn) {
		evals = evals[:0]
		for _, j := range first {
			evals = append(evals, txn.CreateEval(j.ns, j.job, api.EvalTriggerNodeUpdate, nodeID, now).ID)
		}
	})
	if err != nil {
		return nil, err
	}
	for len(rest) > 0 {
		batch := rest[:min(len(rest), maxPurgeEvals)]
		rest = rest[len(batch):]
		txn := st.NewTxn(store.Guard{})
		for _, j := range batch {
			evals = append(evals, txn.CreateEval(j.ns, j.job, api.EvalTriggerNodeUpdate, nodeID, now).ID)
		}
		if err := txn.Commit(ctx); err != nil {
			return evals, fmt.Errorf("node %s is purged, but evaluating its jobs failed (the garbage collector will): %w", nodeID, err)
		}
	}
	return evals, nil
}
