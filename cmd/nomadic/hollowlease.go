package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseKeeper keeps every hollow node's lease alive over one keep-alive
// stream, as clientv3's lessor does for the leases of one process, but
// without the four goroutines per lease that a concurrency.Session and
// its keep-alive channel cost: etcd sees the same keep-alive requests
// (each lease renewed every third of its TTL), the sim holds no goroutine
// per node for them. A lease etcd no longer knows (expired while the sim
// or etcd was frozen) is reported to its node, which registers again.
type leaseKeeper struct {
	cli *clientv3.Client
	ttl time.Duration

	mu     sync.Mutex
	leases map[clientv3.LeaseID]*keptLease
}

type keptLease struct {
	next time.Time // when to renew
	lost func()    // called once when etcd says the lease is gone
}

func newLeaseKeeper(cli *clientv3.Client, ttl time.Duration) *leaseKeeper {
	return &leaseKeeper{cli: cli, ttl: ttl, leases: map[clientv3.LeaseID]*keptLease{}}
}

// grant grants a lease and keeps it alive until it is lost, forgotten or
// ctx of run ends; lost is called (once, on its own goroutine) if etcd
// reports it gone.
func (k *leaseKeeper) grant(ctx context.Context, lost func()) (clientv3.LeaseID, error) {
	secs := int64(max(k.ttl, 2*time.Second) / time.Second)
	resp, err := k.cli.Grant(ctx, secs)
	if err != nil {
		return 0, err
	}
	k.mu.Lock()
	k.leases[resp.ID] = &keptLease{next: time.Now().Add(k.interval()), lost: lost}
	k.mu.Unlock()
	return resp.ID, nil
}

// forget stops renewing a lease.
func (k *leaseKeeper) forget(id clientv3.LeaseID) {
	k.mu.Lock()
	delete(k.leases, id)
	k.mu.Unlock()
}

func (k *leaseKeeper) interval() time.Duration { return max(k.ttl, 2*time.Second) / 3 }

// run renews the leases until ctx ends, opening the stream again when it
// breaks.
func (k *leaseKeeper) run(ctx context.Context) {
	backoff := loop.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		if err := k.stream(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("hollow nodes' lease keep-alive stream broke; opening another", "err", err)
			loop.Sleep(ctx, backoff.Next())
			continue
		}
		backoff.Reset()
	}
}

// stream renews due leases every 100 ms over one stream until it fails.
func (k *leaseKeeper) stream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	conn := k.cli.ActiveConnection()
	s, err := pb.NewLeaseClient(conn).LeaseKeepAlive(sctx)
	if err != nil {
		return err
	}
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := s.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if resp.TTL <= 0 {
				k.gone(clientv3.LeaseID(resp.ID))
			}
		}
	}()
	// Every lease is due at once on a new stream: a broken one may have
	// missed renewals.
	k.mu.Lock()
	now := time.Now()
	for _, l := range k.leases {
		l.next = now
	}
	k.mu.Unlock()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var due []clientv3.LeaseID
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			return err
		case <-t.C:
		}
		due = due[:0]
		now := time.Now()
		k.mu.Lock()
		for id, l := range k.leases {
			if !now.Before(l.next) {
				due = append(due, id)
				l.next = now.Add(k.interval())
			}
		}
		k.mu.Unlock()
		for _, id := range due {
			if err := s.Send(&pb.LeaseKeepAliveRequest{ID: int64(id)}); err != nil {
				return err
			}
		}
	}
}

// gone forgets a lease etcd no longer has and tells its node.
func (k *leaseKeeper) gone(id clientv3.LeaseID) {
	k.mu.Lock()
	l := k.leases[id]
	delete(k.leases, id)
	k.mu.Unlock()
	if l != nil {
		go l.lost()
	}
}
