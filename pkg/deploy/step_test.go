package deploy

import (
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := &api.Job{ID: "web", Version: 1}
	dep := func(mods ...func(*api.DeploymentGroup)) *api.Deployment {
		g := &api.DeploymentGroup{DesiredTotal: 2, ProgressDeadline: api.Duration(time.Minute), RequireProgressBy: t0.Add(time.Minute)}
		for _, m := range mods {
			m(g)
		}
		return &api.Deployment{ID: "d1", JobID: "web", JobVersion: 1, Status: api.DeploymentRunning, Groups: map[string]*api.DeploymentGroup{"g": g}}
	}
	alloc := func(healthy *bool, canary bool) *api.Allocation {
		a := &api.Allocation{DeploymentID: "d1", TaskGroup: "g", DesiredStatus: api.AllocDesiredRun, Canary: canary, Status: &api.AllocStatus{}}
		if healthy != nil {
			a.Status.Health = &api.AllocHealth{Healthy: *healthy}
		}
		return a
	}
	yes, no := true, false
	cases := []struct {
		name     string
		d        *api.Deployment
		job      *api.Job
		allocs   []*api.Allocation
		now      time.Time
		status   string // "" means no step
		evaluate bool
		revert   bool
	}{
		{"nothing new is no step", dep(func(g *api.DeploymentGroup) { g.PlacedAllocs = 1 }), job, []*api.Allocation{alloc(nil, false)}, t0, "", false, false},
		{"a healthy allocation moves the rollout on", dep(), job, []*api.Allocation{alloc(&yes, false), alloc(nil, false)}, t0, api.DeploymentRunning, true, false},
		{"all healthy is success", dep(func(g *api.DeploymentGroup) { g.HealthyAllocs = 1 }), job, []*api.Allocation{alloc(&yes, false), alloc(&yes, false)}, t0, api.DeploymentSuccessful, true, false},
		{"an unhealthy allocation fails it", dep(), job, []*api.Allocation{alloc(&no, false)}, t0, api.DeploymentFailed, true, false},
		{"and reverts with auto_revert", dep(func(g *api.DeploymentGroup) { g.AutoRevert = true }), job, []*api.Allocation{alloc(&no, false)}, t0, api.DeploymentFailed, false, true},
		{"a missed progress deadline fails it", dep(), job, []*api.Allocation{alloc(nil, false)}, t0.Add(2 * time.Minute), api.DeploymentFailed, true, false},
		{"a stopped job cancels it", dep(), &api.Job{ID: "web", Version: 1, Stop: true}, nil, t0, api.DeploymentCancelled, false, false},
		{"a newer version cancels it", dep(), &api.Job{ID: "web", Version: 2}, nil, t0, api.DeploymentCancelled, false, false},
		{"healthy canaries are auto-promoted", dep(func(g *api.DeploymentGroup) { g.DesiredCanaries, g.AutoPromote = 1, true }), job,
			[]*api.Allocation{alloc(&yes, true)}, t0, api.DeploymentRunning, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			step := Decide(c.d, c.job, c.allocs, c.now)
			if c.status == "" {
				if step != nil {
					t.Fatalf("want no step, got %+v", step.Next)
				}
				return
			}
			if step == nil {
				t.Fatal("want a step, got none")
			}
			if step.Next.Status != c.status || step.Evaluate != c.evaluate || step.Revert != c.revert {
				t.Fatalf("got %s (%s) evaluate %v revert %v", step.Next.Status, step.Next.StatusDescription, step.Evaluate, step.Revert)
			}
			if c.d.Status != api.DeploymentRunning {
				t.Fatal("the input deployment was changed")
			}
		})
	}
	// Promotion is recorded.
	d := dep(func(g *api.DeploymentGroup) { g.DesiredCanaries, g.AutoPromote = 1, true })
	if step := Decide(d, job, []*api.Allocation{alloc(&yes, true)}, t0); !step.Next.Groups["g"].Promoted || d.Groups["g"].Promoted {
		t.Fatalf("auto-promotion: next %+v, input %+v", step.Next.Groups["g"], d.Groups["g"])
	}
}
