package controllers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/controllers"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestConcurrentServersNeverOvercommitANode runs three servers on one
// etcd, scheduling many jobs at once onto two small nodes: every node's
// plan key makes the losing plans re-plan, so no node ends up with more
// than it has, and every job gets what fits.
func TestConcurrentServersNeverOvercommitANode(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/cc")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := 0; i < 3; i++ {
		srv := &controllers.Server{Store: st, Cfg: controllers.ServerConfig{
			Name: fmt.Sprintf("s%d", i), SessionTTL: 5 * time.Second, Workers: 4, GCInterval: time.Hour, GCAllocAge: time.Hour, LivenessResync: time.Minute}}
		wg.Add(1)
		go func() { defer wg.Done(); srv.Run(ctx) }()
	}
	// Two nodes with room for 10 allocations of 100 MHz each, held by a
	// session as agents would.
	sess, err := st.NewSession(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Orphan()
	for _, id := range []string{"n1", "n2"} {
		n := &api.Node{ID: id, Name: id, Datacenter: "dc1", NodePool: "default", Eligible: true,
			Drivers:   map[string]*api.DriverInfo{"mock": {Detected: true, Healthy: true}},
			Resources: api.Resources{CPU: 1000, MemoryMB: 100000, DiskMB: 100000}}
		if err := st.PutNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := st.PutHeartbeat(ctx, id, sess.Lease()); err != nil {
			t.Fatal(err)
		}
	}
	// 12 jobs of 3 allocations ask for 36 slots; there are 20.
	for i := 0; i < 12; i++ {
		j := &api.Job{ID: fmt.Sprintf("job%02d", i), Groups: []*api.TaskGroup{{Name: "g", Count: 3, Tasks: []*api.Task{{
			Name: "t", Driver: "mock", Resources: &api.Resources{CPU: 100, MemoryMB: 10}}}}}}
		j.Canonicalize()
		j.Groups[0].EphemeralDisk.SizeMB = 1
		go func() { _, _ = st.RegisterJob(ctx, j, time.Now()) }()
	}
	testutil.Eventually(t, 60*time.Second, func() (bool, string) {
		evals, err := st.ListEvals(ctx, "", "")
		if err != nil {
			return false, err.Error()
		}
		pending := 0
		for _, e := range evals {
			if e.Status == api.EvalStatusPending {
				pending++
			}
		}
		allocs, _ := st.ListAllocs(ctx, store.AllocFilter{})
		return len(evals) >= 12 && pending == 0 && len(allocs) == 20, fmt.Sprintf("%d evaluations, %d pending, %d allocations", len(evals), pending, len(allocs))
	})
	allocs, err := st.ListAllocs(ctx, store.AllocFilter{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	names := map[string]bool{}
	for _, a := range allocs {
		used[a.NodeID] += a.Resources.CPU
		if names[a.Name] {
			t.Errorf("allocation %s placed twice", a.Name)
		}
		names[a.Name] = true
	}
	for node, cpu := range used {
		if cpu > 1000 {
			t.Errorf("node %s overcommitted: %d MHz of 1000", node, cpu)
		}
	}
}
