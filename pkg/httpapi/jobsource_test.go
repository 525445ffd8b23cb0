package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// TestSourcesKeptOrSaidWhyNot: a server without a keyring keeps a job's
// file but not its variables, and says so when it is submitted and when
// it is read; a file too large for etcd beside its job is not kept, with
// a warning, and the job is.
func TestSourcesKeptOrSaidWhyNot(t *testing.T) {
	ts := newTestServer(t)
	job := `{"id": "src", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}`
	register := func(sub api.JobSubmission) api.RegisterResponse {
		t.Helper()
		// As a browser's JSON.stringify sends it: < > & unescaped.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(sub); err != nil {
			t.Fatal(err)
		}
		code, body := call(t, ts, "PUT", "/v1/jobs", `{"job": `+job+`, "submission": `+b.String()+`}`)
		var r api.RegisterResponse
		if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("register: %d %s", code, body)
		}
		return r
	}
	r := register(api.JobSubmission{Source: "job \"src\" {}\n", Format: "hcl2", VariableFlags: map[string]string{"token": "s3cret"}})
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "no keyring") {
		t.Fatalf("warnings: %v", r.Warnings)
	}
	code, body := call(t, ts, "GET", "/v1/job/src/submission", "")
	var src api.JobSource
	if code != 200 || json.Unmarshal([]byte(body), &src) != nil || src.Source != "job \"src\" {}\n" || !src.VariablesMissing ||
		src.VariableFlags != nil || strings.Contains(body, "s3cret") {
		t.Fatalf("the source: %d %s", code, body)
	}
	if code, body := call(t, ts, "GET", "/v1/job/src/submission?version=x", ""); code != 400 {
		t.Fatalf("a bad version: %d %s", code, body)
	}
	if code, body := call(t, ts, "GET", "/v1/job/src/submission?version=9", ""); code != 404 {
		t.Fatalf("a version that does not exist: %d %s", code, body)
	}
	if code, body := call(t, ts, "GET", "/v1/job/nope/submission", ""); code != 404 {
		t.Fatalf("a job that does not exist: %d %s", code, body)
	}

	// Under the 512 KiB kept of a file, but six times that in etcd's
	// JSON (each < becomes \u003c): over etcd's request limit.
	job = strings.Replace(job, `"count": 1`, `"count": 2`, 1)
	r = register(api.JobSubmission{Source: strings.Repeat("<", 300_000), Format: "hcl2"})
	if r.Result != "updated" || !strings.Contains(strings.Join(r.Warnings, "\n"), "source was not kept") {
		t.Fatalf("a source too large for etcd: %+v", r)
	}
	if code, body := call(t, ts, "GET", "/v1/job/src/submission", ""); code != 404 {
		t.Fatalf("the source not kept: %d %.200s", code, body)
	}
	r = register(api.JobSubmission{Source: strings.Repeat("#", 600_000), Format: "hcl2"})
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "over the 524288 bytes") {
		t.Fatalf("a source over the size kept: %+v", r)
	}
}
