package nodes

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// authEtcd is an embedded etcd with authentication on; it returns a root
// client and the endpoint.
func authEtcd(t *testing.T) (*clientv3.Client, string) {
	cli, endpoint := testutil.EtcdWithEndpoint(t)
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return connect(t, endpoint, "root", "rootpw"), endpoint
}

func connect(t *testing.T, endpoint, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
		Username: user, Password: password, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func newCA(t *testing.T) *CA {
	t.Helper()
	certPEM, keyPEM, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func post(t *testing.T, h http.Handler, method string, body any) (int, *api.NodeJoinResponse, string) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	req := httptest.NewRequest(method, "/v1/node/join", bytes.NewReader(b))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var e api.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%d answer is not a JSON error: %q", rec.Code, rec.Body.String())
		}
		return rec.Code, nil, e.Error
	}
	var out api.NodeJoinResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return rec.Code, &out, ""
}

func TestJoinGivesANodeItsOwnEtcdUserAndRotatesItOnlyWithTheCurrentPassword(t *testing.T) {
	root, endpoint := authEtcd(t)
	users := store.NewNodeUsers(root, "/j")
	j := &Joiner{Users: users, Tokens: []string{"other", "tok"}, CA: newCA(t)}

	for name, tc := range map[string]struct {
		method string
		body   any
		code   int
	}{
		"a GET is not allowed":        {http.MethodGet, "", http.StatusMethodNotAllowed},
		"a body that is not JSON":     {http.MethodPost, "{", http.StatusBadRequest},
		"a wrong token is forbidden":  {http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "guess"}, http.StatusForbidden},
		"no token is forbidden":       {http.MethodPost, api.NodeJoinRequest{NodeID: "n1"}, http.StatusForbidden},
		"a node id with a slash":      {http.MethodPost, api.NodeJoinRequest{NodeID: "n1/../x", Token: "tok"}, http.StatusBadRequest},
		"a node id that is too long":  {http.MethodPost, api.NodeJoinRequest{NodeID: strings.Repeat("a", 65), Token: "tok"}, http.StatusBadRequest},
		"too many hosts for the cert": {http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok", Hosts: make([]string, 17)}, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, _ := post(t, j, tc.method, tc.body); code != tc.code {
				t.Fatalf("got %d, want %d", code, tc.code)
			}
		})
	}

	code, first, _ := post(t, j, http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok", Hosts: []string{"127.0.0.1"}})
	if code != http.StatusOK || first.EtcdUsername != "j.node.n1" || len(first.EtcdPassword) < 40 || first.Cert == "" || first.CACert == "" {
		t.Fatalf("join: %d %+v", code, first)
	}
	ctx := context.Background()
	node := connect(t, endpoint, first.EtcdUsername, first.EtcdPassword)
	keys := store.NewKeys("/j")
	if _, err := node.Put(ctx, keys.Heartbeat("n1"), ""); err != nil {
		t.Fatalf("node writing its heartbeat: %v", err)
	}
	if _, err := node.Put(ctx, keys.Heartbeat("n2"), ""); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("node writing another's heartbeat: %v", err)
	}

	// The join token alone does not take over a node that joined.
	for _, pw := range []string{"", "wrong"} {
		if code, _, msg := post(t, j, http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok", Password: pw}); code != http.StatusConflict {
			t.Fatalf("rejoin with password %q: %d %s", pw, code, msg)
		}
	}
	code, second, _ := post(t, j, http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok", Password: first.EtcdPassword})
	if code != http.StatusOK || second.EtcdPassword == first.EtcdPassword {
		t.Fatalf("rotation: %d", code)
	}
	if _, err := root.Authenticate(ctx, first.EtcdUsername, first.EtcdPassword); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("the old password after rotation: %v", err)
	}
	if _, err := root.Authenticate(ctx, second.EtcdUsername, second.EtcdPassword); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	// Purging the node removes its user and role.
	st := store.New(root, "/j")
	st.UseNodeUsers(users)
	if _, err := root.Delete(ctx, keys.Heartbeat("n1")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "n1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PurgeNode(ctx, "n1", store.Guard{}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := users.Exists(ctx, "n1"); ok || err != nil {
		t.Fatalf("user after purge: %v %v", ok, err)
	}
	if _, err := root.RoleGet(ctx, "j.node.n1"); !errors.Is(err, rpctypes.ErrRoleNotFound) {
		t.Fatalf("role after purge: %v", err)
	}
}

func TestANodeAgentServesOnlyServersOfItsCA(t *testing.T) {
	ca := newCA(t)
	certPEM, keyPEM, err := ca.NodeCert("n1", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	agentTLS, err := AgentTLS(certPEM, keyPEM, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("logs")) }))
	srv.TLS = agentTLS
	srv.StartTLS()
	defer srv.Close()

	serverTLS, err := ca.ClientTLS("s1")
	if err != nil {
		t.Fatal(err)
	}
	other := newCA(t)
	foreign, err := other.ClientTLS("s1")
	if err != nil {
		t.Fatal(err)
	}
	foreign.RootCAs = ca.Pool()
	nodeCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg *tls.Config
		ok  bool
	}{
		"a server of the CA is served":              {serverTLS, true},
		"a server expecting node n1 gets it":        {ForNode(serverTLS, "n1"), true},
		"a server expecting node n2 is not fooled":  {ForNode(serverTLS, "n2"), false},
		"a caller without a certificate is refused": {&tls.Config{RootCAs: ca.Pool()}, false},
		"another CA's server is refused":            {foreign, false},
		"a node's certificate is refused":           {&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{nodeCert}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tc.cfg}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want served: %v", err, tc.ok)
			}
		})
	}
}

func TestJoinWorksOnAnEtcdWithoutAuthentication(t *testing.T) {
	cli, endpoint := testutil.EtcdWithEndpoint(t)
	j := &Joiner{Users: store.NewNodeUsers(cli, "/j"), Tokens: []string{"tok"}}
	code, creds, msg := post(t, j, http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok"})
	if code != http.StatusOK {
		t.Fatalf("join: %d %s", code, msg)
	}
	node := connect(t, endpoint, creds.EtcdUsername, creds.EtcdPassword)
	if _, err := node.Put(context.Background(), "/j/heartbeats/n1", ""); err != nil {
		t.Fatalf("a joined node on an etcd without authentication: %v", err)
	}
	// Rejoining still takes a password, though etcd cannot check it.
	if code, _, _ := post(t, j, http.MethodPost, api.NodeJoinRequest{NodeID: "n1", Token: "tok"}); code != http.StatusConflict {
		t.Fatalf("rejoin without a password: %d", code)
	}
}
