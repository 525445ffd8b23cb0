package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path, etag string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestThePageAndItsFilesAreServedWithTheirTypes(t *testing.T) {
	h := Handler()
	for path, typ := range map[string]string{"/ui/": "text/html", "/ui/app.css": "text/css", "/ui/js/main.js": "javascript", "/ui/favicon.svg": "image/svg+xml"} {
		resp := get(t, h, path, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), typ) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no content security policy", path)
		}
	}
}

func TestAnUnchangedFileIsNotSentAgain(t *testing.T) {
	h := Handler()
	first := get(t, h, "/ui/js/main.js", "")
	etag := first.Header.Get("ETag")
	if etag == "" || first.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header.Get("Cache-Control"))
	}
	if again := get(t, h, "/ui/js/main.js", etag); again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", again.StatusCode)
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/nope.js", "/ui/js/../index.html", "/ui/js/"} {
		if resp := get(t, h, path, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestPathsNameEveryServedFile(t *testing.T) {
	h := Handler()
	paths := Paths()
	if len(paths) < 5 || paths[0] != Prefix {
		t.Fatalf("paths: %v", paths)
	}
	for _, p := range paths {
		if resp := get(t, h, p, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}
