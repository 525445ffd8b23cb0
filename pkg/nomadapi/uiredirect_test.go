package nomadapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNomadsUIAddressesGoToNomadicsUI(t *testing.T) {
	ts := httptest.NewServer((&Server{Name: "s1", Version: "test", UIPort: "4646"}).Handler())
	defer ts.Close()
	host := strings.Split(strings.TrimPrefix(ts.URL, "http://"), ":")[0]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		"/":                           "#/",
		"/ui/":                        "#/",
		"/ui/jobs":                    "#/jobs",
		"/ui/jobs/run":                "#/run",
		"/ui/jobs/web@prod":           "#/job/prod/web",
		"/ui/jobs/web?namespace=team": "#/job/team/web",
		"/ui/jobs/web/allocations":    "#/job/default/web",
		"/ui/allocations/0b1c2d3e/fs": "#/alloc/0b1c2d3e",
		"/ui/clients":                 "#/nodes",
		"/ui/clients/9f0c2d4e":        "#/node/9f0c2d4e",
		"/ui/topology":                "#/topology",
		"/ui/settings/tokens":         "#/",
	} {
		resp, err := noFollow.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || loc != "http://"+host+":4646/ui/"+want {
			t.Errorf("%s: %d %s, want http://%s:4646/ui/%s", path, resp.StatusCode, loc, host, want)
		}
	}
	// An IPv6 host, with or without a port.
	for _, h := range []string{"[::1]", "[::1]:4656"} {
		req := httptest.NewRequest(http.MethodGet, "/ui/jobs", nil)
		req.Host = h
		rec := httptest.NewRecorder()
		(&Server{Name: "s1", Version: "test", UIPort: "4646"}).Handler().ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); loc != "http://[::1]:4646/ui/#/jobs" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("host %s: %s", h, loc)
		}
	}
	// Other paths are not the UI's.
	resp, err := noFollow.Get(ts.URL + "/uix")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/uix: %d", resp.StatusCode)
	}
}
