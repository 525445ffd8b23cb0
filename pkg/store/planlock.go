package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// PlanLock is the servers' plan lock: one etcd lock (a key under planlock/,
// bound to the server's session) that every server
// holds while it commits plans, so that plans are committed by one server
// at a time, as Nomad's leader applies them one at a time.
//
// Holding it, a server needs no compare on the nodes it places on: no
// one else places meanwhile, and its cache, once caught up with the
// revision the lock was taken at (and with its own last commit), holds
// every placement made before. A plan made on an older snapshot is
// checked against the cache for the nodes that changed since (Cache.refit),
// as before. Without it each plan wrote and compared a plan key per node
// it placed on: for a job spread over a thousand nodes, a thousand extra
// puts and compares — a third of etcd's writes under C1M.
//
// A server keeps the lock from one commit to the next while more of its
// commits wait, for up to planLockHold; then it lets it go, so another
// server waiting gets it (etcd's lock queues them in order of request).
// A server that dies holding it holds it until its session's lease runs
// out (the server TTL).
//
// Servers from before the lock bump and compare the node plan keys and
// do not take it: while one of them is a live server, the others take
// the lock and also bump and compare the node plan keys, so that both
// see each other's placements.
type PlanLock struct {
	s    *Store
	sess *concurrency.Session
	m    *concurrency.Mutex

	waiting  atomic.Int32 // commits of this server waiting for mu
	retrying atomic.Bool  // a retryDelete chain is running
	need     atomic.Int64 // the cache must reach it before a commit: when the lock was taken, or our last commit

	mu     sync.Mutex // held by the commit in progress
	held   bool       // the etcd lock is ours
	orphan string     // a key of ours under planlock/ that could not be deleted (retryDelete)
	since  time.Time  // when it was taken

	legacyAt time.Time // when legacy was last read
	legacy   bool
	listRev  int64 // the revision the servers were read at
}

// planLockHold is how long a server keeps the plan lock while its own
// commits follow one another, before it lets another server have it.
const planLockHold = 100 * time.Millisecond

// legacyCheck is how often a server looks for servers from before the
// plan lock.
const legacyCheck = 5 * time.Second

// lockedCacheWait bounds how long a commit holding the plan lock waits
// for the cache to catch up (with the commits before the lock was ours):
// meanwhile no server commits. The commit fails and lets the lock go; its
// evaluation is tried again.
const lockedCacheWait = 5 * time.Second

// PlanLock returns the session's plan lock.
func (x *Session) PlanLock() *PlanLock {
	return &PlanLock{s: x.s, sess: x.cs, m: concurrency.NewMutex(x.cs, x.s.keys.PlanLock())}
}

