package nodeagent

import (
	"context"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Deployment health. An allocation placed for a deployment is judged once
// by its node agent, per its group's update block (the replacement of an
// allocation that left a draining node, per its migrate block):
//   - healthy once its main tasks have run, without a restart, for
//     min_healthy_time and (health_check = "checks") every check of its
//     services passed for that whole time (a check with on_update =
//     "ignore_warnings" may be warning, one with "ignore" is left out);
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

// groupChecks counts the checks of a group's services that count towards
// its health: all but those with on_update = "ignore".
func groupChecks(g *api.TaskGroup) int {
	n := 0
	count := func(s *api.Service) {
		for _, c := range s.Checks {
			if firstNonEmpty(c.OnUpdate, s.OnUpdate) != "ignore" {
				n++
			}
		}
	}
	for _, s := range g.Services {
		count(s)
	}
	for _, t := range g.Tasks {
		for _, s := range t.Services {
			count(s)
		}
	}
	return n
}

// healthRules are the rules an allocation's health is judged by: its
// group's update block when it was placed for a deployment, its migrate
// block when it replaces an allocation that left a draining node; nil
// when it is not judged (yet: an in-place update can add a deployment).
func healthRules(a *api.Allocation, g *api.TaskGroup) *api.UpdateStrategy {
	switch {
	case a.DeploymentID != "" && g.Update != nil:
		return g.Update
	case a.Migrated && g.Migrate != nil:
		m := g.Migrate
		return &api.UpdateStrategy{HealthCheck: m.HealthCheck, MinHealthyTime: m.MinHealthyTime, HealthyDeadline: m.HealthyDeadline}
	}
	return nil
}

// watchHealth judges the allocation's health once, while its main tasks
// run, and writes the verdict with its status.
func (r *allocRunner) watchHealth(ctx context.Context, g *api.TaskGroup, main []*taskRunner) {
	if g.Update == nil && g.Migrate == nil {
		return
	}
	names := make([]string, len(main))
	for i, tr := range main {
		names[i] = tr.task.Name
	}
	j := &healthJudge{start: time.Now(), checks: groupChecks(g)}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stopCh:
			return
		case <-t.C:
		}
		rules := healthRules(r.current(), g)
		if rules == nil {
			j.start = time.Now()
			continue
		}
		if rules.HealthCheck == "manual" {
			return
		}
		if j.update == nil {
			j.update = rules
			t.Reset(min(max(rules.MinHealthyTime.Std()/10, 100*time.Millisecond), time.Second))
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
			for _, cr := range set.runs {
				// Each check as its on_update counts it: a warning
				// passes with ignore_warnings, ignore leaves it out.
				st := set.regs[cr.regID].Checks[cr.idx]
				if healthy, counts := cr.countsAsHealthy(st.Status); counts {
					if healthy {
						st.Status = api.CheckPassing
					}
					checks = append(checks, st)
				}
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
	if g == nil || r.stopping() {
		return
	}
	if rules := healthRules(r.current(), g); rules == nil || rules.HealthCheck == "manual" {
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
