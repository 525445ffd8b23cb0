package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ErrDeploymentState is returned when a deployment's status does not
// allow what an operator asked (promoting a finished deployment, resuming
// a running one).
var ErrDeploymentState = errors.New("not allowed in the deployment's state")

// Operator actions on a deployment.
const (
	ActionPromote = "promote"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionFail    = "fail"
)

// Act carries out an operator's action on a deployment (by ID or unique
// prefix) and returns it as written. Promote, resume and fail evaluate the
// job in the same transaction; fail reverts the job to its newest stable
// version when a group asks for auto_revert, as the watcher does.
func Act(ctx context.Context, st *store.Store, id, action string, now time.Time) (*api.Deployment, error) {
	for attempt := 0; attempt < 5; attempt++ {
		d, rev, err := st.GetDeployment(ctx, id)
		if err != nil {
			return nil, err
		}
		if !d.Active() {
			return nil, fmt.Errorf("deployment %s is %s: %w", api.ShortID(d.ID), d.Status, ErrDeploymentState)
		}
		txn := st.NewTxn(store.Guard{})
		evaluate := true
		switch action {
		case ActionPromote:
			waiting := 0
			for name, g := range d.Groups {
				if !g.RequiresPromotion() {
					continue
				}
				waiting++
				if n, err := healthyCanaries(ctx, st, d, name); err != nil {
					return nil, err
				} else if n < g.DesiredCanaries {
					return nil, fmt.Errorf("group %q has %d of %d canaries healthy; promote once they are: %w", name, n, g.DesiredCanaries, ErrDeploymentState)
				}
			}
			if waiting == 0 {
				return nil, fmt.Errorf("deployment %s has no canaries waiting for promotion: %w", api.ShortID(d.ID), ErrDeploymentState)
			}
			for _, g := range d.Groups {
				if g.DesiredCanaries > 0 {
					g.Promoted = true
				}
			}
			d.StatusDescription = "deployment is running: canaries were promoted"
		case ActionPause:
			if d.Status == api.DeploymentPaused {
				return nil, fmt.Errorf("deployment %s is already paused: %w", api.ShortID(d.ID), ErrDeploymentState)
			}
			d.Status, d.StatusDescription = api.DeploymentPaused, "deployment is paused by an operator"
			evaluate = false
		case ActionResume:
			if d.Status != api.DeploymentPaused {
				return nil, fmt.Errorf("deployment %s is not paused: %w", api.ShortID(d.ID), ErrDeploymentState)
			}
			d.Status, d.StatusDescription = api.DeploymentRunning, "deployment is running"
			for _, g := range d.Groups {
				if g.ProgressDeadline > 0 {
					g.RequireProgressBy = now.Add(g.ProgressDeadline.Std())
				}
			}
		case ActionFail:
			d.Status, d.StatusDescription = api.DeploymentFailed, "failed by an operator"
			revert := false
			for _, g := range d.Groups {
				revert = revert || g.AutoRevert
			}
			if revert {
				reverted, err := AddRevert(ctx, st, txn, d, now)
				if err != nil {
					return nil, err
				}
				evaluate = !reverted
			}
		default:
			return nil, fmt.Errorf("unknown deployment action %q", action)
		}
		d.ModifyTime = now
		if evaluate {
			txn.CreateEval(d.Namespace, d.JobID, api.EvalTriggerDeployment, "", now)
		}
		txn.PutDeployment(d, rev)
		err = txn.Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return d, err
	}
	return nil, fmt.Errorf("deployment %s changed while being written: %w", id, store.ErrConflict)
}

// healthyCanaries counts a group's healthy canaries in a deployment.
func healthyCanaries(ctx context.Context, st *store.Store, d *api.Deployment, group string) (int, error) {
	allocs, err := st.ListAllocs(ctx, store.AllocFilter{Namespace: d.Namespace, JobID: d.JobID})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range allocs {
		if a.DeploymentID == d.ID && a.TaskGroup == group && a.Canary && a.DesiredStatus == api.AllocDesiredRun {
			if h := a.Health(); h != nil && h.Healthy {
				n++
			}
		}
	}
	return n, nil
}

// SetAllocHealth records an operator's judgement of allocations of a
// deployment (health_check = "manual"); the deployment watcher counts it
// like a node agent's.
func SetAllocHealth(ctx context.Context, st *store.Store, id string, req *api.AllocHealthRequest, now time.Time) (*api.Deployment, error) {
	d, _, err := st.GetDeployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if !d.Active() {
		return nil, fmt.Errorf("deployment %s is %s: %w", api.ShortID(d.ID), d.Status, ErrDeploymentState)
	}
	if len(req.Healthy)+len(req.Unhealthy) == 0 {
		return nil, fmt.Errorf("name allocations in healthy or unhealthy: %w", ErrDeploymentState)
	}
	allocs, err := st.ListAllocs(ctx, store.AllocFilter{Namespace: d.Namespace, JobID: d.JobID})
	if err != nil {
		return nil, err
	}
	set := func(ids []string, healthy bool) error {
		for _, id := range ids {
			a, err := findAlloc(allocs, d, id)
			if err != nil {
				return err
			}
			_, err = st.UpdateAlloc(ctx, a, func(cur *api.Allocation, txn *store.Txn) {
				cur.ManualHealth = &api.AllocHealth{Healthy: healthy, Time: now, Description: "set by an operator"}
				cur.ModifyTime = now
				// The deployment watcher counts it on its next look; the
				// evaluation lets the rollout move at once.
				txn.CreateEval(d.Namespace, d.JobID, api.EvalTriggerDeployment, "", now)
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := set(req.Healthy, true); err != nil {
		return nil, err
	}
	if err := set(req.Unhealthy, false); err != nil {
		return nil, err
	}
	return d, nil
}

func findAlloc(allocs []*api.Allocation, d *api.Deployment, id string) (*api.Allocation, error) {
	var found *api.Allocation
	for _, a := range allocs {
		if a.DeploymentID == d.ID && (a.ID == id || len(id) >= 4 && len(a.ID) > len(id) && a.ID[:len(id)] == id) {
			if found != nil {
				return nil, fmt.Errorf("%w: %q matches several allocations", store.ErrAmbiguous, id)
			}
			found = a
		}
	}
	if found == nil {
		return nil, fmt.Errorf("allocation %q of deployment %s: %w", id, api.ShortID(d.ID), store.ErrNotFound)
	}
	return found, nil
}

// AddRevert adds to the transaction that fails deployment d the writes
// that submit the job's newest stable version older than the
// deployment's again, and says so in the deployment's description. It
// reports whether there was a version to revert to.
func AddRevert(ctx context.Context, st *store.Store, txn *store.Txn, d *api.Deployment, now time.Time) (bool, error) {
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
	v, err := st.RevertJob(ctx, txn, d.Namespace, d.JobID, stable.Version, now)
	if err != nil {
		return false, err
	}
	d.StatusDescription += fmt.Sprintf(" - rolling back to job version %d (as version %d)", stable.Version, v)
	return true, nil
}
