package store

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
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
