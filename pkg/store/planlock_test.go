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

// lockServer is a server of its own prefix with one node, n1, for the
// plan lock tests below.
func lockServer(t *testing.T, prefix string) (*Store, *Session) {
	t.Helper()
	cli := testutil.Etcd(t)
	ctx := context.Background()
	s := New(cli, prefix)
	sess, err := s.NewSession(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Revoke(context.Background()) })
	if err := s.PutNode(ctx, &api.Node{ID: "n1", Name: "n1", Eligible: true, Resources: api.Resources{CPU: 100000, MemoryMB: 100000}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHeartbeat(ctx, "n1", sess.Lease()); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterServer(ctx, &api.Server{Name: "s0", PlanLock: true}, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	s.UseCache(runCache(t, s))
	return s, sess
}

// lockCommit is a commit of n allocations on n1 under lock, made on a
// snapshot read now.
func lockCommit(t *testing.T, s *Store, lock *PlanLock, prefix string, n int) *Commit {
	t.Helper()
	snap, err := s.ReadJobSnapshot(context.Background(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	cm := &Commit{Placing: map[string]bool{"n1": true}, NodePlanRevs: snap.NodePlanRevs, Lock: lock}
	for i := range n {
		cm.Allocs = append(cm.Allocs, alloc(fmt.Sprintf("%s-%d", prefix, i), "n1"))
	}
	return cm
}

// A server that registers again under the same name, now from before
// the plan lock (a rollback), is seen by the next commit without node
// plan keys as a new server would be: it fails, and the one after bumps
// the keys.
func TestPlanLockSeesAServerRegisterAgainWithoutTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sess := lockServer(t, "/planlock-again")
	lock := sess.PlanLock()
	if _, err := s.CommitPlan(ctx, lockCommit(t, s, lock, "a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterServer(ctx, &api.Server{Name: "s0"}, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	early := lockCommit(t, s, lock, "b", 1)
	if _, err := s.CommitPlan(ctx, early); !errors.Is(err, ErrConflict) || len(early.Written) != 0 {
		t.Fatalf("a commit without node plan keys after a server registered again from before the lock: %v, %d written; want a conflict, none", err, len(early.Written))
	}
	if _, err := s.CommitPlan(ctx, lockCommit(t, s, lock, "b", 1)); err != nil {
		t.Fatal(err)
	}
	resp, err := s.cli.Get(ctx, s.keys.NodePlan("n1"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("n1's plan key: %v, %v; want it bumped", resp, err)
	}
}

// A key of ours that could not be deleted when the lock was let go is
// deleted before the lock is taken again, so that the lock is held under
// a new revision: a transaction that compared the old one (sent before,
// delayed) fails. Left alone, retryDelete deletes it.
func TestPlanLockLeftKeyIsDeletedBeforeTheNextHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sess := lockServer(t, "/planlock-left")
	lock := sess.PlanLock()
	if err := lock.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// As release does when etcd does not answer its delete.
	oldOwner := lock.owner()
	lock.orphan, lock.held = lock.m.Key(), false
	lock.mu.Unlock()
	if _, err := s.CommitPlan(ctx, lockCommit(t, s, lock, "a", 1)); err != nil {
		t.Fatal(err)
	}
	resp, err := s.cli.Txn(ctx).If(oldOwner).Commit()
	if err != nil || resp.Succeeded {
		t.Fatalf("the compare of the lock's earlier hold: %v, succeeded %v; want it to fail", err, resp != nil && resp.Succeeded)
	}
	if lock.orphan != "" {
		t.Fatalf("orphan %q left after the next hold", lock.orphan)
	}

	// Taken and left with its key again, and no commit coming: the retry
	// deletes the key within a second or two.
	if err := lock.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	key := lock.m.Key()
	lock.orphan, lock.held = key, false
	lock.startRetry()
	lock.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.cli.Get(ctx, key, clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count == 0 && !lock.retrying.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the left key %s is still there (%d) or the retry still runs (%v) after 10 s", key, resp.Count, lock.retrying.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And the lock is free for everyone: another session takes it at once.
	other, err := s.NewSession(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Revoke(context.Background()) })
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ol := other.PlanLock()
	if err := ol.acquire(tctx); err != nil {
		t.Fatalf("another server taking the lock after the retry: %v", err)
	}
	ol.release(false)
}
