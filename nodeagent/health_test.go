package nodeagent

import (
	"net"
	"strings"
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

// tcpPort returns a port on 127.0.0.1 that accepts connections while the
// test runs, or, when open is false, one that refuses them.
func tcpPort(t *testing.T, open bool) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if open {
		t.Cleanup(func() { ln.Close() })
	} else {
		ln.Close()
	}
	return port
}

func TestTheNodeAgentJudgesDeploymentHealth(t *testing.T) {
	t.Parallel()
	update := func(check string, minHealthy, deadline time.Duration) *api.UpdateStrategy {
		return &api.UpdateStrategy{HealthCheck: check, MinHealthyTime: api.Duration(minHealthy), HealthyDeadline: api.Duration(deadline)}
	}
	cases := []struct {
		name        string
		update      *api.UpdateStrategy
		migrate     *api.MigrateStrategy
		task        map[string]any
		restart     *api.RestartPolicy
		check       string // "", "passing" or "failing": a tcp check of the group's service
		wantHealthy bool
		wantWhy     string
		minHealthy  time.Duration
	}{
		{name: "running tasks are healthy after min_healthy_time", update: update("task_states", 300*time.Millisecond, time.Minute),
			task: forever(), wantHealthy: true, wantWhy: "healthy", minHealthy: 300 * time.Millisecond},
		{name: "a failed task is unhealthy", update: update("task_states", time.Minute, time.Minute),
			task: runFor("50ms", 1), wantWhy: "failed"},
		{name: "a task that keeps restarting is unhealthy", update: update("task_states", 300*time.Millisecond, 800*time.Millisecond),
			task: runFor("100ms", 1), restart: &api.RestartPolicy{Attempts: 100, Interval: api.Duration(time.Minute), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}},
		{name: "failing checks are unhealthy at healthy_deadline", update: update("checks", 100*time.Millisecond, 600*time.Millisecond),
			task: forever(), check: "failing", wantWhy: "healthy_deadline"},
		{name: "passing checks are healthy after min_healthy_time", update: update("checks", 200*time.Millisecond, time.Minute),
			task: forever(), check: "passing", wantHealthy: true, wantWhy: "healthy", minHealthy: 200 * time.Millisecond},
		{name: "a migrated allocation is judged by the migrate block",
			migrate: &api.MigrateStrategy{HealthCheck: "task_states", MinHealthyTime: api.Duration(100 * time.Millisecond), HealthyDeadline: api.Duration(time.Minute)},
			task:    forever(), wantHealthy: true, wantWhy: "healthy", minHealthy: 100 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeService, mockTask("t", c.task))
			g := j.Groups[0]
			g.Update, g.Migrate, g.Restart = c.update, c.migrate, c.restart
			var ports []api.AllocatedPort
			if c.check != "" {
				ports = []api.AllocatedPort{{Label: "http", Value: tcpPort(t, c.check == "passing"), HostIP: "127.0.0.1"}}
				g.Services = []*api.Service{{Name: "web", Port: "http", Checks: []*api.ServiceCheck{{Type: "tcp",
					Interval: api.Duration(50 * time.Millisecond), Timeout: api.Duration(time.Second)}}}}
			}
			a := h.place(j, func(a *api.Allocation) {
				a.Ports = ports
				if c.migrate != nil {
					a.Migrated = true
				} else {
					a.DeploymentID = "deployment-1"
				}
			})
			st := h.waitStatus(a, "a health verdict", func(st *api.AllocStatus) bool { return st.Health != nil })
			if st.Health.Healthy != c.wantHealthy || !strings.Contains(st.Health.Description, c.wantWhy) {
				t.Fatalf("health %v (%s), want %v (%s)", st.Health.Healthy, st.Health.Description, c.wantHealthy, c.wantWhy)
			}
			if started := st.Tasks["t"].StartedAt; c.wantHealthy && st.Health.Time.Sub(started) < c.minHealthy {
				t.Fatalf("healthy %v after the task started, before min_healthy_time %v", st.Health.Time.Sub(started), c.minHealthy)
			}
		})
	}
}

func TestOnlyAllocationsOfADeploymentWithoutManualChecksAreJudged(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		deployment string
		check      string
		wantJudged bool
	}{
		{"an allocation of a deployment that ends early is unhealthy", "deployment-1", "task_states", true},
		{"an allocation outside a deployment is not judged", "", "task_states", false},
		{"an allocation of a deployment with manual health is not judged", "deployment-1", "manual", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeBatch, mockTask("t", runFor("100ms", 0)))
			j.Groups[0].Update = &api.UpdateStrategy{HealthCheck: c.check, MinHealthyTime: api.Duration(time.Minute), HealthyDeadline: api.Duration(time.Hour)}
			a := h.place(j, func(a *api.Allocation) { a.DeploymentID = c.deployment })
			h.waitTerminal(a)
			st := h.waitFinished(a)
			if judged := st.Health != nil; judged != c.wantJudged {
				t.Fatalf("judged %v (%+v), want %v", judged, st.Health, c.wantJudged)
			}
			if c.wantJudged && st.Health.Healthy {
				t.Fatalf("an allocation that ended before min_healthy_time is healthy")
			}
		})
	}
}
