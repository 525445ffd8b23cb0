package nodeagent

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestExecIsServedOnlyToTheServers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		addr     string
		tls      bool
		wantCode int
	}{
		{"a loopback address", "127.0.0.1:4647", false, http.StatusNotFound}, // served: the allocation is not here
		{"mutual TLS", "10.1.2.3:4647", true, http.StatusNotFound},
		{"another address without TLS", "10.1.2.3:4647", false, http.StatusForbidden},
		{"all addresses without TLS", "0.0.0.0:4647", false, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.agent.cfg.HTTPAddr, h.agent.cfg.HTTPTLS = c.addr, c.tls
			q := url.Values{"command": {`["/bin/true"]`}}
			rec := httptest.NewRecorder()
			h.agent.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/client/exec/no-such-alloc/t?"+q.Encode(), nil))
			if rec.Code != c.wantCode {
				t.Fatalf("answered %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), c.wantCode)
			}
		})
	}
}
