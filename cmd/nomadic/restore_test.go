package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/etcdembed"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A snapshot of an embedded etcd (what nctl operator snapshot save
// fetches) restores into a server's data directory: the keys are back,
// later ones are not, and the revision is far past the snapshot's, so that
// watchers that saw later revisions are told theirs was compacted.
func TestEtcdRestoreBringsTheSnapshotBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	peer := testutil.FreeAddr(t)
	start := func() *etcdembed.Server {
		srv, err := etcdembed.Start(etcdembed.Config{Name: "s1", DataDir: filepath.Join(dir, "etcd"), ClientAddr: testutil.FreeAddr(t), PeerAddr: peer})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	cli := srv.Client()
	if _, err := cli.Put(ctx, "/nomadic/jobs/default/before", "{}"); err != nil {
		t.Fatal(err)
	}
	sp, err := store.New(cli, "/nomadic").SpoolSnapshot(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before, err := cli.Put(ctx, "/nomadic/jobs/default/after", "{}")
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "backup.snap")
	f, err := os.Create(snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, sp.File); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_ = sp.Close()
	srv.Close()
	if err := runRestore([]string{"-data-dir", dir, "-name", "s1", "-etcd-peer-addr", peer, snap}); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("restoring over a data directory: %v", err)
	}
	if err := renameAside(filepath.Join(dir, "etcd")); err != nil {
		t.Fatal(err)
	}
	if err := runRestore([]string{"-data-dir", dir, "-name", "s1", "-etcd-peer-addr", peer, snap}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "etcd.restoring-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	srv = start()
	defer srv.Close()
	cli = srv.Client()
	resp, err := cli.Get(ctx, "/nomadic/jobs/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != "/nomadic/jobs/default/before" {
		t.Fatalf("keys after the restore: %v", resp.Kvs)
	}
	if resp.Header.Revision < restoreRevisionBump || resp.Header.Revision <= before.Header.Revision {
		t.Fatalf("revision %d after the restore, want past %d and %d (the last before it)", resp.Header.Revision, int64(restoreRevisionBump), before.Header.Revision)
	}
	// A watcher of a revision it saw before the restore is told it was
	// compacted, and so reads everything again.
	wc := cli.Watch(ctx, "/nomadic/", clientv3.WithPrefix(), clientv3.WithRev(before.Header.Revision))
	if w := <-wc; w.CompactRevision == 0 {
		t.Fatalf("a watch from revision %d after the restore: %+v", before.Header.Revision, w)
	}
}

func renameAside(path string) error { return os.Rename(path, path+".old") }

// A snapshot of several members is not restored as one server's etcd
// unless asked (-single): that would split the cluster.
func TestEtcdRestoreRefusesASnapshotOfSeveralMembers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "two.snap")
	db, err := bolt.Open(file, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("members"))
		if err != nil {
			return err
		}
		for _, id := range []string{"8e9e05c52164694d", "91bc3c398fb3c146"} {
			if err := b.Put([]byte(id), []byte(`{}`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n, err := snapshotMembers(file); err != nil || n != 2 {
		t.Fatalf("members: %d %v", n, err)
	}
	err = runRestore([]string{"-data-dir", t.TempDir(), "-name", "s1", file})
	if err == nil || !strings.Contains(err.Error(), "cluster of 2 etcd members") {
		t.Fatalf("restoring a snapshot of two members: %v", err)
	}
}
