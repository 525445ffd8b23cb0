package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// randomCluster makes n nodes of varied sizes over 4 datacenters and 10
// racks; a few are down, ineligible or draining.
func randomCluster(seed uint64, n int) []*api.Node {
	r := rand.New(rand.NewPCG(seed, 1))
	nodes := make([]*api.Node, n)
	for i := range nodes {
		nd := node(fmt.Sprintf("node-%05d", i), 1000*(1+r.IntN(8)), 1024*(1+r.IntN(16)),
			withDC(fmt.Sprintf("dc%d", r.IntN(4))), withMeta("rack", fmt.Sprintf("r%d", r.IntN(10))))
		switch r.IntN(20) {
		case 0:
			nd.Status = api.NodeStatusDown
		case 1:
			nd.Eligible = false
		case 2:
			nd.Drain = &api.DrainStrategy{}
		}
		nodes[i] = nd
	}
	return nodes
}

// randomJob makes a job with random asks, maybe static ports, constraints
// and spreads.
func randomJob(r *rand.Rand, id string) *api.Job {
	return job(id, 1+r.IntN(40), func(j *api.Job) {
		g := j.Groups[0]
		g.Tasks[0].Resources = &api.Resources{CPU: 50 * (1 + r.IntN(20)), MemoryMB: 64 * (1 + r.IntN(32))}
		if r.IntN(3) == 0 {
			g.Network = &api.Network{Ports: []api.Port{{Label: "s", Static: 8000 + r.IntN(3)}, {Label: "d"}}}
		}
		if r.IntN(3) == 0 {
			j.Constraints = []*api.Constraint{{Attribute: "${node.datacenter}", Operator: "!=", Value: fmt.Sprintf("dc%d", r.IntN(4))}}
		}
		if r.IntN(4) == 0 {
			j.Spreads = []*api.Spread{{Attribute: "${meta.rack}", Weight: 50}}
		}
		if r.IntN(4) == 0 {
			j.Affinities = []*api.Affinity{{Attribute: "${node.datacenter}", Operator: "=", Value: "dc1", Weight: 60}}
		}
		if r.IntN(5) == 0 {
			j.Type = api.JobTypeSystem
			j.Priority = 80
		}
	})
}

// TestInvariantsOnRandomClusters schedules random jobs one after the other
// onto random clusters and checks, after every plan, that no node is over
// capacity, nothing landed on a node that takes no new work, and no two
// live allocations of a node hold the same port.
func TestInvariantsOnRandomClusters(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 2))
		nodes := randomCluster(seed, 30+r.IntN(100))
		byID := map[string]*api.Node{}
		for _, n := range nodes {
			byID[n.ID] = n
		}
		var allocs []*api.Allocation
		for k := 0; k < 15; k++ {
			j := randomJob(r, fmt.Sprintf("job%d", k))
			p := Compute(&Input{Namespace: "default", JobID: j.ID, Job: j, Nodes: nodes, Allocs: allocs, Now: now,
				NewID: ids2(seed, k), Config: Config{Seed: seed*100 + uint64(k)}})
			for _, a := range p.Place {
				n := byID[a.NodeID]
				if !ready(n) {
					t.Fatalf("seed %d: placed on node %s that is %s/eligible %v/drain %v", seed, n.ID, n.Status, n.Eligible, n.Drain != nil)
				}
			}
			allocs = apply(allocs, p)
			checkCapacity(t, seed, nodes, allocs)
		}
	}
}

func ids2(seed uint64, k int) func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("s%d-j%d-%d", seed, k, n) }
}

// apply merges a plan into the allocations, as committing it would, with
// new allocations running.
func apply(allocs []*api.Allocation, p *Plan) []*api.Allocation {
	idx := map[string]int{}
	for i, a := range allocs {
		idx[a.ID] = i
	}
	for _, u := range p.Update {
		c := *u
		if c.DesiredStatus == api.AllocDesiredStop {
			c.Status = &api.AllocStatus{ClientStatus: api.AllocClientComplete}
		} else {
			c.Status = allocs[idx[u.ID]].Status
		}
		allocs[idx[u.ID]] = &c
	}
	for _, a := range p.Place {
		c := *a
		c.Status = &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: time.Time{}}
		allocs = append(allocs, &c)
	}
	return allocs
}

func checkCapacity(t *testing.T, seed uint64, nodes []*api.Node, allocs []*api.Allocation) {
	t.Helper()
	used := map[string]api.Resources{}
	ports := map[string]map[int]string{}
	for _, a := range allocs {
		if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			continue
		}
		used[a.NodeID] = used[a.NodeID].Add(a.Resources)
		if ports[a.NodeID] == nil {
			ports[a.NodeID] = map[int]string{}
		}
		for _, p := range a.Ports {
			if other, dup := ports[a.NodeID][p.Value]; dup {
				t.Fatalf("seed %d: port %d of node %s held by %s and %s", seed, p.Value, a.NodeID, other, a.ID)
			}
			ports[a.NodeID][p.Value] = a.ID
		}
	}
	for _, n := range nodes {
		u := used[n.ID]
		if u.CPU > n.Resources.CPU || u.MemoryMB > n.Resources.MemoryMB || u.DiskMB > n.Resources.DiskMB {
			t.Fatalf("seed %d: node %s over capacity: used %+v of %+v", seed, n.ID, u, n.Resources)
		}
	}
}
