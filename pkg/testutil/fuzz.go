package testutil

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// ServeFuzzed sends one made-up request to h: the method, the path with
// its "{id}" replaced by id (escaped), and the body. It fails the test on a
// 5xx other than 501 (a feature the server says it does not have), and
// returns the answer; nil when no client could send such a request.
func ServeFuzzed(t testing.TB, h http.Handler, method, pattern, id string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	path := strings.Replace(pattern, "{id}", url.PathEscape(id), 1)
	req, err := http.NewRequest(method, path, bytes.NewReader(body))
	if err != nil {
		return nil
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code >= 500 && w.Code != http.StatusNotImplemented {
		t.Fatalf("%s %s answered %d: %s", method, path, w.Code, w.Body)
	}
	return w
}
