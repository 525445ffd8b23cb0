package scheduler

import (
	"fmt"
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
