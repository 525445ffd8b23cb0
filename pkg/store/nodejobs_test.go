package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestSyncNodeJobsBatchesCopiesAndReadsEachVersionOnce(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	now := time.Unix(1000, 0).UTC()
	if _, err := s.RegisterJob(ctx, testJob("web", 1), now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterJob(ctx, testJob("web", 2), now); err != nil {
		t.Fatal(err)
	}
	rev := func() int64 {
		r, err := cli.Get(ctx, "/none")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	var put []NodeJobCopy
	for i := range 300 {
		put = append(put, NodeJobCopy{Node: fmt.Sprintf("n%03d", i), Namespace: "default", Job: "web", Version: uint64(i % 2)})
	}
	missing := NodeJobCopy{Node: "n000", Namespace: "default", Job: "purged", Version: 0}
	before := rev()
	done, gone, err := s.SyncNodeJobs(ctx, append(put, missing), nil, Guard{}, nil)
	if err != nil || len(done) != 300 || len(gone) != 1 || gone[0] != missing {
		t.Fatalf("copies: err %v, %d done, gone %v", err, len(done), gone)
	}
	// 300 copies in transactions of at most 128: three revisions.
	if d := rev() - before; d != 3 {
		t.Fatalf("300 copies took %d transactions, want 3", d)
	}
	raw, err := cli.Get(ctx, s.keys.NodeJob("n000", "default", "web", 0))
	if err != nil || len(raw.Kvs) != 1 || !strings.HasPrefix(string(raw.Kvs[0].Value), "\x1f\x8b") {
		t.Fatalf("a copy is stored gzipped: %v %v", err, raw)
	}
	for _, c := range []NodeJobCopy{put[0], put[299]} {
		j, err := s.GetNodeJob(ctx, c.Node, c.Namespace, c.Job, c.Version)
		if err != nil || j.Version != c.Version || j.Groups[0].Count != int(c.Version)+1 {
			t.Fatalf("copy %+v: %v %+v", c, err, j)
		}
	}

	// A guard that fails writes nothing.
	failing := Guard{cmps: []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("/test/no-such-term"), ">", 0)}}
	done, _, err = s.SyncNodeJobs(ctx, nil, put, failing, nil)
	if !errors.Is(err, ErrConflict) || len(done) != 0 {
		t.Fatalf("failing guard: %v, %d done", err, len(done))
	}
	before = rev()
	done, _, err = s.SyncNodeJobs(ctx, nil, put, Guard{}, nil)
	if err != nil || len(done) != 300 || rev()-before != 3 {
		t.Fatalf("deletes: %v, %d done, %d transactions", err, len(done), rev()-before)
	}
	if r, err := cli.Get(ctx, "/test/nodejobs/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || r.Count != 0 {
		t.Fatalf("copies left after deleting: %v %v", err, r)
	}
}

func TestSyncNodeJobsSplitsLargeJobsByBytes(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	j := testJob("big", 1)
	// Random, so that it stays large compressed: 600 KiB of base64.
	blob := make([]byte, 450<<10)
	_, _ = rand.Read(blob)
	j.Meta = map[string]string{"blob": base64.StdEncoding.EncodeToString(blob)}
	if _, err := s.RegisterJob(ctx, j, time.Unix(1000, 0).UTC()); err != nil {
		t.Fatal(err)
	}
	var put []NodeJobCopy
	for i := range 6 {
		put = append(put, NodeJobCopy{Node: fmt.Sprintf("n%d", i), Namespace: "default", Job: "big"})
	}
	done, _, err := s.SyncNodeJobs(ctx, put, nil, Guard{}, nil)
	if err != nil || len(done) != 6 {
		t.Fatalf("6 copies of a 600 KiB job (2.7 MiB compressed, over etcd's request limit in one): %v, %d done", err, len(done))
	}
}
