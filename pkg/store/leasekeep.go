package store

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// steadyLease is the etcd client's Lease with a keep-alive that does not
// stay with a member that stopped answering. The client's own keep-alive
// sends every renewal of the process on one stream to one member, and
// opens another only when that stream breaks; a member that is alive but
// does not answer — defragmenting (it answers no keep-alive until it is
// done, etcd-io/etcd#13313), stopped, its disk stuck — keeps the stream,
// and every lease on it runs out at the leader meanwhile: in a C1M run on
// 3 members, 3,660 of the 5,000 nodes' leases ran out while followers
// were defragmented for 8 and 14 s. Here each renewal is a short stream
// of its own, with a deadline: one that gets no answer in time is tried
// again at once on a new stream, which the client's round-robin balancer
// sends to the next member.
type steadyLease struct {
	clientv3.Lease // the client's own, for everything but KeepAlive
	ttl            time.Duration
}

// KeepAlive keeps lease id alive until ctx ends or it is lost, sending a
// response on the channel (when there is room) at each renewal; the
// channel is closed then, as the client's is.
func (l *steadyLease) KeepAlive(ctx context.Context, id clientv3.LeaseID) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	ch := make(chan *clientv3.LeaseKeepAliveResponse, 1)
	go l.keep(ctx, id, ch)
	return ch, nil
}

// renewTry bounds one renewal, at least minRenewTry: a sixth of the TTL,
// so that a member that does not answer leaves time for the others.
func renewTry(ttl time.Duration) time.Duration { return max(ttl/6, minRenewTry) }

const (
	minRenewTry = 500 * time.Millisecond
	retryRenew  = 50 * time.Millisecond
)

func (l *steadyLease) keep(ctx context.Context, id clientv3.LeaseID, ch chan *clientv3.LeaseKeepAliveResponse) {
	defer close(ch)
	// Granted just before: it runs out a TTL from now at the earliest.
	expiry := time.Now().Add(l.ttl)
	try := renewTry(l.ttl)
	wait := l.ttl / 3
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		sent := time.Now()
		left := expiry.Sub(sent)
		if left <= 0 {
			// No renewal reached etcd in time: the leader has let it go.
			return
		}
		d := try
		if left < 2*try {
			d = left
		}
		tctx, cancel := context.WithTimeout(ctx, d)
		resp, err := l.Lease.KeepAliveOnce(tctx, id)
		cancel()
		switch {
		case err == nil:
			// Renewed at the latest when it was sent.
			expiry = sent.Add(time.Duration(resp.TTL) * time.Second)
			wait = l.ttl / 3
			select {
			case ch <- resp:
			default:
			}
		case ctx.Err() != nil, errors.Is(err, rpctypes.ErrLeaseNotFound):
			return
		default:
			// No answer in time, or an error: again almost at once (not
			// in a loop, should errors come back fast), on a new stream
			// (another member).
			wait = retryRenew
		}
	}
}

// sessionClient is a client for a concurrency.Session: cli, with
// steadyLease for its keep-alive. It is not to be closed (its parts are
// cli's).
func sessionClient(cli *clientv3.Client, ttl time.Duration) *clientv3.Client {
	c := clientv3.NewCtxClient(context.Background())
	c.Cluster, c.KV, c.Watcher, c.Auth, c.Maintenance = cli.Cluster, cli.KV, cli.Watcher, cli.Auth, cli.Maintenance
	c.Lease = &steadyLease{Lease: cli.Lease, ttl: ttl}
	return c
}
