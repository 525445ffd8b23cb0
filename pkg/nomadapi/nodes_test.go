package nomadapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// The node list carries resources only when asked (?resources=true), as
// Nomad's does; Nomad's UI and the api package's tests ask.
func TestNodeListResourcesWhenAsked(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/noderes")
	node := &api.Node{ID: "9f0c2d4e-0000-4000-8000-000000000002", Name: "n1", Datacenter: "dc1", Eligible: true,
		Resources: api.Resources{CPU: 2000, MemoryMB: 4096, DiskMB: 10000}}
	if err := st.PutNode(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	plain, _, err := c.Nodes().List(nil)
	if err != nil || len(plain) != 1 || plain[0].NodeResources != nil || plain[0].ReservedResources != nil {
		t.Fatalf("plain list: %+v %v", plain, err)
	}
	with, _, err := c.Nodes().List(&napi.QueryOptions{Params: map[string]string{"resources": "true"}})
	if err != nil || len(with) != 1 || with[0].NodeResources == nil || with[0].ReservedResources == nil ||
		with[0].NodeResources.Cpu.CpuShares != 2000 || with[0].NodeResources.Memory.MemoryMB != 4096 ||
		with[0].NodeResources.MinDynamicPort != 20000 || with[0].NodeResources.MaxDynamicPort != 32000 {
		t.Fatalf("with resources: %+v %v", with, err)
	}
	// The node's secret is never shown: SecretID is there, empty, as
	// Nomad's clients check; a node that is not there has no allocations.
	var raw map[string]any
	if _, err := c.Raw().Query("/v1/node/"+node.ID, &raw, nil); err != nil || raw["SecretID"] != "" || raw["ID"] != node.ID {
		t.Fatalf("the node as JSON: %v %v", raw, err)
	}
	allocs, _, err := c.Nodes().Allocations("nope", nil)
	if err != nil || len(allocs) != 0 {
		t.Fatalf("allocations of no node: %v %v", allocs, err)
	}
}

// nomad job stop -no-shutdown-delay marks the job's allocations that are
// to run so before it stops the job; those already done are left alone.
func TestJobStopWithoutShutdownDelayMarksItsAllocations(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/jobnsd")
	ctx := context.Background()
	job := &api.Job{ID: "web", Namespace: "default", Type: api.JobTypeService,
		Groups: []*api.TaskGroup{{Name: "g", Count: 2, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
	job.Canonicalize()
	if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
		t.Fatal(err)
	}
	var allocs []*api.Allocation
	for i, status := range []string{api.AllocDesiredRun, api.AllocDesiredStop} {
		allocs = append(allocs, &api.Allocation{ID: api.NewID(), Name: fmt.Sprintf("web.g[%d]", i), Namespace: "default", JobID: "web",
			TaskGroup: "g", Index: i, NodeID: "n1", DesiredStatus: status})
	}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
		t.Fatal(err)
	}
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	if _, _, err := c.Jobs().DeregisterOpts("web", &napi.DeregisterOptions{NoShutdownDelay: true}, nil); err != nil {
		t.Fatal(err)
	}
	for i, a := range allocs {
		got, err := st.ListAllocs(ctx, store.AllocFilter{Namespace: "default", JobID: "web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g.ID == a.ID && g.NoShutdownDelay != (i == 0) {
				t.Errorf("allocation %d (%s): no shutdown delay %v", i, a.DesiredStatus, g.NoShutdownDelay)
			}
		}
	}
	if j, _, err := st.GetJob(ctx, "default", "web"); err != nil || !j.Stop {
		t.Fatalf("the job after its stop: %+v %v", j, err)
	}
}
