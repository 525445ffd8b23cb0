package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func node(id string, cpu, mem int) *api.Node {
	return &api.Node{ID: id, Name: id, Datacenter: "dc1", Status: api.NodeStatusReady, Eligible: true,
		Drivers:   map[string]*api.DriverInfo{"raw_exec": {Detected: true, Healthy: true}},
		Resources: api.Resources{CPU: cpu, MemoryMB: mem}}
}

func job(count int) *api.Job {
	j := &api.Job{ID: "web", Groups: []*api.TaskGroup{{Name: "g", Count: count, Tasks: []*api.Task{{
		Name: "t", Driver: "raw_exec", Resources: &api.Resources{CPU: 100, MemoryMB: 100}}}}}}
	j.Canonicalize()
	return j
}

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("alloc-%03d", n) }
}

func input(j *api.Job, nodes []*api.Node, allocs []*api.Allocation) *Input {
	return &Input{Namespace: "default", JobID: "web", Job: j, Nodes: nodes, Allocs: allocs, EvalID: "e1", Now: time.Unix(0, 0), NewID: ids()}
}

func running(p *Plan) []*api.Allocation {
	for _, a := range p.Place {
		a.Status = &api.AllocStatus{ClientStatus: api.AllocClientRunning}
	}
	return p.Place
}

func TestComputePlacesCountAllocationsWithDistinctIndexes(t *testing.T) {
	p := Compute(input(job(3), []*api.Node{node("n1", 1000, 1000)}, nil))
	if len(p.Place) != 3 || len(p.Update) != 0 || p.Failed != nil {
		t.Fatalf("want 3 placements, got %d place, %d update, failed %v", len(p.Place), len(p.Update), p.Failed)
	}
	for i, a := range p.Place {
		if a.Index != i || a.Name != fmt.Sprintf("web.g[%d]", i) || a.NodeID != "n1" || a.DesiredStatus != api.AllocDesiredRun {
			t.Errorf("placement %d: %+v", i, a)
		}
	}
}
