package nodeagent

import (
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestHealthJudgement(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	upd := func(hc string) *api.UpdateStrategy {
		return &api.UpdateStrategy{HealthCheck: hc, MinHealthyTime: api.Duration(10 * time.Second), HealthyDeadline: api.Duration(time.Minute)}
	}
	run := &api.TaskState{State: api.TaskStateRunning}
	passing := []api.CheckStatus{{Status: api.CheckPassing}}
	critical := []api.CheckStatus{{Status: api.CheckCritical}}
	restarted := &api.TaskState{State: api.TaskStateRunning, Restarts: 1}
	type look struct {
		at     time.Duration
		task   *api.TaskState
		checks []api.CheckStatus
	}
	cases := []struct {
		name   string
		update *api.UpdateStrategy
		checks int
		looks  []look
		want   string // "", "healthy" or "unhealthy"
	}{
		{"running with passing checks for min_healthy_time is healthy", upd("checks"), 1,
			[]look{{0, run, passing}, {10 * time.Second, run, passing}}, "healthy"},
		{"not before min_healthy_time", upd("checks"), 1,
			[]look{{0, run, passing}, {9 * time.Second, run, passing}}, ""},
		{"a failing check restarts the clock", upd("checks"), 1,
			[]look{{0, run, passing}, {5 * time.Second, run, critical}, {12 * time.Second, run, passing}, {20 * time.Second, run, passing}}, ""},
		{"checks are ignored with task_states", upd("task_states"), 1,
			[]look{{0, run, critical}, {10 * time.Second, run, critical}}, "healthy"},
		{"checks not registered yet are not passing", upd("checks"), 2,
			[]look{{0, run, passing}, {10 * time.Second, run, passing}}, ""},
		{"a restart restarts the clock", upd("task_states"), 0,
			[]look{{0, run, nil}, {9 * time.Second, restarted, nil}, {15 * time.Second, restarted, nil}}, ""},
		{"and counts from the restart", upd("task_states"), 0,
			[]look{{0, run, nil}, {9 * time.Second, restarted, nil}, {19 * time.Second, restarted, nil}}, "healthy"},
		{"a failed task is unhealthy", upd("task_states"), 0,
			[]look{{0, run, nil}, {time.Second, &api.TaskState{State: api.TaskStateDead, Failed: true}, nil}}, "unhealthy"},
		{"past healthy_deadline is unhealthy", upd("checks"), 1,
			[]look{{0, run, critical}, {61 * time.Second, run, critical}}, "unhealthy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := &healthJudge{update: c.update, start: t0, checks: c.checks}
			var got *api.AllocHealth
			for _, l := range c.looks {
				got = j.look(t0.Add(l.at), []*api.TaskState{l.task}, []string{"web"}, l.checks)
				if got != nil {
					break
				}
			}
			verdict := ""
			if got != nil {
				verdict = map[bool]string{true: "healthy", false: "unhealthy"}[got.Healthy]
			}
			if verdict != c.want {
				t.Fatalf("verdict %q, want %q (%+v)", verdict, c.want, got)
			}
		})
	}
}
