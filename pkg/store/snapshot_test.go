package store

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// The tail hasher finds an etcd snapshot's trailing SHA-256 however the
// stream is cut into writes.
func TestTailHasherFindsTheTrailingChecksum(t *testing.T) {
	t.Parallel()
	db := make([]byte, 10000)
	for i := range db {
		db[i] = byte(rand.IntN(256))
	}
	sum := sha256.Sum256(db)
	snap := append(append([]byte{}, db...), sum[:]...)
	for _, size := range []int{1, 7, 31, 32, 33, 1000, len(snap)} {
		th := &tailHasher{h: sha256.New()}
		for i := 0; i < len(snap); i += size {
			th.Write(snap[i:min(i+size, len(snap))])
		}
		if !th.complete() {
			t.Errorf("writes of %d: not found complete", size)
		}
	}
	bad := &tailHasher{h: sha256.New()}
	bad.Write(snap[:len(snap)-1])
	if bad.complete() {
		t.Errorf("a snapshot one byte short was found complete")
	}
}
