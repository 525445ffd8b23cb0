package nomadapi

import (
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// The Nomad Autoscaler's view of a cluster: each group's scaling block is
// a policy it lists (with a blocking query), reads and acts on through the
// job's scale endpoint; `nomad scaling policy list/info` show the same.
func TestScalingPoliciesAsTheAutoscalerReadsThem(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/scalingpol")
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	lo, hi := int64(1), int64(5)
	job := napi.NewServiceJob("web", "web", "global", 50)
	scaled := napi.NewTaskGroup("app", 2).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", "1h"))
	scaled.Scaling = &napi.ScalingPolicy{Min: &lo, Max: &hi, Policy: map[string]any{
		"cooldown": "1m",
		"check":    []any{map[string]any{"cpu": []any{map[string]any{"source": "nomad-apm", "query": "avg_cpu"}}}},
	}}
	job.AddTaskGroup(scaled)
	job.AddTaskGroup(napi.NewTaskGroup("fixed", 1).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", "1h")))
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}

	list, qm, err := c.Scaling().ListPolicies(nil)
	if err != nil || len(list) != 1 {
		t.Fatalf("policies: %+v %v", list, err)
	}
	stub := list[0]
	if !stub.Enabled || stub.Type != "horizontal" || stub.Target["Job"] != "web" || stub.Target["Group"] != "app" ||
		stub.Target["Namespace"] != "default" || stub.ModifyIndex == 0 || stub.ID == "" {
		t.Fatalf("stub: %+v", stub)
	}
	p, _, err := c.Scaling().GetPolicy(stub.ID, nil)
	if err != nil || *p.Min != 1 || *p.Max != 5 || !*p.Enabled || p.Policy["cooldown"] != "1m" || p.Policy["check"] == nil || p.Namespace != "default" {
		t.Fatalf("policy: %+v %v", p, err)
	}
	// The job carries its policy, with the same ID, as Nomad's does.
	info, _, err := c.Jobs().Info("web", nil)
	if err != nil || info.TaskGroups[0].Scaling == nil || info.TaskGroups[0].Scaling.ID != stub.ID || info.TaskGroups[1].Scaling != nil {
		t.Fatalf("job info's scaling: %+v %v", info.TaskGroups[0].Scaling, err)
	}
	for q, want := range map[string]int{"prefix=" + stub.ID[:4]: 1, "prefix=zz": 0, "job=web": 1, "job=other": 0, "type=horizontal": 1, "type=vertical": 0, "namespace=*": 1} {
		var out []*napi.ScalingPolicyListStub
		if _, err := c.Raw().Query("/v1/scaling/policies?"+q, &out, nil); err != nil || len(out) != want {
			t.Errorf("%s: %d policies, want %d (%v)", q, len(out), want, err)
		}
	}
	if _, _, err := c.Scaling().GetPolicy("00000000-0000-0000-0000-000000000000", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown policy: %v", err)
	}

	// A blocking query wakes when the job changes: the autoscaler scales
	// within the bounds, and the policy keeps its ID.
	woke := make(chan []*napi.ScalingPolicyListStub, 1)
	go func() {
		l, _, err := c.Scaling().ListPolicies(&napi.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		woke <- l
	}()
	time.Sleep(200 * time.Millisecond)
	count := int64(4)
	if _, _, err := c.Jobs().Scale("web", "app", ptr(int(count)), "autoscaler: cpu high", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-woke:
		if len(l) != 1 || l[0].ID != stub.ID || l[0].ModifyIndex <= stub.ModifyIndex {
			t.Fatalf("after scaling: %+v (before %+v)", l, stub)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocking list did not wake when the job changed")
	}
	if _, _, err := c.Jobs().Scale("web", "app", ptr(9), "too many", false, nil, nil); err == nil || !strings.Contains(err.Error(), "outside the scaling bounds") {
		t.Fatalf("scaling past max: %v", err)
	}
	status, _, err := c.Jobs().ScaleStatus("web", nil)
	if err != nil || status.TaskGroups["app"].Desired != 4 {
		t.Fatalf("scale status: %+v %v", status, err)
	}

	// The job as inspected goes back in unchanged (nomad job inspect |
	// nomad job run -json), and stopping it disables its policy.
	info, _, err = c.Jobs().Info("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Register(info, nil); err != nil {
		t.Fatalf("registering the inspected job: %v", err)
	}
	if _, _, err := c.Jobs().Deregister("web", false, nil); err != nil {
		t.Fatal(err)
	}
	p, _, err = c.Scaling().GetPolicy(stub.ID, nil)
	if err != nil || *p.Enabled || *p.Max != 5 {
		t.Fatalf("the policy of a stopped job: %+v %v", p, err)
	}
}
