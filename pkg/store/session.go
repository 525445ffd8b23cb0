package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Lease identifies an etcd lease that keys are bound to: they vanish
// when it expires or is revoked. Its zero value is no lease.
type Lease int64

// Session is a lease kept alive in the background, the way a process
// shows it is there: a server binds its membership, claims and election
// key to one, a node agent its heartbeat and service instances. Done is
// closed when the lease is lost (etcd unreachable past its TTL).
type Session struct {
	s  *Store
	cs *concurrency.Session
}

// NewSession grants a lease of the given TTL (at least 2 s, whole seconds)
// and keeps it alive until ctx ends, Revoke or Orphan.
func (s *Store) NewSession(ctx context.Context, ttl time.Duration) (*Session, error) {
	secs := int(max(ttl, 2*time.Second) / time.Second)
	// Renewals that move to another member when one does not answer
	// (steadyLease).
	cctx, cancel := context.WithCancel(s.cli.Ctx())
	cli := s.sessionClient(cctx, time.Duration(secs)*time.Second)
	cs, err := concurrency.NewSession(cli, concurrency.WithTTL(secs), concurrency.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening a session: %w", err)
	}
	go func() {
		<-cs.Done()
		cancel()
	}()
	return &Session{s: s, cs: cs}, nil
}

// Lease is the session's lease.
func (x *Session) Lease() Lease { return Lease(x.cs.Lease()) }

// Done is closed when the session's lease is lost or the session ends.
func (x *Session) Done() <-chan struct{} { return x.cs.Done() }

// Revoke ends the session and its lease at once: every key bound to it is
// deleted.
func (x *Session) Revoke(ctx context.Context) error {
	defer x.cs.Orphan()
	if _, err := x.s.cli.Revoke(ctx, x.cs.Lease()); err != nil {
		return fmt.Errorf("revoking lease: %w", err)
	}
	return nil
}

// Orphan stops keeping the lease alive without revoking it: its keys stay
// until its TTL runs out, so a process that comes back in time finds
// them.
func (x *Session) Orphan() { x.cs.Orphan() }

// Leadership is this server's term as the leader of the servers'
// election. An election is not a lock — a paused leader can be deposed
// without knowing — so every write of the leader's controllers carries
// the term's Guard, which fails once the term's key is gone.
type Leadership struct {
	e      *concurrency.Election
	guard  Guard
	lost   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Campaign waits until this session leads the servers' election, with
// name as its value, or ctx ends.
func (x *Session) Campaign(ctx context.Context, name string) (*Leadership, error) {
	e := concurrency.NewElection(x.cs, x.s.keys.Election())
	if err := e.Campaign(ctx, name); err != nil {
		return nil, fmt.Errorf("campaigning: %w", err)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	l := &Leadership{
		e:      e,
		guard:  Guard{cmps: []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(e.Key()), "=", e.Rev())}},
		lost:   make(chan struct{}),
		cancel: cancel,
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(l.lost)
		// The term ends when its key goes (force-leave, lease loss) or
		// the watch fails.
		for resp := range x.s.cli.Watch(wctx, e.Key(), clientv3.WithRev(e.Rev())) {
			if resp.Err() != nil {
				return
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return
				}
			}
		}
	}()
	return l, nil
}

// Guard holds while the term lasts.
func (l *Leadership) Guard() Guard { return l.guard }

// Lost is closed when the term ended without Resign: the election key was
// deleted, or it can no longer be watched.
func (l *Leadership) Lost() <-chan struct{} { return l.lost }

// Resign ends the term, so another server can lead at once.
func (l *Leadership) Resign(ctx context.Context) error {
	l.cancel()
	l.wg.Wait()
	return l.e.Resign(ctx)
}

// KeepSession runs run with a session of the given TTL, and with a new
// one each time the lease is lost, until ctx ends (loop.KeepSession).
func (s *Store) KeepSession(ctx context.Context, ttl time.Duration, what string, run func(ctx context.Context, sess *Session) (revoke bool)) {
	open := func(ctx context.Context) (*Session, error) { return s.NewSession(ctx, ttl) }
	loop.KeepSession(ctx, what, open, func(ctx context.Context, sess *Session) bool {
		revoke := run(ctx, sess)
		if ctx.Err() != nil && sessionLost(sess) {
			slog.Warn(what + " session lost; starting a new one")
		}
		return revoke
	})
}

// sessionLost reports whether a session's lease is gone.
func sessionLost(s *Session) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}
