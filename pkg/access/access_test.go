package access

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// fakeStore holds tokens, policies and allocations in memory: the gate's
// logic without etcd (the APIs' tests run it on etcd).
type fakeStore struct {
	mu       sync.Mutex
	tokens   map[string]*api.ACLToken // by secret hash
	policies map[string]*api.ACLPolicy
	allocs   map[string]*api.Allocation
	lookups  int
}

func (f *fakeStore) ACLTokenBySecretHash(_ context.Context, hash string) (*api.ACLToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if t, ok := f.tokens[hash]; ok {
		return t, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) GetACLPolicy(_ context.Context, name string) (*api.ACLPolicy, error) {
	if p, ok := f.policies[name]; ok {
		return p, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) GetACLRole(context.Context, string) (*api.ACLRole, error) {
	return nil, store.ErrNotFound
}

func (f *fakeStore) GetAlloc(_ context.Context, id string) (*api.Allocation, error) {
	if a, ok := f.allocs[id]; ok {
		return a, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) GetDeployment(context.Context, string) (*api.Deployment, int64, error) {
	return nil, 0, store.ErrNotFound
}

func newFake() *fakeStore {
	f := &fakeStore{tokens: map[string]*api.ACLToken{}, policies: map[string]*api.ACLPolicy{}, allocs: map[string]*api.Allocation{}}
	f.policies["team-a"] = &api.ACLPolicy{Name: "team-a", Rules: `
namespace "team-a" {
  policy = "write"
  variables {
    path "app/*" { capabilities = ["read", "list"] }
  }
}`}
	f.tokens[api.HashSecret("team-a-secret")] = &api.ACLToken{AccessorID: "a1", Type: api.TokenClient, Policies: []string{"team-a"}}
	f.tokens[api.HashSecret("mgmt-secret")] = &api.ACLToken{AccessorID: "m1", Type: api.TokenManagement}
	f.allocs["alloc-a"] = &api.Allocation{ID: "alloc-a", Namespace: "team-a"}
	f.allocs["alloc-d"] = &api.Allocation{ID: "alloc-d", Namespace: "default"}
	return f
}

var testRules = map[string]Rule{
	"GET /items":            NSResult(acl.CapReadJob),
	"GET /item/{id}":        NSResult(acl.CapReadJob),
	"POST /alloc/{id}/stop": NSAlloc(acl.CapAllocLifecycle, "id"),
	"PUT /jobs":             NSBody(acl.CapSubmitJob),
	"GET /vars":             Var(acl.VarList),
	"GET /var/{path...}":    Var(acl.VarRead),
	"GET /namespaces":       Namespaces(),
	"GET /self":             AnyToken(),
	"GET /health":           Open(),
	"GET /nodes":            NodeRead(),
	"DELETE /keyring":       Management(),
}

func newGated(t *testing.T, f *fakeStore, limit *Limiter) *httptest.Server {
	m := NewMux(testRules)
	items := `[{"namespace": "team-a", "id": "1"}, {"namespace": "default", "id": "2"}, {"id": "3"}]`
	m.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, items) })
	m.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) {
		ns := map[string]string{"a": "team-a", "d": "default"}[r.PathValue("id")]
		io.WriteString(w, `{"Namespace": "`+ns+`", "ID": "`+r.PathValue("id")+`"}`)
	})
	ok := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, `{"ok": true, "body": `+jsonString(string(b))+`}`)
	}
	m.HandleFunc("POST /alloc/{id}/stop", ok)
	m.HandleFunc("PUT /jobs", ok)
	m.HandleFunc("GET /vars", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"Namespace": "team-a", "Path": "app/web"}, {"Namespace": "team-a", "Path": "secret/db"}, {"Namespace": "default", "Path": "app/x"}]`)
	})
	m.HandleFunc("GET /var/{path...}", ok)
	m.HandleFunc("GET /namespaces", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"Name": "default"}, {"Name": "team-a"}]`)
	})
	m.HandleFunc("GET /self", ok)
	m.HandleFunc("GET /health", ok)
	m.HandleFunc("GET /nodes", ok)
	m.HandleFunc("DELETE /keyring", ok)
	g := &Gate{ACL: &Resolver{Store: f, Static: []string{"static-token-0123456789"}}, Objects: f, Limit: limit, MaxBody: 1024}
	ts := httptest.NewServer(m.Serve(g, func(w http.ResponseWriter, code int, msg string) {
		w.WriteHeader(code)
		io.WriteString(w, msg)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func do(t *testing.T, ts *httptest.Server, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheGateAppliesEachRouteRule(t *testing.T) {
	ts := newGated(t, newFake(), nil)
	const team, mgmt = "team-a-secret", "mgmt-secret"
	jwt := "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"
	cases := []struct {
		name, token, method, path, body string
		code                            int
		want                            string
	}{
		{"a list keeps only the token's namespaces", team, "GET", "/items", "", 200, `[{"namespace": "team-a", "id": "1"}]`},
		{"management sees the whole list", mgmt, "GET", "/items", "", 200, `"id": "3"`},
		{"a list of a namespace the token lacks is refused", team, "GET", "/items?namespace=default", "", 403, "Permission denied: token lacks capability read-job on namespace default"},
		{"a list is refused to a token that may read no namespace", "", "GET", "/items", "", 403, "capability read-job on any namespace (the request carries no token)"},
		{"an object of the token's namespace is served", team, "GET", "/item/a", "", 200, `"ID": "a"`},
		{"an object of another namespace is refused", team, "GET", "/item/d", "", 403, "read-job on namespace default"},
		{"an allocation's namespace is looked up", team, "POST", "/alloc/alloc-a/stop", "", 200, `"ok": true`},
		{"an allocation of another namespace is refused", team, "POST", "/alloc/alloc-d/stop", "", 403, "alloc-lifecycle on namespace default"},
		{"an unknown allocation is the handler's to answer", team, "POST", "/alloc/nope/stop", "", 200, `"ok": true`},
		{"a job's namespace is read from the body", team, "PUT", "/jobs", `{"job": {"namespace": "team-a"}}`, 200, `team-a`},
		{"a Nomad job's namespace is read from the body", team, "PUT", "/jobs", `{"Job": {"Namespace": "team-a"}}`, 200, `team-a`},
		{"a body's other namespace is refused", team, "PUT", "/jobs", `{"job": {"namespace": "default"}}`, 403, "submit-job on namespace default"},
		{"a body without a namespace is the query's", team, "PUT", "/jobs?namespace=team-a", `{"job": {}}`, 200, `"ok": true`},
		{"a body without a namespace defaults", team, "PUT", "/jobs", `{"job": {}}`, 403, "namespace default"},
		{"a body over the limit is 413", team, "PUT", "/jobs", strings.Repeat("x", 2000), 413, "request body too large"},
		{"a variable path the token may read", team, "GET", "/var/app/web?namespace=team-a", "", 200, `"ok": true`},
		{"a variable path the token may not read", team, "GET", "/var/secret/db?namespace=team-a", "", 403, `variable capability read on path "secret/db" in namespace team-a`},
		{"a variable list is filtered by path", team, "GET", "/vars?namespace=team-a", "", 200, `[{"Namespace": "team-a", "Path": "app/web"}]`},
		{"a workload identity reaches the variable handler", jwt, "GET", "/var/secret/db", "", 200, `"ok": true`},
		{"a workload identity elsewhere is an unknown token", jwt, "GET", "/nodes", "", 403, "ACL token not found"},
		{"namespaces are filtered to the token's", team, "GET", "/namespaces", "", 200, `[{"Name": "team-a"}]`},
		{"a token's own route needs a token", "", "GET", "/self", "", 403, "an ACL token"},
		{"a token's own route takes any token", team, "GET", "/self", "", 200, `"ok": true`},
		{"open routes need no token", "", "GET", "/health", "", 200, `"ok": true`},
		{"a coarse rule", team, "GET", "/nodes", "", 403, "Permission denied: token lacks node:read"},
		{"a management rule", team, "DELETE", "/keyring", "", 403, "management"},
		{"a token file's token is management", "static-token-0123456789", "DELETE", "/keyring", "", 200, `"ok": true`},
		{"an unknown token", "who-knows", "GET", "/nodes", "", 403, "ACL token not found"},
		{"an anonymous request to a coarse rule", "", "GET", "/nodes", "", 403, "node:read (the request carries no token)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, ts, c.token, c.method, c.path, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("%d %s, want %d with %q", code, body, c.code, c.want)
			}
		})
	}
	req, _ := http.NewRequest("GET", ts.URL+"/nodes", nil)
	req.Header.Set("Authorization", "Basic abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a Basic Authorization header: %d", resp.StatusCode)
	}
}

func TestTheResolverCachesBrieflyAndSeesExpiry(t *testing.T) {
	f := newFake()
	now := time.Now()
	exp := now.Add(time.Minute)
	f.tokens[api.HashSecret("short")] = &api.ACLToken{AccessorID: "s", Type: api.TokenManagement, ExpirationTime: &exp}
	r := &Resolver{Store: f, Now: func() time.Time { return now }, TTL: time.Second}
	ctx := context.Background()
	for range 5 {
		if _, err := r.Resolve(ctx, "short"); err != nil {
			t.Fatal(err)
		}
	}
	if f.lookups != 1 {
		t.Fatalf("%d lookups for 5 requests within the cache's TTL", f.lookups)
	}
	now = now.Add(2 * time.Minute)
	if _, err := r.Resolve(ctx, "short"); err != ErrTokenExpired {
		t.Fatalf("an expired token: %v", err)
	}
	f.mu.Lock()
	delete(f.tokens, api.HashSecret("short"))
	f.mu.Unlock()
	now = now.Add(2 * time.Second)
	if _, err := r.Resolve(ctx, "short"); err != ErrTokenNotFound {
		t.Fatalf("a deleted token after the TTL: %v", err)
	}
	id, err := r.Resolve(ctx, "")
	if err != nil || !id.Anonymous || id.ACL.AllowNamespaceOp("default", acl.CapListJobs) {
		t.Fatalf("anonymous without an anonymous policy: %+v, %v", id, err)
	}
	f.policies[api.AnonymousPolicy] = &api.ACLPolicy{Name: api.AnonymousPolicy, Rules: `namespace "default" { policy = "read" }`}
	r.Forget()
	if id, _ := r.Resolve(ctx, ""); !id.ACL.AllowNamespaceOp("default", acl.CapListJobs) {
		t.Fatal("the anonymous policy is not applied")
	}
}

func TestTheLimiterAnswers429PastTheBurst(t *testing.T) {
	ts := newGated(t, newFake(), NewLimiter(0.001, 2))
	codes := []int{}
	for range 3 {
		code, _ := do(t, ts, "team-a-secret", "GET", "/items", "")
		codes = append(codes, code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("codes %v, want 200 200 429", codes)
	}
	if code, _ := do(t, ts, "mgmt-secret", "GET", "/items", ""); code != 200 {
		t.Fatalf("another token is limited by the first's bucket: %d", code)
	}
	for range 3 {
		if code, _ := do(t, ts, "", "GET", "/health", ""); code != 200 {
			t.Fatalf("the health check is limited: %d", code)
		}
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"100/s", 100, true}, {"100", 100, true}, {"6000/m", 100, true}, {"3600/h", 1, true}, {"0", 0, true},
		{"fast", 0, false}, {"-1/s", 0, false}, {"10/d", 0, false},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestARouteWithoutARulePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering a route without a rule did not panic")
		}
	}()
	NewMux(testRules).HandleFunc("GET /unguarded", func(http.ResponseWriter, *http.Request) {})
}

