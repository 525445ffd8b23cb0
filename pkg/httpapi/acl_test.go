package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// clock is a test's settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newACLServer(t *testing.T, limit *access.Limiter) (*httptest.Server, *clock) {
	st := store.New(testutil.Etcd(t), "/acl")
	c := &clock{t: time.Now()}
	res := &access.Resolver{Store: st, Now: c.now, TTL: time.Nanosecond}
	s := &Server{Store: st, Name: "t", Version: "test", Now: c.now,
		Gate: &access.Gate{ACL: res, Limit: limit, Objects: st},
		ACL:  &access.Service{Store: st, Resolver: res, Now: c.now}}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, c
}

func callAs(t *testing.T, ts *httptest.Server, token, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Nomad-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func mustCall(t *testing.T, ts *httptest.Server, token, method, path, body string, out any) {
	t.Helper()
	code, b, _ := callAs(t, ts, token, method, path, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func jobBody(ns, id string) string {
	return `{"job": {"id": "` + id + `", "namespace": "` + ns + `", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}}`
}

func TestACLsGuardTheNativeAPI(t *testing.T) {
	ts, clk := newACLServer(t, nil)
	if code, b, _ := callAs(t, ts, "", "GET", "/v1/jobs", ""); code != 403 || !strings.Contains(b, "Permission denied") {
		t.Fatalf("anonymous list: %d %s", code, b)
	}
	if code, _, _ := callAs(t, ts, "", "GET", "/v1/agent/health", ""); code == 403 {
		t.Fatal("the health check needs a token")
	}
	var boot api.ACLToken
	mustCall(t, ts, "", "POST", "/v1/acl/bootstrap", "", &boot)
	if boot.SecretID == "" || boot.Type != api.TokenManagement {
		t.Fatalf("bootstrap: %+v", boot)
	}
	if code, b, _ := callAs(t, ts, "", "POST", "/v1/acl/bootstrap", ""); code != 400 || !strings.Contains(b, "already done") {
		t.Fatalf("second bootstrap: %d %s", code, b)
	}
	mgmt := boot.SecretID
	mustCall(t, ts, mgmt, "PUT", "/v1/jobs", jobBody("default", "web"), nil)
	mustCall(t, ts, mgmt, "PUT", "/v1/jobs", jobBody("team-a", "api"), nil)

	if code, b, _ := callAs(t, ts, mgmt, "PUT", "/v1/acl/policy/ro", `{"rules": "namespace \"default\" {\n  policy = \"bogus\"\n}"}`); code != 400 || !strings.Contains(b, "ro:2:12") {
		t.Fatalf("a bad policy: %d %s", code, b)
	}
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/policy/ro", `{"rules": "namespace \"*\" { policy = \"read\" }\nnode { policy = \"read\" }"}`, nil)
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/policy/team-a", `{"rules": "namespace \"team-a\" { policy = \"write\" }"}`, nil)
	var ro, teamA, short api.ACLToken
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/token", `{"name": "ro", "type": "client", "policies": ["ro"]}`, &ro)
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/token", `{"name": "a", "policies": ["team-a"]}`, &teamA)
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/token", `{"name": "short", "policies": ["ro"], "expiration_ttl": "1m"}`, &short)
	if code, b, _ := callAs(t, ts, mgmt, "PUT", "/v1/acl/token", `{"policies": ["nope"]}`); code != 400 || !strings.Contains(b, `no ACL policy named`) {
		t.Fatalf("a token of a missing policy: %d %s", code, b)
	}

	var jobs []map[string]any
	mustCall(t, ts, ro.SecretID, "GET", "/v1/jobs", "", &jobs)
	if len(jobs) != 2 {
		t.Fatalf("the read-only token sees %d jobs, want 2", len(jobs))
	}
	code, b, _ := callAs(t, ts, ro.SecretID, "PUT", "/v1/jobs", jobBody("default", "web2"))
	if code != 403 || !strings.Contains(b, `Permission denied: token lacks capability submit-job on namespace default`) {
		t.Fatalf("read-only apply: %d %s", code, b)
	}
	mustCall(t, ts, teamA.SecretID, "GET", "/v1/jobs", "", &jobs)
	if len(jobs) != 1 || jobs[0]["namespace"] != "team-a" {
		t.Fatalf("the team-a token sees %v", jobs)
	}
	if code, b, _ := callAs(t, ts, teamA.SecretID, "GET", "/v1/job/web", ""); code != 403 || !strings.Contains(b, "read-job on namespace default") {
		t.Fatalf("team-a reading default: %d %s", code, b)
	}
	mustCall(t, ts, teamA.SecretID, "PUT", "/v1/jobs", jobBody("team-a", "api2"), nil)
	if code, b, _ := callAs(t, ts, teamA.SecretID, "PUT", "/v1/jobs", jobBody("default", "sneaky")); code != 403 {
		t.Fatalf("team-a submitting to default: %d %s", code, b)
	}
	if code, b, _ := callAs(t, ts, teamA.SecretID, "GET", "/v1/nodes", ""); code != 403 || !strings.Contains(b, "node:read") {
		t.Fatalf("team-a listing nodes: %d %s", code, b)
	}
	if code, _, _ := callAs(t, ts, ro.SecretID, "GET", "/v1/acl/tokens", ""); code != 403 {
		t.Fatalf("a client token lists tokens: %d", code)
	}
	mustCall(t, ts, ro.SecretID, "GET", "/v1/acl/policy/ro", "", nil)
	if code, _, _ := callAs(t, ts, ro.SecretID, "GET", "/v1/acl/policy/team-a", ""); code != 403 {
		t.Fatalf("a client token reads a policy it does not hold: %d", code)
	}
	mustCall(t, ts, ro.SecretID, "GET", "/v1/acl/token/"+ro.AccessorID, "", nil)
	if code, _, _ := callAs(t, ts, ro.SecretID, "GET", "/v1/acl/token/"+teamA.AccessorID, ""); code != 403 {
		t.Fatalf("a client token reads another token: %d", code)
	}
	var self api.ACLToken
	mustCall(t, ts, ro.SecretID, "GET", "/v1/acl/token/self", "", &self)
	if self.AccessorID != ro.AccessorID || self.Name != "ro" {
		t.Fatalf("self: %+v", self)
	}
	var listed []api.ACLToken
	mustCall(t, ts, mgmt, "GET", "/v1/acl/tokens", "", &listed)
	for _, tk := range listed {
		if tk.SecretID != "" || tk.SecretHash != "" {
			t.Fatalf("the token list shows a secret: %+v", tk)
		}
	}
	if len(listed) != 4 {
		t.Fatalf("%d tokens listed, want 4", len(listed))
	}

	// A role: a token linked by the role's name gets its policies until
	// the role is deleted.
	var role api.ACLRole
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/role", `{"name": "readers", "policies": ["ro"]}`, &role)
	if code, b, _ := callAs(t, ts, mgmt, "PUT", "/v1/acl/role", `{"name": "readers", "policies": ["ro"]}`); code != 409 {
		t.Fatalf("a second role of the same name: %d %s", code, b)
	}
	var byRole api.ACLToken
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/token", `{"name": "by-role", "roles": [{"name": "readers"}]}`, &byRole)
	if len(byRole.Roles) != 1 || byRole.Roles[0].ID != role.ID {
		t.Fatalf("the token's role link: %+v", byRole.Roles)
	}
	mustCall(t, ts, byRole.SecretID, "GET", "/v1/nodes", "", nil)
	mustCall(t, ts, byRole.SecretID, "GET", "/v1/acl/role/name/readers", "", nil)
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/role/"+role.ID, `{"name": "readers", "policies": ["team-a"]}`, nil)
	if code, _, _ := callAs(t, ts, byRole.SecretID, "GET", "/v1/nodes", ""); code != 403 {
		t.Fatalf("a role changed to team-a still reads nodes: %d", code)
	}
	mustCall(t, ts, byRole.SecretID, "GET", "/v1/jobs?namespace=team-a", "", nil)
	mustCall(t, ts, mgmt, "DELETE", "/v1/acl/role/"+role.ID, "", nil)
	if code, _, _ := callAs(t, ts, byRole.SecretID, "GET", "/v1/jobs?namespace=team-a", ""); code != 403 {
		t.Fatalf("a token of a deleted role: %d", code)
	}

	mustCall(t, ts, short.SecretID, "GET", "/v1/jobs", "", nil)
	clk.add(2 * time.Minute)
	if code, b, _ := callAs(t, ts, short.SecretID, "GET", "/v1/jobs", ""); code != 403 || !strings.Contains(b, "ACL token expired") {
		t.Fatalf("an expired token: %d %s", code, b)
	}
	if code, b, _ := callAs(t, ts, "not-a-token-at-all", "GET", "/v1/jobs", ""); code != 403 || !strings.Contains(b, "ACL token not found") {
		t.Fatalf("an unknown token: %d %s", code, b)
	}

	mustCall(t, ts, mgmt, "DELETE", "/v1/acl/token/"+ro.AccessorID, "", nil)
	if code, _, _ := callAs(t, ts, ro.SecretID, "GET", "/v1/jobs", ""); code != 403 {
		t.Fatalf("a deleted token: %d", code)
	}
	// An anonymous policy lets requests without a token read.
	mustCall(t, ts, mgmt, "PUT", "/v1/acl/policy/anonymous", `{"rules": "namespace \"default\" { policy = \"read\" }"}`, nil)
	mustCall(t, ts, "", "GET", "/v1/jobs", "", &jobs)
	if len(jobs) != 1 || jobs[0]["id"] != "web" {
		t.Fatalf("anonymous sees %v", jobs)
	}
}

func TestTheRateLimitAnswers429WithRetryAfter(t *testing.T) {
	ts, _ := newACLServer(t, access.NewLimiter(1, 3))
	var boot api.ACLToken
	mustCall(t, ts, "", "POST", "/v1/acl/bootstrap", "", &boot)
	got429 := false
	for i := 0; i < 10 && !got429; i++ {
		code, b, h := callAs(t, ts, boot.SecretID, "GET", "/v1/jobs", "")
		if code == http.StatusTooManyRequests {
			got429 = true
			if h.Get("Retry-After") == "" || !strings.Contains(b, `"error"`) {
				t.Fatalf("429 without Retry-After or JSON error: %v %s", h, b)
			}
		}
	}
	if !got429 {
		t.Fatal("10 requests at once under a limit of 3 were all served")
	}
	if code, _, _ := callAs(t, ts, "", "GET", "/v1/agent/health", ""); code == http.StatusTooManyRequests {
		t.Fatal("the health check is rate limited")
	}
}

func TestTheACLEndpointsSayWhenACLsAreOff(t *testing.T) {
	ts := newTestServer(t)
	if code, b := call(t, ts, "POST", "/v1/acl/bootstrap", ""); code != 400 || !strings.Contains(b, "ACL support disabled") {
		t.Fatalf("bootstrap without -acl: %d %s", code, b)
	}
}

func TestABodyOverTheLimitIsRefusedBeforeItIsRead(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("PUT", ts.URL+"/v1/var/x", strings.NewReader(strings.Repeat("x", 2<<20)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "request body too large") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
