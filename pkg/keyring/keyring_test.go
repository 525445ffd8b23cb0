package keyring

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func running(t *testing.T, st *store.Store, f *keyfile.File) *Keyring {
	t.Helper()
	k, err := New(st, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-k.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("keyring not ready")
	}
	return k
}

func TestTwoServersWithTheSameFileShareKeysAndRotations(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/k")
	f := keyfile.Generate()
	a := running(t, st, f)
	b := running(t, st, f)
	ctx := context.Background()
	id, sealed, err := a.Seal([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(ctx, id, sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Fatalf("the other server opened %q, %v", got, err)
	}
	if _, err := b.Open(ctx, id, sealed, []byte("other aad")); err == nil {
		t.Fatal("sealed data opened with other additional data")
	}
	k, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() (bool, string) { return b.ActiveID() == k.ID, b.ActiveID() })
	tok, err := b.Sign(map[string]string{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]string
	if err := a.Verify(ctx, tok, &claims); err != nil || claims["sub"] != "x" {
		t.Fatalf("verify: %v %v", claims, err)
	}
	if err := a.Verify(ctx, tok[:len(tok)-2]+"xx", &claims); err == nil {
		t.Fatal("a tampered token verified")
	}
	if got, err := a.Open(ctx, id, sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Fatalf("after rotation the old key opens %q, %v", got, err)
	}
}

func TestAServerWithAnotherFileCannotOpenTheKeys(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/k")
	a := running(t, st, keyfile.Generate())
	id, sealed, err := a.Seal([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(st, keyfile.Generate())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(context.Background(), id, sealed, nil); err == nil {
		t.Fatal("a keyring with other KEKs opened the data")
	}
}
