package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"

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

// localVars is how a node agent in the same process as a server reads
// variables: through the server's variable service, with the task's
// identity checked just as over the API, without a network hop.
type localVars struct{ vs *variables.Service }

func (l localVars) caller(ctx context.Context, token string) (*variables.Claims, error) {
	who, err := l.vs.Authenticate(ctx, token)
	return who, mapForbidden(err)
}

func mapForbidden(err error) error {
	if errors.Is(err, variables.ErrForbidden) {
		return fmt.Errorf("%w: %v", nodeagent.ErrVarForbidden, err)
	}
	return err
}

func (l localVars) GetVar(ctx context.Context, token, ns, path string) (*api.Variable, error) {
	who, err := l.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	v, err := l.vs.Get(ctx, who, ns, path)
	return v, mapForbidden(err)
}

func (l localVars) ListVars(ctx context.Context, token, ns, prefix string) ([]*api.Variable, error) {
	who, err := l.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	return l.vs.List(ctx, who, ns, prefix)
}

func (l localVars) WaitVars(ctx context.Context, token, _ string, index int64) (int64, error) {
	if _, err := l.caller(ctx, token); err != nil {
		return 0, err
	}
	if index > 0 {
		if err := l.vs.Store.WaitForChange(ctx, []store.Kind{store.KindVariables}, index, 5*time.Minute); err != nil {
			return 0, err
		}
	}
	return l.vs.Store.Revision(ctx)
}

// clientVariables is where this process's node agent reads variables:
// the server in the same process, else the servers' API.
func (a *agent) clientVariables() nodeagent.Variables {
	if a.vars != nil {
		return localVars{a.vars}
	}
	var opts []client.Option
	if a.f.serverCA != "" {
		opts = append(opts, client.WithTLSFiles(a.f.serverCA, "", ""))
	}
	if addrs := splitList(a.f.servers); len(addrs) > 0 {
		return nodeagent.ServerVariables(func(context.Context) []string { return addrs }, opts...)
	}
	registered := nodeagent.StoreServers(a.st)
	if a.f.serverCA == "" {
		return nodeagent.ServerVariables(registered, opts...)
	}
	// The servers register host:port; with a CA for their API it is
	// served with TLS.
	return nodeagent.ServerVariables(func(ctx context.Context) []string {
		addrs := registered(ctx)
		for i, addr := range addrs {
			if !strings.Contains(addr, "://") {
				addrs[i] = "https://" + addr
			}
		}
		return addrs
	}, opts...)
}
