package store

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestProgressNotificationsTrustedFromTheFixedEtcdReleases(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"3.4.23": false, "3.4.30": false, "3.4.31": true, "3.4.35": true,
		"3.5.0": false, "3.5.12": false, "3.5.13": true, "3.5.21": true,
		"3.6.0": true, "3.6.16": true, "3.7.0-alpha.0": true, "4.0.0": true,
		"3.3.27": false, "3.4": false, "": false, "x.y.z": false, "3.4.31+git": true,
	} {
		if got := progressInOrder(v); got != want {
			t.Errorf("etcd %q: trusted %v, want %v", v, got, want)
		}
	}
}

func TestProgressOfTheEmbeddedEtcdIsTrusted(t *testing.T) {
	t.Parallel()
	s := New(testutil.Etcd(t), "/trust")
	s.progressTrusted() // starts the check
	deadline := time.Now().Add(10 * time.Second)
	for !s.progressTrusted() {
		if time.Now().After(deadline) {
			t.Fatal("etcd 3.6's progress notifications were not trusted after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Where progress notifications are not trusted, a cache that saw no change
// under its prefix while etcd's revision moved (another prefix's writes)
// still reaches etcd's revision: from a write of its own key, whose event
// comes in order with the others.
func TestCacheReachesEtcdsRevisionWithoutProgressNotifications(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		cli := testutil.Etcd(t)
		s := New(cli, "/mine")
		s.progress.forced = &trusted
		c := runCache(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if _, err := c.Nodes(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := cli.Put(ctx, "/someone-else/key", "v"); err != nil {
				t.Fatal(err)
			}
		}
		target, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := c.Nodes(ctx); err != nil {
			t.Fatalf("trusted %v: %v", trusted, err)
		}
		if c.Revision() < target {
			t.Fatalf("trusted %v: read at revision %d, etcd was at %d", trusted, c.Revision(), target)
		}
		if d := time.Since(start); d > maxCacheStall {
			t.Fatalf("trusted %v: reaching etcd's revision took %v", trusted, d)
		}
		resp, err := cli.Get(ctx, s.keys.tickKey())
		if err != nil {
			t.Fatal(err)
		}
		if ticked := len(resp.Kvs) == 1; ticked == trusted {
			t.Fatalf("trusted %v: the cache's own key written: %v", trusted, ticked)
		}
		cancel()
	}
}
