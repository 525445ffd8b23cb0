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
	s *Store
	m *concurrency.Mutex

	waiting atomic.Int32 // commits of this server waiting for mu
	mu      sync.Mutex   // held by the commit in progress
	held    bool         // the etcd lock is ours
	stale   bool         // letting it go failed: its key may still be there (retryUnlock)
	retries int          // of retryUnlock
	since   time.Time    // when it was taken
	need    int64        // the cache must reach it before a commit: when the lock was taken, or our last commit

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

// PlanLock returns the session's plan lock.
func (x *Session) PlanLock() *PlanLock {
	return &PlanLock{s: x.s, m: concurrency.NewMutex(x.cs, x.s.keys.PlanLock())}
}

// acquire takes the lock for one commit; release ends it.
func (l *PlanLock) acquire(ctx context.Context) error {
	l.waiting.Add(1)
	l.mu.Lock()
	l.waiting.Add(-1)
	if l.held {
		return nil
	}
	if err := l.m.Lock(ctx); err != nil {
		// The request may have put our key in the queue: left there, it
		// would hold the lock for no commit once its turn came.
		if key := l.m.Key(); strings.HasPrefix(key, l.s.keys.PlanLock()) {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, derr := l.s.cli.Delete(dctx, key); derr != nil {
				slog.Warn("removing a plan lock request that failed", "key", key, "err", derr)
			}
			cancel()
		}
		l.mu.Unlock()
		return fmt.Errorf("taking the plan lock: %w", err)
	}
	l.held, l.stale, l.since = true, false, time.Now()
	l.need = max(l.need, l.m.Header().Revision)
	return nil
}

// release ends a commit. The etcd lock is let go when no other commit of
// this server waits, when it was held planLockHold, or when the commit
// found it may be lost (a failed compare).
func (l *PlanLock) release(lost bool) {
	if l.held && (lost || l.waiting.Load() == 0 || time.Since(l.since) > planLockHold) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.m.Unlock(ctx); err != nil {
			// Left there, the key would hold the lock from the other
			// servers until this one commits again: try again soon.
			slog.Warn("letting the plan lock go; trying again in a second", "err", err)
			if !l.stale {
				l.stale, l.retries = true, 0
				time.AfterFunc(time.Second, l.retryUnlock)
			}
		} else {
			l.stale = false
		}
		cancel()
		l.held = false
	}
	l.mu.Unlock()
}

// maxUnlockRetries bounds retryUnlock: by then (two minutes) etcd has
// answered, or the session's lease, and the key with it, is gone.
const maxUnlockRetries = 120

// retryUnlock lets go of a plan lock whose release failed, unless a
// commit took it again since (it lets it go itself).
func (l *PlanLock) retryUnlock() {
	if !l.mu.TryLock() {
		// A commit is in progress: it lets the lock go, or keeps it
		// for the next one.
		time.AfterFunc(time.Second, l.retryUnlock)
		return
	}
	defer l.mu.Unlock()
	if l.held || !l.stale {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.m.Unlock(ctx)
	if err == nil || errors.Is(err, concurrency.ErrLockReleased) {
		l.stale = false
		return
	}
	if l.retries++; l.retries >= maxUnlockRetries {
		slog.Error("could not let the plan lock go; it goes with the server's session", "err", err)
		l.stale = false
		return
	}
	time.AfterFunc(time.Second, l.retryUnlock)
}

// owner is the compare that holds while the lock is ours.
func (l *PlanLock) owner() clientv3.Cmp { return l.m.IsOwner() }

// noNewServer is the compare that holds while no server registered since
// the servers were read: a server from before the plan lock that starts
// after bumpNodes said none was live fails the commits that bump no
// node plan key, until the servers are read again (recheck).
func (l *PlanLock) noNewServer() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(l.s.keys.Kind(KindServers)), "<", l.listRev+1).WithPrefix()
}

// recheck makes the next commit read the servers again.
func (l *PlanLock) recheck() { l.legacyAt = time.Time{} }

// bumpNodes reports whether a server from before the plan lock is live,
// so that plans must also bump and compare the node plan keys. A failed
// read counts as yes. Called with mu held.
func (l *PlanLock) bumpNodes(ctx context.Context) bool {
	if time.Since(l.legacyAt) < legacyCheck {
		return l.legacy
	}
	servers, rev, err := listAll[api.Server](ctx, l.s, l.s.keys.Kind(KindServers))
	legacy := err != nil
	for _, srv := range servers {
		legacy = legacy || !srv.PlanLock
	}
	switch {
	case legacy && !l.legacy:
		slog.Info("a server from before the plan lock is live (or the servers could not be read): plans bump the node plan keys too")
	case !legacy && l.legacy:
		slog.Info("every server takes the plan lock: plans no longer bump the node plan keys")
	}
	l.legacy, l.legacyAt, l.listRev = legacy, time.Now(), rev
	if !legacy {
		// The plans a server from before the lock committed until it
		// left are checked against from the cache.
		l.need = max(l.need, rev)
	}
	return legacy
}
