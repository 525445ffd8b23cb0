package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyringtest"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// newVarsServer serves the API with a keyring over a fresh etcd; it
// returns the raw etcd client too, for reading what is stored.
func newVarsServer(t *testing.T) (*httptest.Server, *variables.Service, *clientv3.Client) {
	t.Helper()
	cli := testutil.Etcd(t)
	st := store.New(cli, "/api")
	kr := keyringtest.Running(t, st)
	vs := &variables.Service{Store: st, Keyring: kr}
	ts := httptest.NewServer((&Server{Store: st, Name: "t", Version: "test", Vars: vs}).Handler())
	t.Cleanup(ts.Close)
	return ts, vs, cli
}

func TestVariablesAreStoredEncryptedAndReadBack(t *testing.T) {
	ts, _, cli := newVarsServer(t)
	code, body := call(t, ts, "PUT", "/v1/var/nomad/jobs/web", `{"items": {"password": "hunter2-very-secret"}}`)
	if code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	resp, err := cli.Get(context.Background(), "/api/variables/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw read: %v, %d keys", err, len(resp.Kvs))
	}
	if raw := string(resp.Kvs[0].Value); strings.Contains(raw, "hunter2") || strings.Contains(raw, "password") {
		t.Fatalf("the value is readable in etcd: %s", raw)
	}
	code, body = call(t, ts, "GET", "/v1/var/nomad/jobs/web", "")
	var v api.Variable
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Items["password"] != "hunter2-very-secret" {
		t.Fatalf("get: %d %s", code, body)
	}
	code, body = call(t, ts, "GET", "/v1/vars?prefix=nomad/", "")
	if code != 200 || !strings.Contains(body, `"nomad/jobs/web"`) || strings.Contains(body, "hunter2") {
		t.Fatalf("list: %d %s", code, body)
	}
}

