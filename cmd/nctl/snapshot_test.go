package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	bolt "go.etcd.io/bbolt"
	"net/http/httptest"
)

// nctl operator snapshot save writes etcd's snapshot — a database etcdutl
// restores, holding the cluster's keys — and refuses a file that exists.
func TestSnapshotSaveWritesEtcdsDatabase(t *testing.T) {
	cli := testutil.Etcd(t)
	if _, err := cli.Put(context.Background(), "/nctlsnap/marker", "here"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer((&httpapi.Server{Store: store.New(cli, "/nctlsnap"), Name: "t", Version: "test", SnapshotDir: t.TempDir(), EmbeddedEtcd: true}).Handler())
	t.Cleanup(ts.Close)
	t.Setenv("NCTL_CONFIG", t.TempDir()+"/config.yaml")
	file := filepath.Join(t.TempDir(), "backup.snap")
	out, errOut, code := nctl(t, "", "--addr", ts.URL, "operator", "snapshot", "save", file)
	if code != 0 || !strings.Contains(out, "Snapshot written to "+file) {
		t.Fatalf("save: %d %s %s", code, out, errOut)
	}
	// etcd's snapshot is its bolt database with a SHA-256 after it.
	raw, err := os.ReadFile(file)
	if err != nil || len(raw) < 4096 {
		t.Fatalf("the file: %d bytes, %v", len(raw), err)
	}
	db := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(db, raw[:len(raw)-32], 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(db, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the snapshot is no bolt database: %v", err)
	}
	defer b.Close()
	found := false
	if err := b.View(func(tx *bolt.Tx) error {
		keys := tx.Bucket([]byte("key"))
		if keys == nil {
			return nil
		}
		return keys.ForEach(func(_, v []byte) error {
			found = found || strings.Contains(string(v), "/nctlsnap/marker")
			return nil
		})
	}); err != nil || !found {
		t.Fatalf("the marker key in the snapshot: %v %v", found, err)
	}
	if _, errOut, code := nctl(t, "", "--addr", ts.URL, "operator", "snapshot", "save", file); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("saving over a file: %d %s", code, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*.tmp")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
