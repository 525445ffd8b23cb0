package scheduler

import (
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Deployments. A service job whose groups have an update block is rolled
// out under a deployment, one per job version: the plan that first places
// (or updates in place) allocations of a version creates it, and every
// allocation placed for the version names it. The rollout then advances
// on health, not on mere running: at most max_parallel allocations of the
// deployment may be placed and not yet healthy at once. A paused or
// failed deployment replaces nothing more; canaries wait for promotion.
// Health and the deployment's end are decided outside the scheduler (node
// agents and the deployment watcher); the scheduler only reads them.

// setupDeployment decides which deployment the plan works under: the
// job version's own, or a new one made ready to be created if the plan
// places anything for it. An active deployment of an older version is
// cancelled.
func (p *planner) setupDeployment() {
	job := p.in.Job
	d := p.in.Deployment
	if d != nil && d.Active() && d.JobVersion != job.Version {
		c := *d
		c.Status = api.DeploymentCancelled
		c.StatusDescription = fmt.Sprintf("cancelled because job version %d replaced version %d", job.Version, d.JobVersion)
		c.ModifyTime = p.in.Now
		p.plan.DeploymentUpdates = append(p.plan.DeploymentUpdates, &c)
	}
	if d != nil && d.JobVersion == job.Version && d.JobID == job.ID {
		p.dep = d
		return
	}
	if job.Type != api.JobTypeService {
		return
	}
	groups := map[string]*api.DeploymentGroup{}
	for _, g := range job.Groups {
		u := g.Update
		if u == nil || u.MaxParallel <= 0 {
			continue
		}
		dg := &api.DeploymentGroup{
			AutoRevert: u.AutoRevert, AutoPromote: u.AutoPromote, ProgressDeadline: u.ProgressDeadline,
			DesiredTotal: g.Count,
		}
		if u.Canary > 0 && p.rec.hasDestructiveUpdate(g) {
			dg.DesiredCanaries = u.Canary
		}
		if u.ProgressDeadline > 0 {
			dg.RequireProgressBy = p.in.Now.Add(u.ProgressDeadline.Std())
		}
		groups[g.Name] = dg
	}
	if len(groups) == 0 {
		return
	}
	p.dep = &api.Deployment{
		ID: p.in.NewID(), Namespace: job.Namespace, JobID: job.ID, JobVersion: job.Version,
		Status: api.DeploymentRunning, StatusDescription: "deployment is running",
		Groups: groups, CreateTime: p.in.Now, ModifyTime: p.in.Now,
	}
	p.depNew = true
}

// hasDestructiveUpdate reports whether some running allocation of the
// group runs an older version that cannot be updated in place.
func (r *reconciler) hasDestructiveUpdate(g *api.TaskGroup) bool {
	for _, a := range r.allocs {
		if a.TaskGroup != g.Name || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() || a.JobVersion == r.job.Version {
			continue
		}
		if prev := r.versions[a.JobVersion]; prev == nil || !inPlace(prev, r.job, g.Name) {
			return true
		}
	}
	return false
}

// finishDeployment puts a new deployment in the plan if the plan placed
// or updated allocations for it.
func (p *planner) finishDeployment() {
	if !p.depNew {
		return
	}
	for _, set := range [][]*api.Allocation{p.plan.Place, p.plan.Update} {
		for _, a := range set {
			if a.DeploymentID == p.dep.ID {
				p.plan.Deployment = p.dep
				return
			}
		}
	}
}

// activeGroup returns the deployment's state for a group when the group
// is rolled out under an active deployment.
func activeGroup(dep *api.Deployment, g string) *api.DeploymentGroup {
	if dep == nil || !dep.Active() {
		return nil
	}
	return dep.Groups[g]
}

// tagDeployment makes an allocation of the current version count towards
// the active deployment.
func (p *planner) tagDeployment(a *api.Allocation) {
	if activeGroup(p.dep, a.TaskGroup) != nil && a.JobVersion == p.in.Job.Version {
		a.DeploymentID = p.dep.ID
	}
}

// mayReplace reports whether destructive updates and canaries of a group
// may go ahead: not while its deployment is paused, failed or cancelled.
func (r *reconciler) mayReplace(g string) bool {
	if r.dep == nil || r.dep.Groups[g] == nil {
		return true
	}
	return r.dep.Status == api.DeploymentRunning || r.dep.Status == api.DeploymentSuccessful
}

// unpromotedCanary reports whether a canary belongs to the current
// deployment and its group was not promoted.
func (r *reconciler) unpromotedCanary(a *api.Allocation) bool {
	if r.dep == nil || a.DeploymentID != r.dep.ID {
		return false
	}
	dg := r.dep.Groups[a.TaskGroup]
	return dg != nil && dg.RequiresPromotion()
}

// wantsCanaries reports whether the group's update starts with canaries.
func (r *reconciler) wantsCanaries(g string) bool {
	dg := activeGroup(r.dep, g)
	return dg != nil && dg.RequiresPromotion()
}

// inFlight reports whether an allocation of the current version uses the
// rolling update's parallelism: placed for the deployment and not yet
// healthy, or (without one) a replacement that is not running yet.
func (r *reconciler) inFlight(a *api.Allocation) bool {
	if a.JobVersion != r.job.Version || a.DesiredStatus != api.AllocDesiredRun || a.NextAllocation != "" {
		return false
	}
	if r.dep != nil && a.DeploymentID == r.dep.ID {
		h := a.Health()
		return h == nil || !h.Healthy
	}
	return a.PreviousAllocation != "" && a.ClientStatusOf() == api.AllocClientPending
}
