// Package keyringtest runs a keyring for the tests of the packages that
// seal with one.
package keyringtest

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/keyring"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Running returns a keyring of the cluster st with a new key encryption
// key, running until the test ends, once it has an active key.
func Running(t testing.TB, st *store.Store) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(st, keyfile.Generate())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		kr.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-kr.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("keyring not ready")
	}
	return kr
}
