package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// leaseKeeper keeps every hollow node's lease alive over a few keep-alive
// streams, as clientv3's lessor does for the leases of one process, but
// without the four goroutines per lease that a concurrency.Session and
// its keep-alive channel cost: etcd sees the same keep-alive requests
// (each lease renewed every third of its TTL), the sim holds no goroutine
// per node for them. A lease etcd no longer knows (expired while the sim
// or etcd was frozen) is reported to its node, which registers again.
//
// The leases are spread over keepAliveStreams streams, which the client
// spreads over the etcd members as 5,000 agents would be: etcd answers the
// keep-alives of one stream one after the other, and a member that is not
// the leader forwards each to the leader over HTTP and waits, so one
// stream for 5,000 nodes that happened to reach a follower renewed too
// slowly and every lease ran out at its TTL (with -node-ttl 30s on a
// 3-member etcd 3.4, all 5,000 within 30 s of registering), where real
// agents, a stream each, would have renewed — and cost etcd the forwarded
// keep-alives that one stream never delivered.
type leaseKeeper struct {
	shards []*leaseShard
}

// keepAliveStreams is how many keep-alive streams the sim's leases share.
const keepAliveStreams = 32

// leaseShard is the leases of one keep-alive stream.
type leaseShard struct {
	cli *clientv3.Client
	ttl time.Duration
	// conns, when set, are one connection per etcd member: the shard's
	// streams go to member (n + opened) % len(conns), so that a stream
	// dropped for its member's silence is opened again on the next one.
	conns  []*grpc.ClientConn
	n      int
	opened int

	mu     sync.Mutex
	leases map[clientv3.LeaseID]*keptLease
}

type keptLease struct {
	next time.Time // when to renew
	lost func()    // called once when etcd says the lease is gone
}

func newLeaseKeeper(cli *clientv3.Client, ttl time.Duration) *leaseKeeper {
	k := &leaseKeeper{}
	for i := range keepAliveStreams {
		k.shards = append(k.shards, &leaseShard{cli: cli, ttl: ttl, n: i, leases: map[clientv3.LeaseID]*keptLease{}})
	}
	return k
}

func (k *leaseKeeper) shard(id clientv3.LeaseID) *leaseShard {
	return k.shards[uint64(id)%uint64(len(k.shards))]
}

// grant grants a lease and keeps it alive until it is lost, forgotten or
// ctx of run ends; lost is called (once, on its own goroutine) if etcd
// reports it gone.
func (k *leaseKeeper) grant(ctx context.Context, lost func()) (clientv3.LeaseID, error) {
	sh := k.shards[0]
	secs := int64(max(sh.ttl, 2*time.Second) / time.Second)
	resp, err := sh.cli.Grant(ctx, secs)
	if err != nil {
		return 0, err
	}
	sh = k.shard(resp.ID)
	sh.mu.Lock()
	sh.leases[resp.ID] = &keptLease{next: time.Now().Add(sh.interval()), lost: lost}
	sh.mu.Unlock()
	return resp.ID, nil
}

// forget stops renewing a lease.
func (k *leaseKeeper) forget(id clientv3.LeaseID) {
	sh := k.shard(id)
	sh.mu.Lock()
	delete(sh.leases, id)
	sh.mu.Unlock()
}

// run renews the leases until ctx ends, each stream on its own.
func (k *leaseKeeper) run(ctx context.Context) {
	var conns []*grpc.ClientConn
	if eps := k.shards[0].cli.Endpoints(); len(eps) > 1 {
		for _, ep := range eps {
			conn, err := k.shards[0].cli.Dial(ep)
			if err != nil {
				slog.Warn("hollow nodes: a connection to each etcd member for the lease streams; using the client's", "endpoint", ep, "err", err)
				conns = nil
				break
			}
			defer conn.Close()
			conns = append(conns, conn)
		}
	}
	streams := make([]func(context.Context) error, len(k.shards))
	for i, sh := range k.shards {
		sh.conns = conns
		streams[i] = sh.stream
	}
	keepStreams(ctx, "lease keep-alive", streams)
}

// keepStreams runs each stream on its own goroutine until ctx ends,
// opening it again, after a backoff, whenever it breaks.
func keepStreams(ctx context.Context, what string, streams []func(context.Context) error) {
	var wg sync.WaitGroup
	for _, stream := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := loop.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
			for ctx.Err() == nil {
				if err := stream(ctx); err != nil && ctx.Err() == nil {
					slog.Warn("hollow nodes' "+what+" stream broke; opening another", "err", err)
					if errors.Is(err, errStalled) {
						// At once: the next goes to another member.
						continue
					}
					loop.Sleep(ctx, backoff.Next())
					continue
				}
				backoff.Reset()
			}
		}()
	}
	wg.Wait()
}

func (k *leaseShard) interval() time.Duration { return max(k.ttl, 2*time.Second) / 3 }

// stream renews due leases every 100 ms over one stream until it fails.
func (k *leaseShard) stream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	conn := k.cli.ActiveConnection()
	if len(k.conns) > 0 {
		conn = k.conns[(k.n+k.opened)%len(k.conns)]
	}
	k.opened++
	s, err := pb.NewLeaseClient(conn).LeaseKeepAlive(sctx)
	if err != nil {
		return err
	}
	// A member alive but not answering (defragmenting: etcd-io/etcd#13313)
	// holds the stream: when renewals sent get no answer for a quarter of
	// the TTL, the stream is dropped and another opened, which goes to
	// the next member, as node agents do (store.steadyLease).
	var mu sync.Mutex
	pending, heard := 0, time.Now() // renewals unanswered; when last answered (or asked, from none pending)
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := s.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			mu.Lock()
			pending, heard = max(pending-1, 0), time.Now()
			mu.Unlock()
			if resp.TTL <= 0 {
				k.gone(clientv3.LeaseID(resp.ID))
			}
		}
	}()
	stall := max(k.ttl, 2*time.Second) / 4
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
		mu.Lock()
		if pending > 0 && now.Sub(heard) > stall {
			n := pending
			mu.Unlock()
			return fmt.Errorf("%w: %d renewals unanswered for %v", errStalled, n, now.Sub(heard).Round(time.Millisecond))
		}
		if pending == 0 && len(due) > 0 {
			heard = now
		}
		pending += len(due)
		mu.Unlock()
		for _, id := range due {
			if err := s.Send(&pb.LeaseKeepAliveRequest{ID: int64(id)}); err != nil {
				return err
			}
		}
	}
}

// errStalled says a stream's member stopped answering.
var errStalled = errors.New("the etcd member does not answer")

// gone forgets a lease etcd no longer has and tells its node.
func (k *leaseShard) gone(id clientv3.LeaseID) {
	k.mu.Lock()
	l := k.leases[id]
	delete(k.leases, id)
	k.mu.Unlock()
	if l != nil {
		go l.lost()
	}
}
