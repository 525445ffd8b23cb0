package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// steadyLease is the etcd client's Lease with a keep-alive that does not
// stay with a member that stopped answering. The client's own keep-alive
// sends every renewal of the process on one stream to one member, and
// opens another only when that stream breaks; a member that is alive but
// does not answer — defragmenting (it answers no keep-alive until it is
// done, etcd-io/etcd#13313), stopped, its disk stuck — keeps the stream,
// and every lease on it runs out at the leader meanwhile: in a C1M run on
// 3 members, 3,660 of the 5,000 nodes' leases ran out while followers
// were defragmented for 8 and 14 s.
//
// Here a session keeps one stream of its own, and each renewal on it has
// a deadline: a renewal that gets no answer in time is sent again at once
// on a new stream to another member. The stream is long-lived because
// opening one costs etcd an authentication when it has auth on (the
// client asks for a new token at every stream: a bcrypt and a raft write).
// Streams go to the members in turn, from one picked at random, each on
// a connection of its own (memberConns), so the next try is never the
// same member again (the client's balanced connection may pick it).
type steadyLease struct {
	clientv3.Lease // the client's own, for everything but Grant and KeepAlive
	ttl            time.Duration
	conns          *memberConns
	cliCtx         context.Context // the client's: its Close ends the keep-alive

	mu      sync.Mutex
	granted map[clientv3.LeaseID]time.Time // the earliest expiry of a lease granted here
}

// Grant grants a lease and notes when it runs out at the earliest: a TTL
// after the request was sent, since etcd may have granted it at once.
func (l *steadyLease) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	sent := time.Now()
	resp, err := l.Lease.Grant(ctx, ttl)
	if err == nil {
		l.mu.Lock()
		l.granted[resp.ID] = sent.Add(time.Duration(resp.TTL) * time.Second)
		l.mu.Unlock()
	}
	return resp, err
}

// KeepAlive keeps lease id alive until ctx or the client ends or the lease
// is lost, sending a response on the channel (when there is room) at each
// renewal; the channel is closed then, as the client's is.
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
	// minRenewBackoff is the first pause after a renewal that failed with
	// an error (not for want of an answer); it doubles up to a try.
	minRenewBackoff = 100 * time.Millisecond
)

// errNoAnswer says a member did not answer a renewal in time.
var errNoAnswer = errors.New("the etcd member did not answer in time")

func (l *steadyLease) keep(ctx context.Context, id clientv3.LeaseID, ch chan *clientv3.LeaseKeepAliveResponse) {
	defer close(ch)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.cliCtx, cancel)()

	l.mu.Lock()
	expiry, known := l.granted[id]
	delete(l.granted, id)
	l.mu.Unlock()
	try := renewTry(l.ttl)
	wait := l.ttl / 3
	if !known {
		// Not granted here: renewed at once, which tells its expiry.
		expiry, wait = time.Now().Add(l.ttl), 0
	}
	// Sessions spread over the members.
	r := &renewer{conns: l.conns, member: rand.IntN(1 << 20)}
	defer r.drop()
	backoff := time.Duration(0)
	// unanswered counts renewals in a row that got no answer in time.
	// One member that does not answer is left at once; when the next
	// does not either, the cluster as a whole is slow, and the renewal
	// waits on its stream as long as the lease allows rather than open
	// stream after stream (with auth on, each opening costs etcd an
	// authentication: thousands of sessions doing that at once would
	// slow it further).
	unanswered := 0
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
			// No renewal reached etcd in time: the leader has let it go,
			// or is about to. Revoked, should it not have, so that its
			// keys (a server's election key) do not outlive the session.
			go func() {
				rctx, cancel := context.WithTimeout(l.cliCtx, try)
				defer cancel()
				_, _ = l.Lease.Revoke(rctx, id)
			}()
			return
		}
		d := try
		if left < 2*try || unanswered >= 2 {
			d = left
		}
		resp, err := r.renew(ctx, id, d)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && resp.TTL <= 0:
			// etcd no longer has it.
			return
		case err == nil:
			// Renewed at the latest when it was sent.
			expiry = sent.Add(time.Duration(resp.TTL) * time.Second)
			wait, backoff, unanswered = l.ttl/3, 0, 0
			select {
			case ch <- &clientv3.LeaseKeepAliveResponse{ResponseHeader: resp.Header, ID: clientv3.LeaseID(resp.ID), TTL: resp.TTL}:
			default:
			}
		case errors.Is(err, errNoAnswer):
			// At once, on another member.
			unanswered++
			wait = 0
		default:
			// An error (the member restarting, its connection down, the
			// token to renew): again on another member after a pause
			// that doubles, should errors come back fast.
			backoff = min(max(2*backoff, minRenewBackoff), try)
			wait = backoff
		}
	}
}

