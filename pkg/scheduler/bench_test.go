package scheduler

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// benchCluster is n identical-ish nodes over 25 racks, big enough that
// capacity never runs out in the benchmarks.
func benchCluster(n int) []*api.Node {
	nodes := make([]*api.Node, n)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%05d", i), 32000, 131072, withDC(fmt.Sprintf("dc%d", i%4)), withMeta("rack", fmt.Sprintf("r%02d", i%25)))
	}
	return nodes
}

func benchJob(id string, count int) *api.Job {
	return job(id, count, func(j *api.Job) {
		j.Groups[0].Tasks[0].Resources = &api.Resources{CPU: 100, MemoryMB: 128}
		j.Groups[0].Network = &api.Network{Ports: []api.Port{{Label: "http"}}}
	})
}

// benchPlace schedules one job of count allocations onto nodes per
// iteration and reports placements per second. The cluster's State is
// built once, as a server's cache holds it; BenchmarkNewState measures
// building it.
func benchPlace(b *testing.B, nodes []*api.Node, j *api.Job) {
	st := NewState(nodes, nil)
	b.ReportAllocs()
	placed := 0
	for b.Loop() {
		p := Compute(&Input{Namespace: "default", JobID: j.ID, Job: j, State: st, Now: now, NewID: ids(), Config: Config{Seed: 1}})
		if len(p.Place) != j.Groups[0].Count {
			b.Fatalf("placed %d of %d", len(p.Place), j.Groups[0].Count)
		}
		placed += len(p.Place)
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(placed), "ns/placement")
}

func BenchmarkPlace1000On1000Nodes(b *testing.B) {
	benchPlace(b, benchCluster(1000), benchJob("j", 1000))
}
func BenchmarkPlace1000On5000Nodes(b *testing.B) {
	benchPlace(b, benchCluster(5000), benchJob("j", 1000))
}
func BenchmarkPlace1000On10000Nodes(b *testing.B) {
	benchPlace(b, benchCluster(10000), benchJob("j", 1000))
}

// Benchmark100JobsOf100On5000Nodes schedules 100 jobs of 100 allocations
// one after the other, each seeing the allocations of the ones before.
func Benchmark100JobsOf100On5000Nodes(b *testing.B) {
	nodes := benchCluster(5000)
	jobs := make([]*api.Job, 100)
	for i := range jobs {
		jobs[i] = benchJob(fmt.Sprintf("job%03d", i), 100)
	}
	b.ReportAllocs()
	placed := 0
	for b.Loop() {
		b.StopTimer()
		st := NewState(nodes, nil)
		b.StartTimer()
		for _, j := range jobs {
			p := Compute(&Input{Namespace: "default", JobID: j.ID, Job: j, State: st, Now: now, NewID: ids(), Config: Config{Seed: 1}})
			if len(p.Place) != 100 {
				b.Fatalf("placed %d of 100", len(p.Place))
			}
			st.Apply(p)
			placed += len(p.Place)
		}
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(placed), "ns/placement")
}

// BenchmarkNewState measures building the scheduler's view of 5,000 nodes
// running 10,000 allocations.
func BenchmarkNewState(b *testing.B) {
	nodes := benchCluster(5000)
	var allocs []*api.Allocation
	for i := 0; i < 10000; i++ {
		allocs = append(allocs, &api.Allocation{ID: fmt.Sprintf("a%05d", i), Namespace: "default", JobID: fmt.Sprintf("j%d", i%100),
			NodeID: nodes[i%5000].ID, DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 128},
			Status: &api.AllocStatus{ClientStatus: api.AllocClientRunning}})
	}
	b.ReportAllocs()
	for b.Loop() {
		NewState(nodes, allocs)
	}
}

// variants of BenchmarkVariants, after Nomad's scheduler benchmark: one
// group, 25 racks, constrained to 13 of them.
var variants = []struct {
	name string
	mod  func(j *api.Job)
}{
	{"plain", func(*api.Job) {}},
	{"spread", func(j *api.Job) {
		j.Spreads = []*api.Spread{{Attribute: "${meta.rack}", Weight: 100}}
	}},
	{"spread-targets", func(j *api.Job) {
		j.Spreads = []*api.Spread{{Attribute: "${node.datacenter}", Weight: 100, Targets: []api.SpreadTarget{
			{Value: "dc0", Percent: 40}, {Value: "dc1", Percent: 30}, {Value: "dc2", Percent: 20}, {Value: "dc3", Percent: 10}}}}
	}},
	{"affinity", func(j *api.Job) {
		j.Affinities = []*api.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "fast", Weight: 50}}
	}},
	{"spread+affinity", func(j *api.Job) {
		j.Spreads = []*api.Spread{{Attribute: "${meta.rack}", Weight: 100}}
		j.Affinities = []*api.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "fast", Weight: 50}}
	}},
}

