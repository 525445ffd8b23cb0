package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/nomadic-project/nomadic/pkg/keyring"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// startKeyring loads the server's keyring file — the one given, or in dev
// mode one kept in the data directory — and follows the keyring in etcd
// until ctx ends. It returns the variable service and the leader loops
// that go with it (re-encryption after rotations, the issuing of
// workload identities); none when the server has no keyring file.
func (a *agent) startKeyring(ctx context.Context) (*variables.Service, []func(context.Context, *store.Cache, store.Guard), error) {
	f := a.f
	var file *keyfile.File
	var err error
	switch {
	case f.keyringFile != "":
		file, err = keyfile.ReadFile(f.keyringFile)
	case f.dev:
		path := filepath.Join(f.dataDir, "server", "keyring.json")
		file, err = keyfile.LoadOrCreate(path)
		slog.Info("dev mode keyring", "file", path)
	default:
		slog.Warn("no -keyring-file: this server serves no variables, and templates cannot read them")
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	kr, err := keyring.New(a.st, file)
	if err != nil {
		return nil, nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		kr.Run(ctx)
	}()
	vs := &variables.Service{Store: a.st, Keyring: kr}
	a.vars = vs
	singletons := []func(context.Context, *store.Cache, store.Guard){
		func(ctx context.Context, _ *store.Cache, _ store.Guard) { vs.RunRekey(ctx) },
		func(ctx context.Context, c *store.Cache, g store.Guard) {
			(&variables.Issuer{Service: vs, Cache: c, Guard: g}).Run(ctx)
		},
	}
	return vs, singletons, nil
}