func TestCheckAndSetConflictsAnswer409WithTheCurrentVariable(t *testing.T) {
	ts, _, _ := newVarsServer(t)
	if code, body := call(t, ts, "PUT", "/v1/var/a?cas=0", `{"items": {"k": "1"}}`); code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	code, body := call(t, ts, "PUT", "/v1/var/a?cas=0", `{"items": {"k": "2"}}`)
	var c VariableConflict
	if code != 409 || json.Unmarshal([]byte(body), &c) != nil || c.Variable == nil || c.Variable.Items["k"] != "1" {
		t.Fatalf("second create: %d %s", code, body)
	}
	idx := c.Variable.ModifyIndex
	if code, body := call(t, ts, "PUT", "/v1/var/a?cas=1", `{"items": {"k": "3"}}`); code != 409 {
		t.Fatalf("stale update: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/a?cas="+itoa(idx), `{"items": {"k": "3"}}`); code != 200 {
		t.Fatalf("current update: %d %s", code, body)
	}
	if code, body := call(t, ts, "DELETE", "/v1/var/a?cas="+itoa(idx), ""); code != 409 {
		t.Fatalf("stale delete: %d %s", code, body)
	}
	if code, body := call(t, ts, "DELETE", "/v1/var/a", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := call(t, ts, "GET", "/v1/var/a", ""); code != 404 {
		t.Fatalf("read after delete: %d", code)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestALockedVariableChangesOnlyForItsHolder(t *testing.T) {
	ts, _, _ := newVarsServer(t)
	code, body := call(t, ts, "PUT", "/v1/var/locks/leader?lock-acquire", `{"lock": {"ttl": "10s"}}`)
	var held api.Variable
	if code != 200 || json.Unmarshal([]byte(body), &held) != nil || held.Lock == nil || held.Lock.ID == "" {
		t.Fatalf("acquire: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader?lock-acquire", `{}`); code != 409 {
		t.Fatalf("second acquire: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader", `{"items": {"x": "1"}}`); code != 409 {
		t.Fatalf("write without the lock: %d %s", code, body)
	}
	withLock := `{"items": {"x": "1"}, "lock": {"id": "` + held.Lock.ID + `"}}`
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader", withLock); code != 200 {
		t.Fatalf("write with the lock: %d %s", code, body)
	}
	if code, body := call(t, ts, "GET", "/v1/var/locks/leader", ""); code != 200 || strings.Contains(body, held.Lock.ID) {
		t.Fatalf("a read shows the lock's ID: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader?lock-renew", `{"lock": {"id": "`+held.Lock.ID+`"}}`); code != 200 {
		t.Fatalf("renew: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader?lock-release", `{"lock": {"id": "wrong"}}`); code != 409 {
		t.Fatalf("release with a wrong ID: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader?lock-release", `{"lock": {"id": "`+held.Lock.ID+`"}}`); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	if code, body := call(t, ts, "PUT", "/v1/var/locks/leader", `{"items": {"x": "2"}}`); code != 200 {
		t.Fatalf("write after release: %d %s", code, body)
	}
}

func TestATaskIdentityReadsOnlyItsOwnJobsVariables(t *testing.T) {
	ts, vs, _ := newVarsServer(t)
	ctx := context.Background()
	alloc := &api.Allocation{ID: api.NewID(), Namespace: "default", JobID: "web", TaskGroup: "g", NodeID: "n1", DesiredStatus: api.AllocDesiredRun}
	if _, err := vs.Store.CommitPlan(ctx, &store.Commit{Allocs: []*api.Allocation{alloc}}); err != nil {
		t.Fatal(err)
	}
	tok, err := vs.Keyring.Sign(&variables.Claims{Namespace: "default", JobID: "web", Group: "g", Task: "t", AllocID: alloc.ID, NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"nomad/jobs/web", "nomad/jobs/db"} {
		if code, body := call(t, ts, "PUT", "/v1/var/"+p, `{"items": {"k": "`+p+`"}}`); code != 200 {
			t.Fatalf("put %s: %d %s", p, code, body)
		}
	}
	get := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader([]byte(body)))
		req.Header.Set("X-Nomad-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := get("GET", "/v1/var/nomad/jobs/web", ""); code != 200 || !strings.Contains(body, "nomad/jobs/web") {
		t.Fatalf("own variable: %d %s", code, body)
	}
	if code, body := get("GET", "/v1/var/nomad/jobs/db", ""); code != 403 {
		t.Fatalf("another job's variable: %d %s", code, body)
	}
	if code, body := get("GET", "/v1/vars", ""); code != 200 || strings.Contains(body, "nomad/jobs/db") || !strings.Contains(body, "nomad/jobs/web") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := get("PUT", "/v1/var/nomad/jobs/web", `{"items": {"k": "x"}}`); code != 403 {
		t.Fatalf("a write with an identity: %d %s", code, body)
	}
	forged := tok[:len(tok)-4] + "AAAA"
	req, _ := http.NewRequest("GET", ts.URL+"/v1/var/nomad/jobs/web", nil)
	req.Header.Set("X-Nomad-Token", forged)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a forged identity: %d", resp.StatusCode)
	}
}

func TestARotationReencryptsEveryVariableInTheBackground(t *testing.T) {
	ts, vs, _ := newVarsServer(t)
	for _, p := range []string{"a", "b/c", "d"} {
		if code, body := call(t, ts, "PUT", "/v1/var/"+p, `{"items": {"k": "`+p+`"}}`); code != 200 {
			t.Fatalf("put: %d %s", code, body)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		vs.RunRekey(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	code, body := call(t, ts, "PUT", "/v1/operator/keyring/rotate", "")
	var k api.RootKeyMeta
	if code != 200 || json.Unmarshal([]byte(body), &k) != nil {
		t.Fatalf("rotate: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		_, body := call(t, ts, "GET", "/v1/operator/keyring/keys", "")
		var keys []api.RootKeyMeta
		_ = json.Unmarshal([]byte(body), &keys)
		return len(keys) == 2 && keys[1].ID == k.ID && keys[1].Variables == 3 && keys[0].Variables == 0, body
	})
	if code, body := call(t, ts, "GET", "/v1/var/b/c", ""); code != 200 || !strings.Contains(body, `"k": "b/c"`) {
		t.Fatalf("read after rotation: %d %s", code, body)
	}
}

func TestVariableRequestsWithoutAKeyringAnswer501(t *testing.T) {
	ts := newTestServer(t)
	if code, body := call(t, ts, "GET", "/v1/var/x", ""); code != 501 || !strings.Contains(body, "-keyring-file") {
		t.Fatalf("%d %s", code, body)
	}
}
