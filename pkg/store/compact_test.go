package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestServersTakeTurnsCompactingHistory(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/c")
	ctx := context.Background()
	put := func() int64 {
		r, err := cli.Put(ctx, "/c/jobs/x", "v")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	early := put()
	a := store.New(cli, "/c")
	b := st
	// First round: the revision is recorded, nothing is compacted.
	if _, err := a.CompactRound(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "/c/jobs/x", clientv3WithRev(early)); err != nil {
		t.Fatalf("history compacted too early: %v", err)
	}
	put()
	put()
	// Second round by the other server: it compacts to what the first
	// recorded.
	if _, err := b.CompactRound(ctx); err != nil {
		t.Fatal(err)
	}
	// Revisions before the recorded one are gone.
	_, err := cli.Get(ctx, "/c/jobs/x", clientv3WithRev(early-1))
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("old revision still readable: %v", err)
	}
	if _, err := cli.Get(ctx, "/c/jobs/x"); err != nil {
		t.Fatal(err)
	}
}

func clientv3WithRev(rev int64) clientv3.OpOption { return clientv3.WithRev(rev) }