// renewer sends a session's renewals on one stream, and opens the next
// on another member when that stream fails.
type renewer struct {
	conns  *memberConns
	member int // which of conns the next stream goes to

	stream pb.Lease_LeaseKeepAliveClient
	cancel context.CancelFunc
	recvd  chan recvd
}

type recvd struct {
	resp *pb.LeaseKeepAliveResponse
	err  error
}

// renew renews lease id on the stream, opening it first if need be, and
// waits at most d for the answer. On any failure the stream is dropped and
// the next one goes to another member.
func (r *renewer) renew(ctx context.Context, id clientv3.LeaseID, d time.Duration) (*pb.LeaseKeepAliveResponse, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	if r.stream == nil {
		if err := r.open(ctx, t.C); err != nil {
			r.next()
			return nil, err
		}
	}
	if err := r.stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(id)}); err != nil {
		r.leave()
		return nil, err
	}
	select {
	case got := <-r.recvd:
		if got.err != nil {
			r.leave()
			return nil, got.err
		}
		return got.resp, nil
	case <-t.C:
		r.leave()
		return nil, errNoAnswer
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// open opens a stream, giving up when timeout fires: a member that
// accepts connections but does not answer holds the opening too.
func (r *renewer) open(ctx context.Context, timeout <-chan time.Time) error {
	conn, err := r.conns.conn(r.member)
	if err != nil {
		return err
	}
	// A member cut off from its leader refuses the stream rather than
	// answering for a lease it cannot renew.
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	type opened struct {
		s   pb.Lease_LeaseKeepAliveClient
		err error
	}
	och := make(chan opened, 1)
	go func() {
		s, err := pb.NewLeaseClient(conn).LeaseKeepAlive(sctx)
		och <- opened{s, err}
	}()
	select {
	case o := <-och:
		if o.err != nil {
			cancel()
			return o.err
		}
		r.stream, r.cancel, r.recvd = o.s, cancel, make(chan recvd, 1)
		go receive(sctx, o.s, r.recvd)
		return nil
	case <-timeout:
		cancel()
		return errNoAnswer
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}

// receive hands the stream's answers to out until the stream ends.
func receive(ctx context.Context, s pb.Lease_LeaseKeepAliveClient, out chan<- recvd) {
	for {
		resp, err := s.Recv()
		select {
		case out <- recvd{resp, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// drop closes the stream, if any.
func (r *renewer) drop() {
	if r.cancel != nil {
		r.cancel()
	}
	r.stream, r.cancel, r.recvd = nil, nil, nil
}

// next moves the next stream to the next member.
func (r *renewer) next() { r.member++ }

// leave drops the stream; the next goes to the next member.
func (r *renewer) leave() {
	r.drop()
	r.next()
}

// memberConns are connections of their own to each of the client's
// endpoints, dialled when first needed and closed with the client.
type memberConns struct {
	cli *clientv3.Client

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// conn returns the connection to member i of the client's endpoints (in
// turn, i modulo their number); with a single endpoint, the client's own
// connection.
func (m *memberConns) conn(i int) (*grpc.ClientConn, error) {
	var eps []string
	seen := map[string]bool{}
	for _, ep := range m.cli.Endpoints() {
		if !seen[ep] {
			seen[ep] = true
			eps = append(eps, ep)
		}
	}
	if len(eps) < 2 {
		return m.cli.ActiveConnection(), nil
	}
	ep := eps[i%len(eps)]
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.conns[ep]; c != nil {
		return c, nil
	}
	if err := m.cli.Ctx().Err(); err != nil {
		return nil, err
	}
	c, err := m.cli.Dial(ep)
	if err != nil {
		return nil, err
	}
	if m.conns == nil {
		m.conns = map[string]*grpc.ClientConn{}
		context.AfterFunc(m.cli.Ctx(), m.close)
	}
	m.conns[ep] = c
	return c, nil
}

func (m *memberConns) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ep, c := range m.conns {
		_ = c.Close()
		delete(m.conns, ep)
	}
}

// sessionClient is a client for a concurrency.Session: the store's, with
// steadyLease for its grant and keep-alive. It is not to be closed (its
// parts are the store's client's); ctx, a child of the store client's,
// is cancelled when the session ends.
func (s *Store) sessionClient(ctx context.Context, ttl time.Duration) *clientv3.Client {
	cli := s.cli
	if cli.ActiveConnection() == nil {
		// In-process (an embedded etcd's own client, v3client): no
		// member to leave, no connection to renew on.
		return cli
	}
	c := clientv3.NewCtxClient(ctx)
	c.Cluster, c.KV, c.Watcher, c.Auth, c.Maintenance = cli.Cluster, cli.KV, cli.Watcher, cli.Auth, cli.Maintenance
	c.Lease = &steadyLease{Lease: cli.Lease, ttl: ttl, conns: &s.memberConns, cliCtx: cli.Ctx(), granted: map[clientv3.LeaseID]time.Time{}}
	return c
}
