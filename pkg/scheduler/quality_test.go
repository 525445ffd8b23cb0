package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// skewedCluster makes a cluster whose rack values have very different
// sizes, with some nodes partly full of other jobs' allocations, a few
// nodes that take no work, and a third of the nodes with meta.disk = hdd,
// which the tests' constraint excludes. Every node has room for hundreds of
// allocations of 100 MHz / 64 MiB.
func skewedCluster(r *rand.Rand, racks int) ([]*api.Node, []*api.Allocation) {
	var nodes []*api.Node
	var allocs []*api.Allocation
	for rk := 0; rk < racks; rk++ {
		size := 1 + r.IntN(40)
		for i := 0; i < size; i++ {
			n := node(fmt.Sprintf("r%02d-n%03d", rk, i), 40000, 40000, withMeta("rack", fmt.Sprintf("rack%02d", rk)),
				withDC(fmt.Sprintf("dc%d", rk%3)), func(n *api.Node) {
					if r.IntN(4) == 0 {
						n.NodeClass = "fast"
					}
				})
			if i > 0 && r.IntN(15) == 0 {
				n.Eligible = false
			}
			// The first node of a rack always fits the tests' constraint.
			if i > 0 && r.IntN(3) == 0 {
				n.Meta["disk"] = "hdd"
			}
			if r.IntN(3) == 0 {
				a := &api.Allocation{ID: "busy-" + n.ID, Namespace: "default", JobID: "other", NodeID: n.ID, DesiredStatus: api.AllocDesiredRun,
					Resources: api.Resources{CPU: 10000 + r.IntN(20000), MemoryMB: 10000}, JobPriority: 50}
				running(a)
				allocs = append(allocs, a)
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, allocs
}

func placeAll(t *testing.T, j *api.Job, nodes []*api.Node, allocs []*api.Allocation, seed uint64) (*Plan, *State) {
	t.Helper()
	st := NewState(nodes, allocs)
	p := Compute(&Input{Namespace: "default", JobID: j.ID, Job: j, State: st, Now: now, NewID: ids(), Config: Config{Seed: seed}})
	if len(p.Failed) > 0 {
		t.Fatalf("seed %d: placements failed: %+v", seed, p.Failed["g"])
	}
	return p, st
}

func rackOf(st *State, a *api.Allocation) string { return st.byID[a.NodeID].node.Meta["rack"] }

// TestSpreadWithTargetsIsWithinOnePercent checks, on random skewed
// clusters, that every value ends within max(1, ceil(1% of count)) of its
// desired count.
func TestSpreadWithTargetsIsWithinOnePercent(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		racks := 3 + r.IntN(10)
		nodes, others := skewedCluster(r, racks)
		count := 20 + r.IntN(600)
		// Targets on a random subset of racks, the rest left to "*".
		var targets []api.SpreadTarget
		left := 100
		for rk := 0; rk < racks && left > 0; rk++ {
			if r.IntN(2) == 0 {
				continue
			}
			pct := min(left, 1+r.IntN(40))
			targets = append(targets, api.SpreadTarget{Value: fmt.Sprintf("rack%02d", rk), Percent: pct})
			left -= pct
		}
		j := job("j", count, func(j *api.Job) {
			j.Groups[0].Tasks[0].Resources = &api.Resources{CPU: 100, MemoryMB: 64}
			j.Spreads = []*api.Spread{{Attribute: "${meta.rack}", Weight: 100, Targets: targets}}
			j.Constraints = []*api.Constraint{{Attribute: "${meta.disk}", Operator: "!=", Value: "hdd"}}
		})
		p, st := placeAll(t, j, nodes, others, seed)
		got := countBy(p.Place, func(a *api.Allocation) string { return rackOf(st, a) })
		want := desiredPerValue(j.Spreads[0], count, st.values("${meta.rack}"))
		tol := math.Max(1, math.Ceil(0.01*float64(count)))
		for v, d := range want {
			if math.Abs(float64(got[v])-d) > tol {
				t.Errorf("seed %d, count %d: %s got %d, desired %.1f (tolerance %.0f); targets %v", seed, count, v, got[v], d, tol, targets)
			}
		}
	}
}

// TestSpreadWithoutTargetsIsEven checks an even split, within one, over
// the values present.
func TestSpreadWithoutTargetsIsEven(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 4))
		nodes, others := skewedCluster(r, 2+r.IntN(12))
		count := 10 + r.IntN(500)
		j := job("j", count, func(j *api.Job) {
			j.Groups[0].Tasks[0].Resources = &api.Resources{CPU: 100, MemoryMB: 64}
			j.Groups[0].Spreads = []*api.Spread{{Attribute: "${meta.rack}", Weight: 50}}
			j.Constraints = []*api.Constraint{{Attribute: "${meta.disk}", Operator: "!=", Value: "hdd"}}
		})
		p, st := placeAll(t, j, nodes, others, seed)
		got := countBy(p.Place, func(a *api.Allocation) string { return rackOf(st, a) })
		values := st.values("${meta.rack}")
		even := float64(count) / float64(len(values))
		for v := range values {
			if math.Abs(float64(got[v])-even) > 1 {
				t.Errorf("seed %d, count %d over %d racks: %s got %d, even share %.2f", seed, count, len(values), v, got[v], even)
			}
		}
	}
}

// TestAffinitiesAreAlwaysHonouredWhenThereIsRoom checks that with room on
// affine nodes every allocation lands on one, and that with room elsewhere
// none lands on a node of negative affinity.
func TestAffinitiesAreAlwaysHonouredWhenThereIsRoom(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 5))
		nodes, others := skewedCluster(r, 3+r.IntN(10))
		count := 10 + r.IntN(300)
		for _, weight := range []int{100, 30, -40, -100} {
			j := job("j", count, func(j *api.Job) {
				j.Groups[0].Tasks[0].Resources = &api.Resources{CPU: 100, MemoryMB: 64}
				j.Affinities = []*api.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "fast", Weight: weight}}
			})
			p, st := placeAll(t, j, nodes, others, seed)
			onFast := 0
			for _, a := range p.Place {
				if st.byID[a.NodeID].node.NodeClass == "fast" {
					onFast++
				}
			}
			if weight > 0 && onFast != count {
				t.Errorf("seed %d, weight %d: %d of %d on affine nodes", seed, weight, onFast, count)
			}
			if weight < 0 && onFast != 0 {
				t.Errorf("seed %d, weight %d: %d of %d on repelling nodes", seed, weight, onFast, count)
			}
		}
	}
}
