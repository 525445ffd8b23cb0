package nomadapi

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// nomad operator snapshot save: Nomad's api client checks the body against
// the Digest header while it reads; the spooled copy is gone afterwards.
func TestOperatorSnapshotCarriesItsDigest(t *testing.T) {
	dir := t.TempDir()
	st := store.New(testutil.Etcd(t), "/nsnap")
	// An open API on an external etcd serves none: a snapshot holds all
	// of etcd.
	open := nomadClient(t, &Server{Store: st, Name: "t", Version: "test", SnapshotDir: dir})
	if _, err := open.Operator().Snapshot(nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a snapshot from an open API on an external etcd: %v", err)
	}
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test", SnapshotDir: dir, Secured: true})
	rc, err := c.Operator().Snapshot(nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc) // a digest mismatch is an error here
	rc.Close()
	if err != nil || n < 4096 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("spooled files left: %v", left)
	}
	if _, err := c.Operator().SnapshotRestore(strings.NewReader("x"), nil); err == nil || !strings.Contains(err.Error(), "etcdutl snapshot restore") {
		t.Fatalf("restore: %v", err)
	}
}
