package controllers_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// BenchmarkContainerStartLatency measures, over 50 containers, the time
// from an allocation being written to etcd to its container running, as
// the node agent reports it: go test -run '^$' -bench ContainerStart
// -benchtime 1x ./controllers
func BenchmarkContainerStartLatency(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchStart(b, benchContainers)
	}
}

func benchStart(b *testing.B, n int) {
	d, archive := startContainerd(b)
	c := newCluster(b)
	c.agent("n1", true, d)
	ctx := context.Background()
	j := containerJob(fmt.Sprintf("lat%d", time.Now().UnixNano()%100000), archive, "sleep 300", func(j *api.Job) {
		j.Groups[0].Count = n
		j.Groups[0].Tasks[0].Resources = &api.Resources{CPU: 10, MemoryMB: 16}
	})
	if _, err := c.store.RegisterJob(ctx, j, time.Now()); err != nil {
		b.Fatal(err)
	}
	var running []*api.Allocation
	testutil.Eventually(b, 120*time.Second, func() (bool, string) {
		running = running[:0]
		for _, a := range c.allocs(j.ID) {
			if a.ClientStatusOf() == api.AllocClientRunning {
				running = append(running, a)
			}
		}
		return len(running) == n, fmt.Sprintf("%d of %d running", len(running), n)
	})
	var lat []time.Duration
	for _, a := range running {
		lat = append(lat, a.Status.Tasks["web"].StartedAt.Sub(a.CreateTime))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "ms-median")
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Milliseconds()), "ms-p99")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "ms-max")
	if _, err := c.store.StopJob(ctx, "default", j.ID, false, time.Now()); err != nil {
		b.Fatal(err)
	}
	testutil.Eventually(b, 120*time.Second, func() (bool, string) {
		n := 0
		for _, a := range c.allocs(j.ID) {
			if a.ClientStatusOf() == api.AllocClientRunning {
				n++
			}
		}
		return n == 0, fmt.Sprintf("%d still running", n)
	})
}

// benchContainers is how many containers BenchmarkContainerStartLatency
// starts.
var benchContainers = envInt("NOMADIC_BENCH_CONTAINERS", 50)

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}
