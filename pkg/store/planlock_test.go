package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Two servers (each a store with its own cache, session and plan lock)
// commit at once plans made on the same snapshot, which together do not
// fit on their node. The second to get the lock checks its plan against
// its cache, which holds the first one's placements by then, and drops
// what no longer fits; no node plan key is written. While a server from
// before the lock is live, plans bump the node plan keys again.
func TestPlanLockCommitsOneServerAtATime(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	ctx := context.Background()
	type server struct {
		s    *Store
		sess *Session
		lock *PlanLock
	}
	var servers []*server
	for i := range 2 {
		s := New(cli, "/planlock")
		sess, err := s.NewSession(ctx, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Revoke(context.Background()) })
		if i == 0 {
			for _, id := range []string{"n1", "n2"} {
				if err := s.PutNode(ctx, &api.Node{ID: id, Name: id, Eligible: true, Resources: api.Resources{CPU: 1000, MemoryMB: 1000}}); err != nil {
					t.Fatal(err)
				}
				if err := s.PutHeartbeat(ctx, id, sess.Lease()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.RegisterServer(ctx, &api.Server{Name: fmt.Sprint("s", i), PlanLock: true}, sess.Lease()); err != nil {
			t.Fatal(err)
		}
		s.UseCache(runCache(t, s))
		servers = append(servers, &server{s: s, sess: sess, lock: sess.PlanLock()})
	}
	plan := func(x *server, prefix, node string, n int) *Commit {
		snap, err := x.s.ReadJobSnapshot(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		cm := &Commit{Placing: map[string]bool{node: true}, NodePlanRevs: snap.NodePlanRevs, Lock: x.lock}
		for i := range n {
			cm.Allocs = append(cm.Allocs, alloc(fmt.Sprintf("%s-%d", prefix, i), node))
		}
		return cm
	}
	// 6 + 6 allocations of 100 MHz for a node of 1,000.
	commits := []*Commit{plan(servers[0], "a", "n1", 6), plan(servers[1], "b", "n1", 6)}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, x := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = x.s.CommitPlan(ctx, commits[i])
		}()
	}
	wg.Wait()
	ok, conflicted := 0, 0
	for i, err := range errs {
		switch {
		case err == nil && len(commits[i].Written) == 6:
			ok++
		case errors.Is(err, ErrConflict) && len(commits[i].Written) == 0:
			conflicted++
		default:
			t.Fatalf("server %d: %v, %d written", i, err, len(commits[i].Written))
		}
	}
	if ok != 1 || conflicted != 1 {
		t.Fatalf("%d committed, %d conflicted; want one of each", ok, conflicted)
	}
	allocs, err := servers[0].s.ListAllocs(ctx, AllocFilter{})
	if err != nil || len(allocs) != 6 {
		t.Fatalf("%d allocations (%v), want 6", len(allocs), err)
	}
	nodePlanKeys := func() int64 {
		resp, err := cli.Get(ctx, servers[0].s.keys.Kind(KindNodePlans), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	if n := nodePlanKeys(); n != 0 {
		t.Fatalf("%d node plan keys written under the plan lock", n)
	}
	// Both servers had the lock in turn: the second can take it now.
	if _, err := servers[1].s.CommitPlan(ctx, plan(servers[1], "c", "n1", 4)); err != nil {
		t.Fatalf("the other server after the first let the lock go: %v", err)
	}

	// A server from before the lock starts: the next commit made
	// without node plan keys (the servers were read less than
	// legacyCheck ago) fails and writes nothing; the one after reads the
	// servers again and bumps the node plan keys.
	if _, err := servers[0].s.CommitPlan(ctx, plan(servers[0], "warm", "n2", 0)); err != nil {
		t.Fatal(err)
	}
	if err := servers[0].s.RegisterServer(ctx, &api.Server{Name: "old"}, servers[0].sess.Lease()); err != nil {
		t.Fatal(err)
	}
	early := plan(servers[0], "d", "n2", 2)
	if _, err := servers[0].s.CommitPlan(ctx, early); !errors.Is(err, ErrConflict) || len(early.Written) != 0 {
		t.Fatalf("a commit without node plan keys after an old server started: %v, %d written; want a conflict, none", err, len(early.Written))
	}
	if _, err := servers[0].s.CommitPlan(ctx, plan(servers[0], "d", "n2", 2)); err != nil {
		t.Fatal(err)
	}
	if n := nodePlanKeys(); n != 1 {
		t.Fatalf("%d node plan keys with a server from before the lock, want 1 (n2)", n)
	}
	// The old server's own kind of commit (no lock, a plan key compare)
	// from a snapshot before that plan is refused there.
	stale := &Commit{Allocs: []*api.Allocation{alloc("e", "n2")}, Placing: map[string]bool{"n2": true}, NodePlanRevs: map[string]int64{}}
	old := New(cli, "/planlock")
	if _, err := old.CommitPlan(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("a lock-less commit on a stale snapshot: %v, want a conflict", err)
	}
}
