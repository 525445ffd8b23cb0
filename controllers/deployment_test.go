package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/deploy"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// rollJob is a service of count sleeping tasks whose env carries the
// version marker v, rolled out one at a time on task health.
func rollJob(id, script, v string, count int, mods ...func(*api.UpdateStrategy)) *api.Job {
	return shJob(id, script, count, func(j *api.Job) {
		j.Update = &api.UpdateStrategy{MaxParallel: 1, HealthCheck: "task_states", MinHealthyTime: api.Duration(500 * time.Millisecond),
			HealthyDeadline: api.Duration(20 * time.Second), ProgressDeadline: api.Duration(40 * time.Second), AutoRevert: true}
		for _, m := range mods {
			m(j.Update)
		}
		j.Groups[0].Tasks[0].Env = map[string]string{"V": v}
		j.Groups[0].Restart = &api.RestartPolicy{Attempts: 0, Mode: "fail"}
		j.Groups[0].Reschedule = &api.ReschedulePolicy{Attempts: 0}
	})
}

// waitDeployment waits for the deployment of a job version to reach a
// status and returns it.
func (c *cluster) waitDeployment(job string, version uint64, status string) *api.Deployment {
	var got *api.Deployment
	testutil.Eventually(c.t, 60*time.Second, func() (bool, string) {
		ds, err := c.store.ListDeployments(context.Background(), "default", job)
		if err != nil {
			return false, err.Error()
		}
		for _, d := range ds {
			if d.JobVersion == version {
				got = d
				return d.Status == status, fmt.Sprintf("deployment of version %d is %s (%s), want %s", version, d.Status, d.StatusDescription, status)
			}
		}
		return false, fmt.Sprintf("no deployment of version %d among %d", version, len(ds))
	})
	return got
}

func (c *cluster) register(j *api.Job) *api.RegisterResponse {
	resp, err := c.store.RegisterJob(context.Background(), j, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

func TestDeploymentRollsOnHealthAndMarksTheVersionStable(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	c.register(rollJob("web", "sleep 60", "1", 3))
	c.waitDeployment("web", 0, api.DeploymentSuccessful)
	c.register(rollJob("web", "sleep 60", "2", 3))
	d := c.waitDeployment("web", 1, api.DeploymentSuccessful)
	if g := d.Groups["g"]; g.HealthyAllocs != 3 || g.PlacedAllocs != 3 || g.UnhealthyAllocs != 0 {
		t.Fatalf("deployment counts: %+v", g)
	}
	// One at a time: each replacement was placed only after the one
	// before it was judged healthy.
	var v1 []*api.Allocation
	for _, a := range c.allocs("web") {
		if a.JobVersion == 1 && a.DesiredStatus == api.AllocDesiredRun {
			v1 = append(v1, a)
		}
	}
	sort.Slice(v1, func(i, j int) bool { return v1[i].CreateTime.Before(v1[j].CreateTime) })
	if len(v1) != 3 {
		t.Fatalf("%d allocations of version 1", len(v1))
	}
	for i := 1; i < len(v1); i++ {
		prev := v1[i-1].Health()
		if prev == nil || !prev.Healthy || v1[i].CreateTime.Before(prev.Time.Add(-50*time.Millisecond)) {
			t.Fatalf("allocation %d created %s, before its predecessor was healthy (%+v)", i, v1[i].CreateTime, prev)
		}
	}
	for _, v := range []uint64{0, 1} {
		j, err := c.store.GetJobVersion(context.Background(), "default", "web", v)
		if err != nil || !j.Stable {
			t.Fatalf("version %d is not stable: %+v %v", v, j, err)
		}
	}
}

func TestFailingVersionFailsItsDeploymentAndIsReverted(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	c.register(rollJob("api", "sleep 60", "good", 3))
	c.waitDeployment("api", 0, api.DeploymentSuccessful)
	c.register(rollJob("api", "sleep 0.2; exit 3", "bad", 3))
	d := c.waitDeployment("api", 1, api.DeploymentFailed)
	if d.Groups["g"].PlacedAllocs != 1 {
		t.Fatalf("the bad version placed %d allocations before failing, want 1", d.Groups["g"].PlacedAllocs)
	}
	// The revert is version 2, the good spec again, and rolls out.
	c.waitDeployment("api", 2, api.DeploymentSuccessful)
	j, _, err := c.store.GetJob(context.Background(), "default", "api")
	if err != nil || j.Version != 2 || j.Groups[0].Tasks[0].Env["V"] != "good" || !j.Stable {
		t.Fatalf("job after revert: %+v %v", j, err)
	}
	c.waitStatus("api", api.AllocClientRunning, 3)
}

func TestCanaryWaitsForPromotion(t *testing.T) {
	c := newCluster(t)
	c.agent("n1", true)
	canary := func(u *api.UpdateStrategy) { u.Canary = 1 }
	c.register(rollJob("cn", "sleep 60", "1", 3, canary))
	c.waitDeployment("cn", 0, api.DeploymentSuccessful)
	c.register(rollJob("cn", "sleep 60", "2", 3, canary))
	var d *api.Deployment
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		d = c.waitDeployment("cn", 1, api.DeploymentRunning)
		return d.Groups["g"].HealthyAllocs == 1, d.StatusDescription
	})
	if d.StatusDescription != "deployment is running but requires manual promotion" {
		t.Fatalf("description: %q", d.StatusDescription)
	}
	old, canaries := 0, 0
	for _, a := range c.allocs("cn") {
		if a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientRunning {
			if a.Canary {
				canaries++
			} else if a.JobVersion == 0 {
				old++
			}
		}
	}
	if old != 3 || canaries != 1 {
		t.Fatalf("before promotion: %d old and %d canaries running, want 3 and 1", old, canaries)
	}
	ctx := context.Background()
	if _, err := deploy.Act(ctx, c.store, d.ID[:8], deploy.ActionResume, time.Now()); !errors.Is(err, deploy.ErrDeploymentState) {
		t.Fatalf("resuming a running deployment: %v", err)
	}
	if _, err := deploy.Act(ctx, c.store, d.ID, deploy.ActionPause, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Act(ctx, c.store, d.ID, deploy.ActionResume, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Act(ctx, c.store, d.ID, deploy.ActionPromote, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.waitDeployment("cn", 1, api.DeploymentSuccessful)
	testutil.Eventually(t, 30*time.Second, func() (bool, string) {
		n := 0
		for _, a := range c.allocs("cn") {
			if a.DesiredStatus == api.AllocDesiredRun && a.JobVersion == 1 && a.ClientStatusOf() == api.AllocClientRunning {
				n++
			}
		}
		return n == 3, fmt.Sprintf("%d of version 1 running", n)
	})
}
