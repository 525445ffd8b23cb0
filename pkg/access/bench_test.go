package access

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchGate serves a 1,000-element list behind the gate, as a job list
// is.
func benchGate(b *testing.B) http.Handler {
	f := newFake()
	m := NewMux(testRules)
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		ns := "default"
		if i%2 == 0 {
			ns = "team-a"
		}
		fmt.Fprintf(&sb, `{"namespace": %q, "id": "job-%d", "status": "running"}`, ns, i)
	}
	sb.WriteString("]")
	list := sb.String()
	m.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, list) })
	m.HandleFunc("GET /nodes", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	return m.Serve(&Gate{ACL: &Resolver{Store: f}, Objects: f, Limit: NewLimiter(1e9, 1e9)}, func(w http.ResponseWriter, code int, msg string) {
		w.WriteHeader(code)
	})
}

func benchServe(b *testing.B, h http.Handler, token, path string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Nomad-Token", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusForbidden {
			b.Fatalf("%d", rec.Code)
		}
	}
}

// BenchmarkGateCoarseRule is the gate's cost on a request answered by a
// cached token's coarse rule.
func BenchmarkGateCoarseRule(b *testing.B) {
	benchServe(b, benchGate(b), "team-a-secret", "/nodes")
}

// BenchmarkGateFilteredList is the cost of filtering a 1,000-element
// list to a client token's namespace.
func BenchmarkGateFilteredList(b *testing.B) {
	benchServe(b, benchGate(b), "team-a-secret", "/items")
}

// BenchmarkGateManagementList is the same list for a management token,
// which is not filtered.
func BenchmarkGateManagementList(b *testing.B) {
	benchServe(b, benchGate(b), "mgmt-secret", "/items")
}