// BenchmarkVariants measures placements per second and placement quality
// of every variant, nodes and count: spread-dev is the largest distance of
// a value's count from its desired count (allocations), affine the share
// of allocations on affine nodes.
func BenchmarkVariants(b *testing.B) {
	for _, nodes := range []int{1000, 5000, 10000} {
		cluster := benchCluster(nodes)
		for i, n := range cluster {
			if i%4 == 0 {
				n.NodeClass = "fast"
			}
		}
		st := NewState(cluster, nil)
		for _, count := range []int{300, 1200} {
			for _, v := range variants {
				j := benchJob("j", count)
				j.Constraints = []*api.Constraint{{Attribute: "${meta.rack}", Operator: "regexp", Value: "^r(0[0-9]|1[0-2])$"}}
				v.mod(j)
				b.Run(fmt.Sprintf("%s/nodes=%d/count=%d", v.name, nodes, count), func(b *testing.B) {
					var p *Plan
					placed := 0
					for b.Loop() {
						p = Compute(&Input{Namespace: "default", JobID: j.ID, Job: j, State: st, Now: now, NewID: ids(), Config: Config{Seed: 1}})
						if len(p.Place) != count {
							b.Fatalf("placed %d of %d", len(p.Place), count)
						}
						placed += len(p.Place)
					}
					b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
					dev, affine := quality(st, j, p)
					if len(j.Spreads) > 0 {
						b.ReportMetric(dev, "spread-dev")
					}
					if len(j.Affinities) > 0 {
						b.ReportMetric(affine, "affine")
					}
				})
			}
		}
	}
}

func quality(st *State, j *api.Job, p *Plan) (dev, affine float64) {
	if len(j.Spreads) > 0 {
		sp := j.Spreads[0]
		want := desiredPerValue(sp, j.Groups[0].Count, feasibleValues(st, j, sp.Attribute))
		got := map[string]int{}
		for _, a := range p.Place {
			v, _ := resolve(st.byID[a.NodeID].node, sp.Attribute)
			got[v]++
		}
		for v, d := range want {
			dev = max(dev, math.Abs(float64(got[v])-d))
		}
	}
	for _, a := range p.Place {
		if st.byID[a.NodeID].node.NodeClass == "fast" {
			affine++
		}
	}
	return dev, affine / float64(len(p.Place))
}

// feasibleValues are the values of an attribute among the nodes the job's
// constraints allow, for judging the spread.
func feasibleValues(st *State, j *api.Job, attribute string) map[string][]int {
	m := newMatcher()
	out := map[string][]int{}
	for v, idxs := range st.values(attribute) {
		for _, i := range idxs {
			ok := true
			for _, c := range j.Constraints {
				ok = ok && m.match(st.nodes[i].node, c.Attribute, c.Operator, c.Value)
			}
			if ok {
				out[v] = append(out[v], i)
			}
		}
	}
	return out
}

// TestStateMemory measures the heap the scheduler's view adds to 1,000
// nodes and 10,000 allocations (go test -run StateMemory -v
// ./pkg/scheduler) and fails if it grows past a bound.
func TestStateMemory(t *testing.T) {
	nodes := benchCluster(1000)
	var allocs []*api.Allocation
	for i := 0; i < 10000; i++ {
		allocs = append(allocs, &api.Allocation{ID: fmt.Sprintf("a%05d", i), Namespace: "default", JobID: fmt.Sprintf("j%d", i%100),
			NodeID: nodes[i%1000].ID, DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 128},
			Status: &api.AllocStatus{ClientStatus: api.AllocClientRunning}})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st := NewState(nodes, allocs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(st)
	overhead := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("scheduler.State of 1,000 nodes and 10,000 allocations: %d KiB of heap beyond the objects themselves", overhead>>10)
	// A guard against the view growing a copy of the cluster.
	if overhead > 8<<20 {
		t.Fatalf("the scheduler's view takes %d KiB, more than the 8 MiB allowed", overhead>>10)
	}
}
