package nodeagent

import (
	"context"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Deployment health. An allocation placed for a deployment is judged once
// by its node agent, per its group's update block:
//   - healthy once its main tasks have run, without a restart, for
//     min_healthy_time and (health_check = "checks") every check of its
//     services passed for that whole time;
//   - unhealthy when a main task fails or ends, or when healthy_deadline
//     passes first.
// With health_check = "manual" an operator judges through the API.

// healthJudge carries the judgement of one allocation between looks.
type healthJudge struct {
	update   *api.UpdateStrategy
	start    time.Time // healthy_deadline counts from here
	checks   int       // checks the group's services have
	since    time.Time // when everything was last seen fine, continuously
	restarts int
}

// look judges the allocation from its main tasks' states and its
// services' check results; nil while undecided.
func (j *healthJudge) look(now time.Time, tasks []*api.TaskState, names []string, checks []api.CheckStatus) *api.AllocHealth {
	unhealthy := func(why string) *api.AllocHealth {
		return &api.AllocHealth{Healthy: false, Time: now, Description: why}
	}
	fine := true
	restarts := 0
	for i, ts := range tasks {
		switch {
		case ts == nil || ts.State == api.TaskStatePending:
			fine = false
		case ts.State == api.TaskStateDead && ts.Failed:
			return unhealthy(fmt.Sprintf("task %q failed", names[i]))
		case ts.State == api.TaskStateDead:
			return unhealthy(fmt.Sprintf("task %q ended", names[i]))
		}
		if ts != nil {
			restarts += ts.Restarts
		}
	}
	if restarts != j.restarts {
		// A restart starts min_healthy_time again.
		j.restarts = restarts
		j.since = time.Time{}
	}
	if j.update.HealthCheck == "checks" || j.update.HealthCheck == "" {
		passing := 0
		for _, c := range checks {
			if c.Status == api.CheckPassing {
				passing++
			}
		}
		fine = fine && passing >= j.checks
	}
	if !fine {
		j.since = time.Time{}
	} else if j.since.IsZero() {
		j.since = now
	}
	if fine && now.Sub(j.since) >= j.update.MinHealthyTime.Std() {
		return &api.AllocHealth{Healthy: true, Time: now, Description: "healthy"}
	}
	if d := j.update.HealthyDeadline.Std(); d > 0 && now.Sub(j.start) >= d {
		return unhealthy(fmt.Sprintf("not healthy within its healthy_deadline of %s", d))
	}
	return nil
}

// groupChecks counts the checks of a group's services.
func groupChecks(g *api.TaskGroup) int {
	n := 0
	for _, s := range g.Services {
		n += len(s.Checks)
	}
	for _, t := range g.Tasks {
		for _, s := range t.Services {
			n += len(s.Checks)
		}
	}
	return n
}

// watchHealth judges the allocation's deployment health once, while its
// main tasks run, and writes the verdict with its status. It waits for
// the allocation to name a deployment (an in-place update can add one).
func (r *allocRunner) watchHealth(ctx context.Context, g *api.TaskGroup, main []*taskRunner) {
	u := g.Update
	if u == nil || u.HealthCheck == "manual" {
		return
	}
	names := make([]string, len(main))
	for i, tr := range main {
		names[i] = tr.task.Name
	}
	j := &healthJudge{update: u, start: time.Now(), checks: groupChecks(g)}
	interval := min(max(u.MinHealthyTime.Std()/10, 100*time.Millisecond), time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stopCh:
			return
		case <-t.C:
		}
		if r.current().DeploymentID == "" {
			j.start = time.Now()
			continue
		}
		var checks []api.CheckStatus
		r.mu.Lock()
		if r.status.Health != nil {
			r.mu.Unlock()
			return
		}
		tasks := make([]*api.TaskState, len(names))
		for i, n := range names {
			if ts := r.status.Tasks[n]; ts != nil {
				c := *ts
				tasks[i] = &c
			}
		}
		set := r.services
		r.mu.Unlock()
		if set != nil {
			set.mu.Lock()
			for _, reg := range set.regs {
				checks = append(checks, reg.Checks...)
			}
			set.mu.Unlock()
		}
		h := j.look(time.Now().UTC(), tasks, names, checks)
		if h == nil || r.stopping() {
			// Tasks killed by a stop say nothing of their health.
			continue
		}
		r.mu.Lock()
		r.status.Health = h
		r.mu.Unlock()
		r.writeStatus(ctx)
		return
	}
}

// judgeEnd gives an allocation of a deployment that ended before it was
// judged its verdict: unhealthy, unless the servers stopped it.
func (r *allocRunner) judgeEnd(g *api.TaskGroup) {
	if g == nil || g.Update == nil || g.Update.HealthCheck == "manual" || r.current().DeploymentID == "" || r.stopping() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.Health != nil {
		return
	}
	why := "the allocation ended before it was healthy"
	for _, t := range g.Tasks {
		if ts := r.status.Tasks[t.Name]; ts != nil && ts.Failed {
			why = fmt.Sprintf("task %q failed", t.Name)
			break
		}
	}
	r.status.Health = &api.AllocHealth{Healthy: false, Time: time.Now().UTC(), Description: why}
}
