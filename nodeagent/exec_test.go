package nodeagent

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
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

func TestAllocFilesStayInTheAllocationAndOutOfSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := h.agent.AllocDir("a1")
	for _, d := range []string{"t/local", "t/secrets", "alloc/data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside")
	for name, body := range map[string]string{"t/local/ok.txt": "fine", "t/secrets/token": "s3cret"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("host file"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A task's links: one out of the allocation, one into its secrets.
	if err := os.Symlink(outside, filepath.Join(dir, "t/local/out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secrets/token", filepath.Join(dir, "t/local/tok")); err != nil {
		t.Fatal(err)
	}
	cat := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.agent.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/client/cat/a1?"+url.Values{"path": {path}}.Encode(), nil))
		return rec.Code, rec.Body.String()
	}
	for path, want := range map[string]int{
		"t/local/ok.txt": http.StatusOK, "t/local/out": http.StatusNotFound, "../../../etc/passwd": http.StatusNotFound,
		"t/secrets/token": http.StatusForbidden, "t/local/tok": http.StatusForbidden, "t/local": http.StatusBadRequest,
	} {
		code, body := cat(path)
		if code != want || strings.Contains(body, "s3cret") || strings.Contains(body, "host file") {
			t.Errorf("cat %s: %d %q, want %d", path, code, body, want)
		}
	}
	if code, body := cat("t/local/ok.txt"); body != "fine" {
		t.Errorf("cat of a task's file: %d %q", code, body)
	}
}

func TestTheAgentsLogIsServedOnlyToTheServers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.agent.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/client/monitor?log_level=debug", nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	h.agent.cfg.HTTPAddr = "10.1.2.3:4647"
	if code, body := get(); code != http.StatusForbidden {
		t.Fatalf("on another address without TLS: %d %s", code, body)
	}
	h.agent.cfg.HTTPAddr = "127.0.0.1:4647"
	if code, body := get(); code != http.StatusNotImplemented || !strings.Contains(body, "standard error") {
		t.Fatalf("without a log to stream: %d %s", code, body)
	}
}

func TestExecIsNotServedToBrowsers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.agent.cfg.HTTPAddr = "127.0.0.1:4647"
	q := url.Values{"command": {`["/bin/true"]`}}
	req := httptest.NewRequest(http.MethodGet, "/v1/client/exec/no-such-alloc/t?"+q.Encode(), nil)
	req.Header.Set("Origin", "http://some.page")
	rec := httptest.NewRecorder()
	h.agent.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not to browsers") {
		t.Fatalf("a browser's request: %d %s", rec.Code, rec.Body.String())
	}
}
