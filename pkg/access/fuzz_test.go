package access

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// guardedTables puts every route of both APIs' tables behind the gate,
// each answering a small list, over the in-memory store.
func guardedTables(t testing.TB) []http.Handler {
	f := newFake()
	var out []http.Handler
	for _, rules := range []map[string]Rule{NativeRules, NomadRules} {
		m := NewMux(rules)
		for pattern := range rules {
			m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				io.WriteString(w, `[{"Namespace": "team-a", "Path": "app/x", "Name": "team-a"}]`)
			})
		}
		out = append(out, m.Serve(&Gate{ACL: &Resolver{Store: f}, Objects: f, MaxBody: 4096},
			func(w http.ResponseWriter, code int, msg string) {
				w.WriteHeader(code)
				io.WriteString(w, msg)
			}))
	}
	return out
}

// FuzzTheGateAnswersEveryRequestWithoutA5xx sends made-up requests —
// any method, path, body and token — through every rule of both tables:
// the gate answers each with the handler's 200 or a 4xx, never a panic
// or a 5xx.
func FuzzTheGateAnswersEveryRequestWithoutA5xx(f *testing.F) {
	for _, s := range []struct{ method, path, body, token string }{
		{"GET", "/v1/jobs?namespace=*", "", "team-a-secret"},
		{"PUT", "/v1/jobs", `{"job": {"namespace": "team-a"}}`, "team-a-secret"},
		{"PUT", "/v1/jobs", `{"Job": {"Namespace": 7}}`, ""},
		{"POST", "/v1/allocation/alloc-a/stop", "", "team-a-secret"},
		{"GET", "/v1/var/app/x?namespace=team-a", "", "eyJ.eyJ.x"},
		{"GET", "/v1/acl/token/a1", "", "team-a-secret"},
		{"PUT", "/v1/search", `{"Context": "nodes"}`, "team-a-secret"},
		{"GET", "/v1/event/stream?topic=Node:*", "", "team-a-secret"},
		{"DELETE", "/v1/node/x/purge", "", "mgmt-secret"},
	} {
		f.Add(s.method, s.path, []byte(s.body), s.token)
	}
	handlers := guardedTables(f)
	f.Fuzz(func(t *testing.T, method, path string, body []byte, token string) {
		for _, h := range handlers {
			req, err := http.NewRequest(method, "http://x"+path, bytes.NewReader(body))
			if err != nil {
				return
			}
			if token != "" {
				req.Header.Set("X-Nomad-Token", token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", method, path, w.Code, w.Body)
			}
		}
	})
}
