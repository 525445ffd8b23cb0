package store

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/etcdembed"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// A session's lease is renewed past its TTL; when etcd no longer has it
// (revoked by someone else here), Done is closed at the next renewal;
// once orphaned, it is no longer renewed and runs out.
func TestSessionLeaseIsRenewedAndItsLossSeen(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	ctx := context.Background()
	s := New(cli, "/leasekeep")
	ttlOf := func(sess *Session) int64 {
		resp, err := cli.TimeToLive(ctx, clientv3.LeaseID(sess.Lease()))
		if err != nil {
			t.Fatal(err)
		}
		return resp.TTL
	}

	sess, err := s.NewSession(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	select {
	case <-sess.Done():
		t.Fatal("the session ended while etcd answered")
	default:
	}
	if ttl := ttlOf(sess); ttl <= 0 {
		t.Fatalf("lease TTL %d after 1.5 TTLs, want it renewed", ttl)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(sess.Lease())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sess.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the session did not see its lease go")
	}

	orphan, err := s.NewSession(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	orphan.Orphan()
	select {
	case <-orphan.Done():
	case <-time.After(time.Second):
		t.Fatal("an orphaned session is not done")
	}
	deadline := time.Now().Add(6 * time.Second)
	for ttlOf(orphan) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("an orphaned session's lease is still renewed")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keepAliveStreams counts the LeaseKeepAlive streams a client opens, and
// makes those opened so far go silent on demand: their answers are
// swallowed, as from a member alive but not answering (defragmenting).
type keepAliveStreams struct {
	mu     sync.Mutex
	opened int
	silent int // streams numbered up to this one answer nothing
}

func (k *keepAliveStreams) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || !strings.HasSuffix(method, "/LeaseKeepAlive") {
		return s, err
	}
	k.mu.Lock()
	k.opened++
	n := k.opened
	k.mu.Unlock()
	return &silenceable{ClientStream: s, k: k, n: n}, nil
}

func (k *keepAliveStreams) counts() (opened int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.opened
}

func (k *keepAliveStreams) silenceAll() {
	k.mu.Lock()
	k.silent = k.opened
	k.mu.Unlock()
}

type silenceable struct {
	grpc.ClientStream
	k *keepAliveStreams
	n int
}

func (s *silenceable) RecvMsg(m any) error {
	for {
		if err := s.ClientStream.RecvMsg(m); err != nil {
			return err
		}
		s.k.mu.Lock()
		silent := s.n <= s.k.silent
		s.k.mu.Unlock()
		if !silent {
			return nil
		}
	}
}

func countingClient(t *testing.T) (*clientv3.Client, *keepAliveStreams) {
	_, ep := testutil.EtcdWithEndpoint(t)
	k := &keepAliveStreams{}
	// The one member under two names: two "members" for the renewals to
	// move between.
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ep, strings.TrimPrefix(ep, "http://")},
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainStreamInterceptor(k.interceptor)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli, k
}

// Renewals share one long-lived stream (with etcd's auth on, each new
// stream costs an authentication); one that a member leaves unanswered
// moves to a new stream, and the lease lives on.
func TestSessionRenewsOnOneStreamAndLeavesASilentOne(t *testing.T) {
	t.Parallel()
	cli, k := countingClient(t)
	ctx := context.Background()
	s := New(cli, "/leasekeep-stream")
	sess, err := s.NewSession(ctx, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Revoke(ctx)
	// About 6 renewals.
	time.Sleep(6 * time.Second)
	if n := k.counts(); n != 1 {
		t.Fatalf("%d keep-alive streams opened for 6 s of renewals, want 1", n)
	}
	k.silenceAll()
	// Two TTLs with the first stream silent.
	time.Sleep(6 * time.Second)
	select {
	case <-sess.Done():
		t.Fatal("the session ended with one stream silent")
	default:
	}
	resp, err := cli.TimeToLive(ctx, clientv3.LeaseID(sess.Lease()))
	if err != nil || resp.TTL <= 0 {
		t.Fatalf("lease TTL %v (%v) after the stream went silent", resp, err)
	}
	if n := k.counts(); n != 2 {
		t.Fatalf("%d keep-alive streams opened, want 2 (the silent one, then one more)", n)
	}
}

// A session ends with its client, and its renewals stop, not loop on
// the closed client's errors.
func TestSessionEndsWithItsClient(t *testing.T) {
	t.Parallel()
	cli, k := countingClient(t)
	s := New(cli, "/leasekeep-close")
	sess, err := s.NewSession(context.Background(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cli.Close()
	select {
	case <-sess.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the session outlived its client")
	}
	before := k.counts()
	time.Sleep(time.Second)
	if n := k.counts(); n != before {
		t.Fatalf("%d keep-alive streams opened after the client closed", n-before)
	}
}

// An embedded etcd's in-process client has no connection: its sessions
// renew with the client's own keep-alive.
func TestSessionOnAnInProcessClient(t *testing.T) {
	t.Parallel()
	srv, err := etcdembed.Start(etcdembed.Config{
		Name: "inproc", DataDir: filepath.Join(t.TempDir(), "etcd"),
		ClientAddr: testutil.FreeAddr(t), PeerAddr: testutil.FreeAddr(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli := srv.Client()
	defer cli.Close()
	ctx := context.Background()
	// A TTL long enough that a loaded machine (the whole suite runs at
	// once on 2 cores) cannot stall three renewals in a row: with 2 s it
	// once ran out while the suite ran.
	sess, err := New(cli, "/leasekeep-inproc").NewSession(ctx, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(9 * time.Second)
	resp, err := cli.TimeToLive(ctx, clientv3.LeaseID(sess.Lease()))
	if err != nil || resp.TTL <= 0 {
		t.Fatalf("lease TTL %v (%v) after 1.5 TTLs", resp, err)
	}
	if err := sess.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
}
