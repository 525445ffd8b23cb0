package nodes

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// What reaches the node of a browser's exec session: neither its token
// (in any form) nor its Origin, and the exec subprotocol it offered.
func TestTheNodeGetsNoTokenOfAnExecSession(t *testing.T) {
	var got http.Header
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer node.Close()
	u, _ := url.Parse(node.URL)
	proxy, err := ExecProxy(&api.Node{Name: "n", HTTPAddr: u.Host}, nil, "a1", "t", url.Values{"command": {`["sh"]`}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://server:4646/v1/client/allocation/a1/exec", nil)
	req.Header.Set("X-Nomad-Token", "secret-1")
	req.Header.Set("Authorization", "Bearer secret-2")
	req.Header.Set("Sec-WebSocket-Protocol", "nomadic.exec, "+access.TokenProtocol+"c2VjcmV0LTM")
	req.Header.Set("Origin", "http://server:4646")
	proxy.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil {
		t.Fatal("the node got nothing")
	}
	for k, vs := range got {
		for _, v := range vs {
			if strings.Contains(v, "secret") || strings.Contains(v, access.TokenProtocol) || k == "Origin" {
				t.Errorf("the node got %s: %s", k, v)
			}
		}
	}
	if p := got.Get("Sec-WebSocket-Protocol"); p != "nomadic.exec" {
		t.Errorf("protocols at the node: %q", p)
	}
}

func TestExecSessionsFromOtherSitesAreRefused(t *testing.T) {
	for origin, refused := range map[string]bool{
		"":                        false, // not a browser
		"http://server:4646":      false, // the server's own UI
		"HTTP://SERVER:4646":      false,
		"http://evil.example":     true,
		"http://server:4647":      true,
		"http://server:4646.evil": true,
		"null":                    true,
	} {
		req := httptest.NewRequest(http.MethodGet, "http://server:4646/v1/client/allocation/a1/exec", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if why := CrossOrigin(req); (why != "") != refused {
			t.Errorf("origin %q: %q", origin, why)
		}
	}
}