// raise makes the cache reach rev before the next commit.
func (l *PlanLock) raise(rev int64) {
	for {
		cur := l.need.Load()
		if rev <= cur || l.need.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// acquire takes the lock for one commit; release ends it.
func (l *PlanLock) acquire(ctx context.Context) error {
	l.waiting.Add(1)
	l.mu.Lock()
	l.waiting.Add(-1)
	if l.held {
		return nil
	}
	if l.orphan != "" {
		// A key of ours left from a failed release or request: taking the
		// lock would reuse it, and its revision, which a transaction
		// sent before could still match. Deleted, the lock is taken
		// under a new one.
		if err := l.deleteOrphan(ctx); err != nil {
			l.mu.Unlock()
			return fmt.Errorf("taking the plan lock: removing our earlier key: %w", err)
		}
	}
	if err := l.m.Lock(ctx); err != nil {
		// The request may have put our key in the queue: left there, it
		// would hold the lock for no commit once its turn came.
		if key := l.m.Key(); strings.HasPrefix(key, l.s.keys.PlanLock()) {
			l.orphan = key
			if derr := l.deleteOrphan(context.Background()); derr != nil {
				slog.Warn("removing a plan lock request that failed; trying again in a second", "key", key, "err", derr)
				l.startRetry()
			}
		}
		l.mu.Unlock()
		return fmt.Errorf("taking the plan lock: %w", err)
	}
	l.held, l.since = true, time.Now()
	l.raise(l.m.Header().Revision)
	return nil
}

// deleteOrphan deletes l.orphan, within 5 seconds. Called with mu held.
func (l *PlanLock) deleteOrphan(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := l.s.cli.Delete(dctx, l.orphan); err != nil {
		return err
	}
	l.orphan = ""
	return nil
}

// release ends a commit. The etcd lock is let go when no other commit of
// this server waits, when it was held planLockHold, or when the commit
// failed (it may have lost the lock).
func (l *PlanLock) release(failed bool) {
	if l.held && (failed || l.waiting.Load() == 0 || time.Since(l.since) > planLockHold) {
		key := l.m.Key()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.m.Unlock(ctx); err != nil && !errors.Is(err, concurrency.ErrLockReleased) {
			// Left there, the key would hold the lock from the other
			// servers until this one commits again: try again soon.
			slog.Warn("letting the plan lock go; trying again in a second", "err", err)
			l.orphan = key
			l.startRetry()
		}
		cancel()
		l.held = false
	}
	l.mu.Unlock()
}

// startRetry starts retryDelete unless it runs already.
func (l *PlanLock) startRetry() {
	if l.retrying.CompareAndSwap(false, true) {
		time.AfterFunc(time.Second, func() { l.retryDelete(time.Second) })
	}
}

// retryDelete deletes the orphan key, unless a commit did since, trying
// again with a growing delay (up to 30 s) for as long as the session
// lives: once its lease is gone, so is the key.
func (l *PlanLock) retryDelete(delay time.Duration) {
	again := func() {
		delay = min(2*delay, 30*time.Second)
		time.AfterFunc(delay, func() { l.retryDelete(delay) })
	}
	select {
	case <-l.sess.Done():
		l.retrying.Store(false)
		return
	default:
	}
	if !l.mu.TryLock() {
		// A commit is in progress: it deletes the key before it takes
		// the lock again.
		again()
		return
	}
	defer l.mu.Unlock()
	if l.held || l.orphan == "" {
		l.retrying.Store(false)
		return
	}
	if err := l.deleteOrphan(context.Background()); err != nil {
		slog.Warn("removing a plan lock key of ours; trying again", "key", l.orphan, "in", min(2*delay, 30*time.Second), "err", err)
		again()
		return
	}
	l.retrying.Store(false)
}

// owner is the compare that holds while the lock is ours.
func (l *PlanLock) owner() clientv3.Cmp { return l.m.IsOwner() }

// noNewServer is the compare that holds while no server registered (or
// registered again, under the same name) since the servers were read: a
// server from before the plan lock that starts after bumpNodes said none
// was live fails the commits that bump no node plan key, until the
// servers are read again (recheck). Only a server's registration writes
// its record.
func (l *PlanLock) noNewServer() clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(l.s.keys.Kind(KindServers)), "<", l.listRev+1).WithPrefix()
}

// recheck makes the next commit read the servers again.
func (l *PlanLock) recheck() { l.legacyAt = time.Time{} }

// bumpNodes reports whether a server from before the plan lock is live,
// so that plans must also bump and compare the node plan keys. A failed
// read counts as yes (and is not kept). Called with mu held.
func (l *PlanLock) bumpNodes(ctx context.Context) bool {
	if time.Since(l.legacyAt) < legacyCheck {
		return l.legacy
	}
	servers, rev, err := listAll[api.Server](ctx, l.s, l.s.keys.Kind(KindServers))
	if err != nil {
		// Bump this time; read again at the next commit.
		slog.Warn("reading the servers, to know whether plans must bump the node plan keys: this one does", "err", err)
		return true
	}
	legacy := false
	for _, srv := range servers {
		legacy = legacy || !srv.PlanLock
	}
	switch {
	case legacy && !l.legacy:
		slog.Info("a server from before the plan lock is live: plans bump the node plan keys too")
	case !legacy && l.legacy:
		slog.Info("every server takes the plan lock: plans no longer bump the node plan keys")
	}
	l.legacy, l.legacyAt, l.listRev = legacy, time.Now(), rev
	if !legacy {
		// The plans a server from before the lock committed until it
		// left are checked against from the cache.
		l.raise(rev)
	}
	return legacy
}
