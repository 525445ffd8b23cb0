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

// TestServersTakeTurnsCompactingHistory: two servers whose tickers fire
// moments apart. The history kept is an interval of the winner's clock,
// never the moments between the two servers' rounds, and one server
// compacts per interval; when it stops, the other takes over.
func TestServersTakeTurnsCompactingHistory(t *testing.T) {
	cli := testutil.Etcd(t)
	ctx := context.Background()
	put := func() int64 {
		r, err := cli.Put(ctx, "/c/jobs/x", "v")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	readable := func(rev int64) bool {
		_, err := cli.Get(ctx, "/c/jobs/x", clientv3.WithRev(rev))
		if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
			t.Fatal(err)
		}
		return err == nil
	}
	round := func(c *store.Compactor) int64 {
		rev, err := c.Round(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	a := store.New(cli, "/c").Compactor()
	b := store.New(cli, "/c").Compactor()

	// First interval: a wins the round and records, b (a moment later)
	// loses it; nothing is compacted.
	first := put()
	if round(a) != 0 || round(b) != 0 || !readable(first) {
		t.Fatal("history compacted on the first round")
	}
	second := put()
	put()
	// Second interval: a compacts to what it read an interval ago (after
	// the first put); b, right after, compacts nothing — before the fix
	// it compacted to the revision a had just recorded.
	if rev := round(a); rev < first || rev >= second {
		t.Fatalf("a compacted to %d, want the revision of its first round (>= %d, < %d)", rev, first, second)
	}
	if round(b) != 0 {
		t.Fatal("b compacted right after a, in the same interval")
	}
	if readable(first - 1) {
		t.Fatal("history before a's first round is still there")
	}
	if !readable(second) {
		t.Fatal("the last interval's history is gone")
	}
	// a stops: b loses the round once more if a took it since b's last
	// look, then wins and compacts to what it read an interval before.
	third := put()
	rev := round(b)
	if rev < second || rev >= third {
		t.Fatalf("b took over to %d, want its previous round's revision (>= %d, < %d)", rev, second, third)
	}
	if !readable(third) {
		t.Fatal("the last interval's history is gone")
	}
	// A new server with no memory of the key (a restart) loses its first
	// round, then wins only when b has not gone meanwhile.
	c := store.New(cli, "/c").Compactor()
	if round(c) != 0 {
		t.Fatal("a restarted server compacted on its first round")
	}
	put()
	if round(b) == 0 {
		t.Fatal("b should still win its rounds")
	}
	if round(c) != 0 {
		t.Fatal("c won a round b had just taken")
	}
}
