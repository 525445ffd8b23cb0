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
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a gauge.
func value(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestCensusReportsQuotaUseAndCounts(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/census")
	ctx := context.Background()
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "n1", Eligible: true}); err != nil {
		t.Fatal(err)
	}
	const quota = 1 << 20
	(&Census{Store: st, QuotaBytes: quota}).count(ctx)
	if got := value(t, metricDBQuota); got != quota {
		t.Fatalf("quota metric %v, want %v", got, quota)
	}
	size := value(t, metricDBSize)
	if used := value(t, metricDBQuotaUsed); size <= 0 || used != size/quota {
		t.Fatalf("db size %v, used ratio %v", size, used)
	}
	if down := value(t, metricNodes.WithLabelValues(api.NodeStatusDown, "true")); down != 1 {
		t.Fatalf("nodes down and eligible: %v, want 1", down)
	}
	(&Census{Store: st}).count(ctx)
	if got := value(t, metricDBQuota); got != defaultQuota {
		t.Fatalf("default quota metric %v", got)
	}
}

// With the cache, the census reads the allocations' counts the cache keeps
// as they change, and they follow statuses and deletions.
func TestCensusCountsAllocationsFromTheCache(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/censuscache")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var allocs []*api.Allocation
	for i := range 3 {
		allocs = append(allocs, &api.Allocation{ID: fmt.Sprintf("a%d", i), Namespace: "default", JobID: "web", TaskGroup: "g",
			Index: i, NodeID: "n1", DesiredStatus: api.AllocDesiredRun})
	}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
		t.Fatal(err)
	}
	cache := store.NewCache(st)
	st.UseCache(cache)
	wg.Add(1)
	go func() { defer wg.Done(); cache.Run(ctx) }()
	if err := st.PutAllocStatus(ctx, "n1", "a0", &api.AllocStatus{ClientStatus: api.AllocClientRunning}); err != nil {
		t.Fatal(err)
	}
	census := &Census{Store: st, Cache: cache}
	counts := func() string {
		census.count(ctx)
		return fmt.Sprintf("running %v pending %v", value(t, metricAllocs.WithLabelValues(api.AllocClientRunning)),
			value(t, metricAllocs.WithLabelValues(api.AllocClientPending)))
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		got := counts()
		return got == "running 1 pending 2", got
	})
	if err := st.DeleteAllocs(ctx, allocs[1:2], store.Guard{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		got := counts()
		return got == "running 1 pending 1", got
	})
}
