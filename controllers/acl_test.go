package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestExpiredACLTokensAreCollectedAfterAnHour: a token expired for less
// than ACLTokenGrace stays (refused as expired), one expired for longer
// goes with its secret's index, one that never expires stays.
func TestExpiredACLTokensAreCollectedAfterAnHour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testutil.Etcd(t), "/gca")
	now := time.Now()
	recent, old := now.Add(-time.Minute), now.Add(-2*time.Hour)
	for _, tk := range []*api.ACLToken{
		{AccessorID: "recent", ExpirationTime: &recent},
		{AccessorID: "old", ExpirationTime: &old},
		{AccessorID: "forever"},
	} {
		tk.Type, tk.SecretHash = api.TokenManagement, api.HashSecret(tk.AccessorID)
		if _, err := st.CreateACLToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	gc := &GC{Store: st}
	if err := gc.collectACLTokens(ctx, now); err != nil {
		t.Fatal(err)
	}
	left, err := st.ListACLTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tk := range left {
		got[tk.AccessorID] = true
	}
	if len(got) != 2 || !got["recent"] || !got["forever"] {
		t.Fatalf("tokens left: %v", got)
	}
	if _, err := st.ACLTokenBySecretHash(ctx, api.HashSecret("old")); err == nil {
		t.Fatal("the collected token's secret still resolves")
	}
}
