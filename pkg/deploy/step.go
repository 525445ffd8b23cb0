package deploy

import (
	"fmt"
	"reflect"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Step is what the deployment watcher does to a deployment: write Next,
// and evaluate the job, or revert it to its newest stable version (which
// brings its own evaluation).
type Step struct {
	Next     *api.Deployment
	Evaluate bool
	Revert   bool
}

// Decide decides the next state of an active deployment from its
// job and allocations (with status); nil when nothing changes. It is
// pure: the caller finds the version to revert to and writes.
func Decide(d *api.Deployment, job *api.Job, allocs []*api.Allocation, now time.Time) *Step {
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
