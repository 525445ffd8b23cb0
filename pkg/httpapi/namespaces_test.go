package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestNamespacesApplyListAndDelete(t *testing.T) {
	ts := newTestServer(t)
	names := func() []string {
		t.Helper()
		code, body := call(t, ts, "GET", "/v1/namespaces", "")
		var list []*api.Namespace
		if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("list: %d %s", code, body)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Name)
		}
		return out
	}
	if got := strings.Join(names(), ","); got != "default" {
		t.Fatalf("a new cluster lists %q, want default", got)
	}
	code, body := call(t, ts, "PUT", "/v1/namespace/prod", `{"description": "production", "meta": {"team": "infra"}}`)
	var n api.Namespace
	if code != 200 || json.Unmarshal([]byte(body), &n) != nil || n.Name != "prod" || n.Meta["team"] != "infra" || n.ModifyIndex == 0 {
		t.Fatalf("apply: %d %s", code, body)
	}
	// A job's namespace is listed though nobody created it.
	if code, body := call(t, ts, "PUT", "/v1/jobs", `{"job": {"id": "web", "namespace": "team-a", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "sleep", "args": ["1"]}}]}]}}`); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	if got := strings.Join(names(), ","); got != "default,prod,team-a" {
		t.Fatalf("listed %q", got)
	}
	if code, body := call(t, ts, "GET", "/v1/namespace/prod", ""); code != 200 || !strings.Contains(body, `"production"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"PUT", "/v1/namespace/bad%20name", `{}`, 400, "invalid namespace name"},
		{"PUT", "/v1/namespace/prod", `{"name": "other"}`, 400, "does not match"},
		{"PUT", "/v1/namespace/prod", `{"quota": "q"}`, 400, "unknown field"},
		{"DELETE", "/v1/namespace/default", "", 400, "cannot be deleted"},
		{"DELETE", "/v1/namespace/team-a", "", 409, "has jobs"},
		{"DELETE", "/v1/namespace/nope", "", 404, "only namespaces created with apply"},
		{"GET", "/v1/namespace/nope", "", 404, "not found"},
	} {
		code, body := call(t, ts, c.method, c.path, c.body)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, code, body, c.code, c.says)
		}
	}
	// A namespace with a job is kept until the job is purged.
	if code, body := call(t, ts, "PUT", "/v1/namespace/team-a", `{}`); code != 200 {
		t.Fatalf("apply team-a: %d %s", code, body)
	}
	if code, body := call(t, ts, "DELETE", "/v1/namespace/team-a", ""); code != 409 || !strings.Contains(body, "has jobs") {
		t.Fatalf("delete of a namespace with a job: %d %s", code, body)
	}
	if code, body := call(t, ts, "DELETE", "/v1/job/web?namespace=team-a&purge=true", ""); code != 200 {
		t.Fatalf("purge: %d %s", code, body)
	}
	for _, ns := range []string{"team-a", "prod"} {
		if code, body := call(t, ts, "DELETE", "/v1/namespace/"+ns, ""); code != 200 {
			t.Fatalf("delete %s: %d %s", ns, code, body)
		}
	}
	if got := strings.Join(names(), ","); got != "default" {
		t.Fatalf("after the deletes: %q", got)
	}
}
