// Package planner gathers what one scheduling pass of a job needs — a
// snapshot of the cluster, the job's older versions its allocations still
// run, its newest deployment, the scheduler configuration — and runs the
// pure scheduler on it. The evaluation workers commit what it returns;
// the API's dry run (plan) only shows it.
package planner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Compute runs the scheduler for a job on a fresh snapshot of the
// cluster. With job nil it reads the job's stored specification (nil if it
// was purged); the API's dry run passes the job it was given instead.
func Compute(ctx context.Context, st *store.Store, ns, jobID string, job *api.Job, evalID string, now time.Time) (*scheduler.Plan, *store.JobSnapshot, error) {
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
	snap, err := st.ReadJobSnapshot(ctx, ns, jobID)
	if err != nil {
		return nil, nil, err
	}
	versions := map[uint64]*api.Job{}
	if job != nil {
		for _, a := range snap.JobAllocs {
			if a.JobVersion == job.Version || versions[a.JobVersion] != nil {
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
	cfg, hold, err := st.GetSchedulingState(ctx)
	if err != nil {
		return nil, nil, err
	}
	dep, err := st.LatestDeployment(ctx, ns, jobID)
	if err != nil {
		return nil, nil, err
	}
	plan := scheduler.Compute(&scheduler.Input{
		Namespace: ns, JobID: jobID, Job: job, Versions: versions, Deployment: dep,
		State:  scheduler.NewStateFromUsage(snap.Nodes, snap.Usage, snap.JobAllocs),
		EvalID: evalID, Now: now, NewID: api.NewID,
		Config: scheduler.Config{Algorithm: cfg.Algorithm, DisablePreemption: cfg.PreemptionDisabled, Seed: seedOf(evalID),
			HoldDownNodes: hold != nil || holdDown(snap.Nodes), DownSettle: scheduler.DefaultDownSettle},
		Cancelled: func() bool { return ctx.Err() != nil },
	})
	if plan.Cancelled {
		return nil, nil, fmt.Errorf("scheduling job %q: %w", jobID, context.Cause(ctx))
	}
	return plan, snap, nil
}

// seedOf derives the scheduler's seed from an evaluation ID, so that one
// evaluation always makes the same choices.
func seedOf(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// holdDown reports whether so many nodes are down at once that their
// allocations are held rather than replaced (scheduler.HoldDown), before
// the leader's liveness controller set the hold (store.NodeHold) that
// also covers the recovery.
func holdDown(nodes []*api.Node) bool {
	down := 0
	for _, n := range nodes {
		if n.Status != api.NodeStatusReady {
			down++
		}
	}
	return scheduler.HoldDown(down, len(nodes))
}
