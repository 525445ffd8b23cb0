package nomadapi

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/keyring/keyringtest"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// TestWorkloadIdentitiesVerifyWithTheJWKS: what another system does to
// trust a task's identity — read /.well-known/jwks.json, find the key the
// JWT's header names, check its signature — works with the keys served,
// also for an identity signed before a rotation.
func TestWorkloadIdentitiesVerifyWithTheJWKS(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/jwks")
	kr := keyringtest.Running(t, st)
	ts := httptest.NewServer((&Server{Store: st, Name: "t", Version: "test", Vars: &variables.Service{Store: st, Keyring: kr}}).Handler())
	t.Cleanup(ts.Close)

	before, err := kr.Sign(map[string]any{"sub": "global:default:web:g:t:default", "nomad_job_id": "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) { return len(fetchJWKS(t, ts.URL)) == 2, "two keys served after a rotation" })
	after, err := kr.Sign(map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	keys := fetchJWKS(t, ts.URL)
	for _, tok := range []string{before, after} {
		parts := strings.Split(tok, ".")
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var h struct{ Kid, Alg string }
		if err := json.Unmarshal(hb, &h); err != nil {
			t.Fatal(err)
		}
		k, ok := keys[h.Kid]
		if !ok || h.Alg != "EdDSA" {
			t.Fatalf("no key %s (alg %s) among %d served", h.Kid, h.Alg, len(keys))
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if !ed25519.Verify(k, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("the identity signed by %s does not verify with the key served", h.Kid)
		}
	}

	// A server without a keyring says why.
	bare := httptest.NewServer((&Server{Store: st, Name: "t", Version: "test"}).Handler())
	t.Cleanup(bare.Close)
	resp, err := http.Get(bare.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("without a keyring: %d", resp.StatusCode)
	}
}

func fetchJWKS(t *testing.T, base string) map[string]ed25519.PublicKey {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&set) != nil {
		t.Fatalf("jwks: %d", resp.StatusCode)
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || len(x) != ed25519.PublicKeySize {
			t.Fatalf("a key: %+v %v", k, err)
		}
		out[k.Kid] = x
	}
	return out
}
