package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestACLTokensAreStoredWithoutTheirSecret(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	secret := api.NewID()
	tok := &api.ACLToken{AccessorID: api.NewID(), SecretID: secret, SecretHash: api.HashSecret(secret), Type: api.TokenManagement, CreateTime: time.Now()}
	if _, err := s.BootstrapACL(ctx, tok); err != nil {
		t.Fatal(err)
	}
	second := &api.ACLToken{AccessorID: api.NewID(), SecretHash: api.HashSecret("other"), Type: api.TokenManagement}
	if _, err := s.BootstrapACL(ctx, second); !errors.Is(err, ErrBootstrapped) || !errors.Is(err, ErrConflict) {
		t.Fatalf("second bootstrap: %v, want ErrBootstrapped", err)
	}
	resp, err := cli.Get(ctx, "/test/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), secret) || strings.Contains(string(kv.Key), secret) {
			t.Fatalf("the secret is stored in %s", kv.Key)
		}
		if _, ok := s.keys.Parse(string(kv.Key)); !ok {
			t.Fatalf("key %s is outside the layout", kv.Key)
		}
	}
	got, err := s.ACLTokenBySecretHash(ctx, api.HashSecret(secret))
	if err != nil || got.AccessorID != tok.AccessorID {
		t.Fatalf("lookup by secret: %+v, %v", got, err)
	}
	if _, err := s.ACLTokenBySecretHash(ctx, api.HashSecret("wrong")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup of an unknown secret: %v", err)
	}
	if err := s.ResetACLBootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BootstrapACL(ctx, second); err != nil {
		t.Fatalf("bootstrap after a reset: %v", err)
	}
	upd, err := s.UpdateACLToken(ctx, &api.ACLToken{AccessorID: tok.AccessorID, Name: "renamed", Type: api.TokenClient, Policies: []string{"ro"}})
	if err != nil || upd.Name != "renamed" || upd.SecretHash != tok.SecretHash {
		t.Fatalf("update: %+v, %v", upd, err)
	}
	if err := s.DeleteACLToken(ctx, tok.AccessorID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ACLTokenBySecretHash(ctx, api.HashSecret(secret)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deleted token is still found: %v", err)
	}
	if list, _ := s.ListACLTokens(ctx); len(list) != 1 {
		t.Fatalf("%d tokens left, want 1", len(list))
	}
}

func TestACLPolicies(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	p, err := s.PutACLPolicy(ctx, &api.ACLPolicy{Name: "ro", Rules: `namespace "default" { policy = "read" }`})
	if err != nil || p.CreateIndex == 0 {
		t.Fatalf("put: %+v, %v", p, err)
	}
	p2, err := s.PutACLPolicy(ctx, &api.ACLPolicy{Name: "ro", Rules: `namespace "*" { policy = "read" }`})
	if err != nil || p2.CreateIndex != p.CreateIndex || p2.ModifyIndex <= p.ModifyIndex {
		t.Fatalf("replace: %+v, %v", p2, err)
	}
	if got, err := s.GetACLPolicy(ctx, "ro"); err != nil || !strings.Contains(got.Rules, `"*"`) {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if err := s.DeleteACLPolicy(ctx, "ro"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteACLPolicy(ctx, "ro"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestACLRoleNamesAreUnique(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	a, err := s.PutACLRole(ctx, &api.ACLRole{ID: "r1", Name: "ops", Policies: []string{"ro"}})
	if err != nil || a.CreateIndex == 0 {
		t.Fatalf("create: %+v, %v", a, err)
	}
	if _, err := s.PutACLRole(ctx, &api.ACLRole{ID: "r2", Name: "ops", Policies: []string{"ro"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second role named ops: %v", err)
	}
	if _, err := s.PutACLRole(ctx, &api.ACLRole{ID: "r1", Name: "operators", Policies: []string{"ro", "rw"}}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := s.ACLRoleByName(ctx, "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the old name still resolves: %v", err)
	}
	if _, err := s.PutACLRole(ctx, &api.ACLRole{ID: "r2", Name: "ops", Policies: []string{"ro"}}); err != nil {
		t.Fatalf("the freed name: %v", err)
	}
	r, err := s.ACLRoleByName(ctx, "operators")
	if err != nil || r.ID != "r1" || len(r.Policies) != 2 {
		t.Fatalf("by name: %+v, %v", r, err)
	}
	if err := s.DeleteACLRole(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ACLRoleByName(ctx, "operators"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a deleted role's name: %v", err)
	}
	if list, _ := s.ListACLRoles(ctx); len(list) != 1 {
		t.Fatalf("%d roles, want 1", len(list))
	}
}