func TestAWebSocketsTokenComesAsASubprotocol(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/v1/client/allocation/x/exec", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Protocol", "nomadic.exec, "+TokenProtocol+"czNjcmV0LXRva2Vu")
	if got, err := Secret(req); err != nil || got != "s3cret-token" {
		t.Fatalf("the token: %q %v", got, err)
	}
	WithoutTokenProtocol(req.Header)
	if got := req.Header.Get("Sec-WebSocket-Protocol"); got != "nomadic.exec" {
		t.Fatalf("forwarded protocols: %q", got)
	}
	// Not a websocket: the subprotocol header means nothing.
	plain := httptest.NewRequest(http.MethodGet, "/v1/jobs", nil)
	plain.Header.Set("Sec-WebSocket-Protocol", TokenProtocol+"czNjcmV0LXRva2Vu")
	if got, _ := Secret(plain); got != "" {
		t.Fatalf("a plain request's token: %q", got)
	}
	bad := req.Clone(req.Context())
	bad.Header.Set("Sec-WebSocket-Protocol", TokenProtocol+"not*base64")
	if _, err := Secret(bad); err == nil {
		t.Fatal("a malformed token protocol was taken")
	}
	// A header token wins.
	req.Header.Set("X-Nomad-Token", "from-header")
	req.Header.Set("Sec-WebSocket-Protocol", TokenProtocol+"czNjcmV0LXRva2Vu")
	if got, _ := Secret(req); got != "from-header" {
		t.Fatalf("with a header too: %q", got)
	}
}
