package httpapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestTokensGuardEverythingButHealth(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := RequireTokens(ok, []string{"first-token-0123456789", "second-token-0123456789"})
	cases := []struct {
		name, path, header, value string
		want                      int
	}{
		{"no token", "/v1/jobs", "", "", 401},
		{"bearer token", "/v1/jobs", "Authorization", "Bearer second-token-0123456789", 200},
		{"Nomad's header", "/v1/jobs", "X-Nomad-Token", "first-token-0123456789", 200},
		{"unknown token", "/v1/jobs", "Authorization", "Bearer first-token-012345678", 403},
		{"not bearer", "/v1/jobs", "Authorization", "Basic abc", 401},
		{"health is open", "/v1/agent/health", "", "", 200},
		{"metrics are not", "/metrics", "", "", 401},
		{"the UI's addresses are open", "/ui/jobs/web@prod", "", "", 200},
		{"the identities' public keys are open", "/.well-known/jwks.json", "", "", 200},
		{"the UI's snapshot is not", "/v1/ui/snapshot", "", "", 401},
		{"a websocket's token subprotocol", "/v1/client/allocation/a/exec", "Sec-WebSocket-Protocol", "nomadic.exec, nomadic.token.Zmlyc3QtdG9rZW4tMDEyMzQ1Njc4OQ", 200},
		{"a websocket's wrong token", "/v1/client/allocation/a/exec", "Sec-WebSocket-Protocol", "nomadic.token.Zmlyc3QtdG9rZW4", 403},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		if c.header == "Sec-WebSocket-Protocol" {
			req.Header.Set("Upgrade", "websocket")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, rec.Code, c.want, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: error is not JSON", c.name)
		}
	}
}

func TestTokenFilesMustHoldStrongTokens(t *testing.T) {
	dir := t.TempDir()
	for content, wantErr := range map[string]bool{"# none\n\n": true, "short\n": true, "# ops\nlong-enough-token-123\n": false} {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadTokens(p); (err != nil) != wantErr {
			t.Errorf("%q: error %v, want error %v", content, err, wantErr)
		}
	}
}

func TestRequestsGiveUpOnEtcdAfterTheRequestTimeout(t *testing.T) {
	s := &Server{Store: store.New(testutil.Etcd(t), "/api"), Name: "t", Version: "test", RequestTimeout: time.Nanosecond}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	code, body := call(t, ts, http.MethodGet, "/v1/jobs", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "etcd did not answer in time") {
		t.Fatalf("%d %s", code, body)
	}
}
