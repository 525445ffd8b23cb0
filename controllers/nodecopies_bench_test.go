package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// BenchmarkNodeCopiesOfASystemJob measures how long the leader takes to
// copy a job version into the trees of 1,000 nodes that each got an
// allocation of it (a system job), from the plan's commit to the last
// copy: go test -run '^$' -bench NodeCopies -benchtime 3x ./controllers
func BenchmarkNodeCopiesOfASystemJob(b *testing.B) {
	const nodes = 1000
	for i := 0; i < b.N; i++ {
		func() {
			prefix := fmt.Sprintf("/bnc%d", i)
			cli := testutil.Etcd(b)
			st := store.New(cli, prefix)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			job := &api.Job{ID: "sys", Namespace: "default", Type: "system",
				Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
			if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
				b.Fatal(err)
			}
			cache := store.NewCache(st)
			wg.Add(2)
			go func() { defer wg.Done(); cache.Run(ctx) }()
			go func() { defer wg.Done(); (&NodeCopies{Store: st, Cache: cache}).Run(ctx) }()
			var allocs []*api.Allocation
			for n := 0; n < nodes; n++ {
				allocs = append(allocs, &api.Allocation{ID: api.NewID(), Namespace: "default", JobID: "sys", TaskGroup: "g",
					NodeID: fmt.Sprintf("node-%04d", n), DesiredStatus: api.AllocDesiredRun})
			}
			b.ResetTimer()
			start := time.Now()
			if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
				b.Fatal(err)
			}
			keys := store.NewKeys(prefix)
			for {
				count := 0
				if _, err := st.List(ctx, keys.Kind(store.KindNodeJobs), func(string, []byte) error { count++; return nil }); err != nil {
					b.Fatal(err)
				}
				if count == nodes {
					break
				}
				if time.Since(start) > 2*time.Minute {
					b.Fatalf("%d of %d copies after 2m", count, nodes)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/1000-copies")
		}()
	}
}
