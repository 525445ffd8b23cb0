package store

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkReadSnapshot reads what a scheduling pass reads today, the
// whole cluster, with 1,000 nodes running 10,000 allocations: the main
// cost of an evaluation (go test -run '^$' -bench ReadSnapshot ./pkg/store).
func BenchmarkReadSnapshot(b *testing.B) {
	s := populated(b, 1000, 10000)
	ctx := context.Background()
	// What a cache holding this state would keep on the heap.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	held, err := s.ReadSnapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heldMiB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	runtime.KeepAlive(held)
	b.ReportAllocs()
	for b.Loop() {
		snap, err := s.ReadSnapshot(ctx)
		if err != nil || len(snap.Nodes) != 1000 || len(snap.Allocs) != 10000 {
			b.Fatalf("snapshot: %v", err)
		}
	}
	b.ReportMetric(heldMiB, "MiB-held")
}

// populated returns a store of a fresh etcd holding nodes ready nodes
// running allocs allocations, with their status.
func populated(tb testing.TB, nodes, allocs int) *Store {
	cli := testutil.Etcd(tb)
	s := New(cli, "/bench")
	ctx := context.Background()
	lease, err := cli.Grant(ctx, 600)
	if err != nil {
		tb.Fatal(err)
	}
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			tb.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := 0; i < nodes; i++ {
		n := &api.Node{ID: fmt.Sprintf("node-%05d", i), Name: fmt.Sprintf("node-%05d", i), Datacenter: "dc1", Eligible: true,
			Attributes: map[string]string{"kernel.name": "linux", "cpu.numcores": "16", "os.name": "linux"},
			Drivers:    map[string]*api.DriverInfo{"containerd": {Detected: true, Healthy: true}},
			Resources:  api.Resources{CPU: 32000, MemoryMB: 65536, DiskMB: 500000}}
		ops = append(ops, clientv3.OpPut(s.keys.Node(n.ID), encode(n)), clientv3.OpPut(s.keys.Heartbeat(n.ID), "", clientv3.WithLease(lease.ID)))
		if len(ops) >= 100 {
			flush()
		}
	}
	for i := 0; i < allocs; i++ {
		a := &api.Allocation{ID: fmt.Sprintf("alloc-%06d", i), Name: fmt.Sprintf("job%d.g[%d]", i%100, i/100), Namespace: "default",
			JobID: fmt.Sprintf("job%d", i%100), TaskGroup: "g", Index: i / 100, NodeID: fmt.Sprintf("node-%05d", i%nodes),
			DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 128}}
		st := &api.AllocStatus{ClientStatus: api.AllocClientRunning, Tasks: map[string]*api.TaskState{"t": {State: "running", PID: 1234}}}
		ops = append(ops, clientv3.OpPut(s.keys.Alloc(a.NodeID, a.ID), encode(a)), clientv3.OpPut(s.keys.AllocStatus(a.NodeID, a.ID), encode(st)),
			clientv3.OpPut(s.keys.JobAlloc(a.Namespace, a.JobID, a.ID), a.NodeID))
		if len(ops) >= 99 {
			flush()
		}
	}
	flush()
	return s
}

// BenchmarkCacheSnapshot is what a scheduling pass reads with the
// server's cache, for 1,000 nodes + 10,000 allocations and for 5,000 +
// 50,000, and what the cache holds on the heap (go test -run '^$' -bench
// CacheSnapshot -benchtime 20x ./pkg/store).
func BenchmarkCacheSnapshot(b *testing.B) {
	for _, size := range []struct{ nodes, allocs int }{{1000, 0}, {1000, 10000}, {5000, 50000}} {
		b.Run(fmt.Sprintf("%dnodes-%dallocs", size.nodes, size.allocs), func(b *testing.B) {
			s := populated(b, size.nodes, size.allocs)
			ctx := context.Background()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			c := runCache(b, s)
			if _, err := c.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heldMiB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				snap, err := c.Snapshot(ctx)
				if err != nil || len(snap.Nodes) != size.nodes || len(snap.Allocs) != size.allocs {
					b.Fatalf("snapshot: %v", err)
				}
			}
			b.ReportMetric(heldMiB, "MiB-held")
		})
	}
}

// BenchmarkEtcdPut is the floor under every placement: one small put to
// the embedded etcd, from one writer and from 16 at once; and its batched
// ceiling, transactions of 128 puts of an allocation record's size as
// plans commit them, one writer and 4 at once, in keys/s (go test -run
// '^$' -bench EtcdPut ./pkg/store; hack/c1m.sh prints the batched ones).
func BenchmarkEtcdPut(b *testing.B) {
	cli := testutil.Etcd(b)
	ctx := context.Background()
	value := string(make([]byte, 300))
	b.Run("one-writer", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := cli.Put(ctx, fmt.Sprintf("/bench/put/%d", i), value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("16-writers", func(b *testing.B) {
		b.SetParallelism(8) // 8 × GOMAXPROCS(2)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cli.Put(ctx, fmt.Sprintf("/bench/par/%d", n.Add(1)), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	record := string(make([]byte, 360)) // an allocation record (plan.go)
	var txns atomic.Int64
	batch := func(b *testing.B) {
		id := txns.Add(1)
		ops := make([]clientv3.Op, 0, maxTxnOps)
		for k := range maxTxnOps {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench/txn/%d/%d", id, k), record))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Error(err)
		}
	}
	b.Run("batched-128-one-writer", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			batch(b)
		}
		b.ReportMetric(float64(b.N*maxTxnOps)/time.Since(start).Seconds(), "keys/s")
	})
	b.Run("batched-128-4-writers", func(b *testing.B) {
		b.SetParallelism(2) // 2 × GOMAXPROCS(2)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				batch(b)
			}
		})
		b.ReportMetric(float64(b.N*maxTxnOps)/time.Since(start).Seconds(), "keys/s")
	})
}

// BenchmarkCacheNewAllocations is what the cache does with each new live
// allocation, in a cluster that fills up: 500 nodes, 200 allocations on
// each, placed one node after the other as plans spread them, so that a
// node's list grows from 0 to 200 (as a C1M run's does on 5,000 nodes).
// One op is the 100,000 allocations (go test -run '^$' -bench
// CacheNewAllocations -benchmem ./pkg/store).
func BenchmarkCacheNewAllocations(b *testing.B) {
	const nodes, each = 500, 200
	allocs := make([]*api.Allocation, 0, nodes*each)
	for i := range each {
		for n := range nodes {
			allocs = append(allocs, &api.Allocation{ID: fmt.Sprintf("alloc-%d-%d", n, i), NodeID: fmt.Sprintf("node-%05d", n),
				Namespace: "default", JobID: fmt.Sprintf("job%d", i), DesiredStatus: api.AllocDesiredRun,
				Resources: api.Resources{CPU: 10, MemoryMB: 10}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c := &Cache{}
		c.reset()
		for _, a := range allocs {
			c.track(nil, a, false)
		}
		if u := c.usage["node-00000"]; u == nil || len(u.Allocs) != each {
			b.Fatal("node-00000 does not hold its allocations")
		}
	}
}
