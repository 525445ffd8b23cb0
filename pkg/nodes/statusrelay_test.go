package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// relayServer serves a status relay over HTTP, its writers running.
func relayServer(t *testing.T, r *StatusRelay) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	mux := http.NewServeMux()
	mux.Handle("PUT "+RelayPath, r)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}

// relayPut sends a raw relay request; it returns the code and the JSON
// error, if any.
func relayPut(t *testing.T, base, node, password string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, base+strings.Replace(RelayPath, "{node}", node, 1), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth("node", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	var e api.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		t.Fatalf("%d answer is not a JSON error: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, e.Error
}

func statusBody(t *testing.T, statuses map[string]*api.AllocStatus) []byte {
	t.Helper()
	b, err := json.Marshal(api.StatusRelayRequest{Statuses: statuses})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readStatus(t *testing.T, cli *clientv3.Client, key string) (*api.AllocStatus, int64) {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0
	}
	var st api.AllocStatus
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		t.Fatal(err)
	}
	return &st, resp.Kvs[0].ModRevision
}

func TestStatusRelayWritesOnlyWhatANodeMayWriteItself(t *testing.T) {
	root, _ := authEtcd(t)
	ctx := context.Background()
	users := store.NewNodeUsers(root, "/r")
	n1, err := users.Join(ctx, "n1", "")
	if err != nil {
		t.Fatal(err)
	}
	keys := store.NewKeys("/r")
	st := store.New(root, "/r")
	base := relayServer(t, &StatusRelay{Store: st})

	// The node's own password writes its statuses, through the client
	// the agents use.
	rc := &RelayClient{Addrs: func(context.Context) []string { return []string{"127.0.0.1:1", base} }, Password: n1.Password}
	running := map[string]*api.AllocStatus{"a1": {ClientStatus: api.AllocClientRunning}, "a2": {ClientStatus: api.AllocClientPending}}
	if err := rc.PutAllocStatuses(ctx, "n1", running); err != nil {
		t.Fatalf("relaying through the second server after the first failed: %v", err)
	}
	for id, want := range running {
		got, _ := readStatus(t, root, keys.AllocStatus("n1", id))
		if got == nil || got.ClientStatus != want.ClientStatus {
			t.Fatalf("%s: %+v in etcd, want %s", id, got, want.ClientStatus)
		}
	}

	one := statusBody(t, map[string]*api.AllocStatus{"a3": {ClientStatus: api.AllocClientRunning}})
	for name, tc := range map[string]struct {
		node, password string
		body           []byte
		code           int
	}{
		"a wrong password":                          {"n1", "guess", one, http.StatusForbidden},
		"no password for a node that joined":        {"n1", "", one, http.StatusForbidden},
		"another node's password":                   {"n2", n1.Password, one, http.StatusForbidden},
		"no password on a server that needs tokens": {"n2", "", one, http.StatusForbidden},
		"a node id that is not one":                 {"n1.x", n1.Password, one, http.StatusBadRequest},
		"an allocation id with a slash":             {"n1", n1.Password, []byte(`{"Statuses":{"../x":{"ClientStatus":"running"}}}`), http.StatusBadRequest},
		"an allocation without a status":            {"n1", n1.Password, []byte(`{"Statuses":{"a3":null}}`), http.StatusBadRequest},
		"a body that is not JSON":                   {"n1", n1.Password, []byte(`{`), http.StatusBadRequest},
		"a status larger than a request holds one":  {"n1", n1.Password, []byte(`{"statuses":{"a3":{"client_status":"running","description":"` + strings.Repeat("<", relayMaxStatusBytes) + `"}}}`), http.StatusRequestEntityTooLarge},
		"more statuses than a request holds": {"n1", n1.Password, statusBody(t, func() map[string]*api.AllocStatus {
			m := map[string]*api.AllocStatus{}
			for i := range relayMaxStatuses + 1 {
				m[fmt.Sprintf("b%d", i)] = &api.AllocStatus{ClientStatus: api.AllocClientRunning}
			}
			return m
		}()), http.StatusRequestEntityTooLarge},
		"a body larger than a request holds": {"n1", n1.Password, append([]byte(`{"Statuses":{"a3":{"ClientStatus":"`), bytes.Repeat([]byte("x"), relayMaxBytes)...), http.StatusRequestEntityTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			if code, msg := relayPut(t, base, tc.node, tc.password, tc.body); code != tc.code {
				t.Fatalf("got %d (%s), want %d", code, msg, tc.code)
			}
		})
	}
	resp, err := root.Get(ctx, keys.Kind(store.KindAllocStatus), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 2 {
		t.Fatalf("%d statuses in etcd after the refused requests, want the 2 written", resp.Count)
	}

	// A batch larger than a request holds goes in several.
	many := map[string]*api.AllocStatus{}
	for i := range relayMaxStatuses + 10 {
		many[fmt.Sprintf("c%d", i)] = &api.AllocStatus{ClientStatus: api.AllocClientRunning}
	}
	if err := rc.PutAllocStatuses(ctx, "n1", many); err != nil {
		t.Fatalf("relaying %d statuses: %v", len(many), err)
	}
	if got, _ := readStatus(t, root, keys.AllocStatus("n1", fmt.Sprintf("c%d", relayMaxStatuses+5))); got == nil {
		t.Fatal("the second request's statuses are not in etcd")
	}
	if (&RelayError{Code: http.StatusRequestEntityTooLarge}).Permanent() || !(&RelayError{Code: http.StatusForbidden}).Permanent() {
		t.Fatal("a batch too large is not a reason to stop relaying; a refusal is")
	}

	// A rotated password passes at once, also where the old hash is
	// cached; the old one no longer passes a server that reads the new
	// hash; a removed node's passes nowhere.
	n1b, err := users.Join(ctx, "n1", n1.Password)
	if err != nil {
		t.Fatal(err)
	}
	// The wrong passwords above made the server read the hash again
	// less than a second ago, the most it reads a node's.
	time.Sleep(1100 * time.Millisecond)
	if code, msg := relayPut(t, base, "n1", n1b.Password, one); code != http.StatusOK {
		t.Fatalf("the new password on a server that read the old hash: %d %s", code, msg)
	}
	fresh := relayServer(t, &StatusRelay{Store: st})
	if code, msg := relayPut(t, fresh, "n1", n1.Password, one); code != http.StatusForbidden {
		t.Fatalf("the password before rotation: %d %s", code, msg)
	}
	if code, msg := relayPut(t, fresh, "n1", n1b.Password, one); code != http.StatusOK {
		t.Fatalf("the password after rotation: %d %s", code, msg)
	}
	if err := users.Remove(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if h, err := st.NodeAuthHash(ctx, "n1"); h != "" || err != nil {
		t.Fatalf("the password hash after the node's removal: %q %v", h, err)
	}
	if code, msg := relayPut(t, relayServer(t, &StatusRelay{Store: st}), "n1", n1b.Password, one); code != http.StatusForbidden {
		t.Fatalf("a removed node's password: %d %s", code, msg)
	}
}

// A node that never joined (a dev agent, shared etcd credentials) relays
// without a password only to a server whose API is open.
func TestStatusRelayTakesNodesWithoutPasswordsOnlyWhenTheAPIIsOpen(t *testing.T) {
	root, _ := authEtcd(t)
	st := store.New(root, "/o")
	one := statusBody(t, map[string]*api.AllocStatus{"a1": {ClientStatus: api.AllocClientRunning}})
	if code, msg := relayPut(t, relayServer(t, &StatusRelay{Store: st}), "n1", "", one); code != http.StatusForbidden {
		t.Fatalf("closed API: %d %s", code, msg)
	}
	if code, msg := relayPut(t, relayServer(t, &StatusRelay{Store: st, Open: true}), "n1", "", one); code != http.StatusOK {
		t.Fatalf("open API: %d %s", code, msg)
	}
	if code, msg := relayPut(t, relayServer(t, &StatusRelay{Store: st, Open: true}), "n1", "made-up", one); code != http.StatusForbidden {
		t.Fatalf("a password for a node that has none: %d %s", code, msg)
	}
}

// The statuses of several nodes go to etcd in one transaction; a request
// whose agent gave up, or soon will, is not written after the agent's own
// write.
func TestStatusRelayWritesManyNodesInOneTransaction(t *testing.T) {
	root, _ := authEtcd(t)
	st := store.New(root, "/b")
	keys := store.NewKeys("/b")
	r := &StatusRelay{Store: st}
	r.init()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	mk := func(ctx context.Context, node, alloc string) *relayRequest {
		return &relayRequest{ctx: ctx, deadline: time.Now().Add(time.Minute), node: node, statuses: map[string]*api.AllocStatus{alloc: {ClientStatus: api.AllocClientRunning}}, done: make(chan error, 1)}
	}
	batch := []*relayRequest{
		mk(context.Background(), "n1", "a1"),
		mk(context.Background(), "n2", "a2"),
		mk(gone, "n3", "a3"),
		mk(context.Background(), "n4", "a4"),
	}
	batch[3].deadline = time.Now().Add(time.Second) // less than a transaction may take
	r.write(context.Background(), batch)
	for i, q := range batch {
		err := <-q.done
		if (i >= 2) != (err != nil) {
			t.Fatalf("request %d answered %v", i, err)
		}
	}
	_, rev1 := readStatus(t, root, keys.AllocStatus("n1", "a1"))
	_, rev2 := readStatus(t, root, keys.AllocStatus("n2", "a2"))
	if rev1 == 0 || rev1 != rev2 {
		t.Fatalf("revisions %d and %d: want one transaction", rev1, rev2)
	}
	if got, _ := readStatus(t, root, keys.AllocStatus("n3", "a3")); got != nil {
		t.Fatalf("the abandoned request was written: %+v", got)
	}
	if got, _ := readStatus(t, root, keys.AllocStatus("n4", "a4")); got != nil {
		t.Fatalf("a request queued for longer than its agent waits was written: %+v", got)
	}
}

// A node the server does not know costs no etcd read; a relay whose
// writers stopped answers at once.
func TestStatusRelayAnswersUnknownNodesAndAfterItStopped(t *testing.T) {
	root, _ := authEtcd(t)
	st := store.New(root, "/u")
	one := statusBody(t, map[string]*api.AllocStatus{"a1": {ClientStatus: api.AllocClientRunning}})
	known := func(node string) (bool, bool) { return node == "n1", true }
	base := relayServer(t, &StatusRelay{Store: st, Open: true, Known: known})
	if code, msg := relayPut(t, base, "made-up", "", one); code != http.StatusServiceUnavailable {
		t.Fatalf("an unknown node: %d %s", code, msg)
	}
	if code, msg := relayPut(t, base, "n1", "", one); code != http.StatusOK {
		t.Fatalf("a known node: %d %s", code, msg)
	}

	r := &StatusRelay{Store: st, Open: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	cancel()
	<-done
	req := httptest.NewRequest(http.MethodPut, "/v1/node/n1/allocation-statuses", bytes.NewReader(one))
	req.SetPathValue("node", "n1")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a stopped relay: %d %s", rec.Code, rec.Body)
	}
}
