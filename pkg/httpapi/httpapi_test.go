package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func newTestServer(t *testing.T) *httptest.Server {
	s := &Server{Store: store.New(testutil.Etcd(t), "/api"), Name: "t", Version: "test"}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBadRequestsGetA4xxWithAJSONError(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"malformed JSON", "PUT", "/v1/jobs", `{"job": {`, 400, "decoding request body"},
		{"an unknown field", "PUT", "/v1/jobs", `{"job": {"id": "x", "colour": "red"}}`, 400, `unknown field "colour"`},
		{"no job", "PUT", "/v1/jobs", `{}`, 400, `request body must be {"job": {...}}`},
		{"an invalid job", "PUT", "/v1/jobs", `{"job": {"id": "x", "groups": [{"name": "g", "count": -2, "tasks": []}]}}`, 400, "count -2 must not be negative"},
		{"a body too large", "PUT", "/v1/jobs", `{"job": {"id": "` + strings.Repeat("x", 2<<20) + `"}}`, 413, "request body too large"},
		{"trailing bytes after the body", "PUT", "/v1/jobs", `{"job": {"id": "x", "groups": []}}}}}xyz`, 400, "bytes after the JSON value"},
		{"a null count", "PUT", "/v1/jobs", `{"job": {"id": "x", "groups": [{"name": "g", "count": null, "tasks": [{"name": "t", "driver": "mock"}]}]}}`, 400, "groups[0].count is null"},
		{"a count over the limit", "PUT", "/v1/jobs", `{"job": {"id": "x", "groups": [{"name": "g", "count": 1000000000, "tasks": [{"name": "t", "driver": "mock"}]}]}}`, 400, "over the limit of 100000"},
		{"a job too large to store once its defaults are in", "PUT", "/v1/jobs", manyGroups(8000), 413, "over its request limit of 1572864 bytes"},
		{"a missing job", "GET", "/v1/job/nope", "", 404, `job "nope" not found`},
		{"stopping a missing job", "DELETE", "/v1/job/nope", "", 404, `job "nope" not found`},
		{"a missing allocation", "GET", "/v1/allocation/abc", "", 404, `allocation "abc" not found`},
		{"an unknown endpoint", "GET", "/v1/nothing", "", 404, "no such endpoint"},
		{"a wrong method", "PATCH", "/v1/jobs", "", 404, "no such endpoint: PATCH /v1/jobs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, ts, tc.method, tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if tc.want == "" {
				return
			}
			var e api.ErrorResponse
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body is not a JSON error: %q", body)
			}
			if !strings.Contains(e.Error, tc.want) {
				t.Fatalf("error %q lacks %q", e.Error, tc.want)
			}
		})
	}
}

func TestRegisterThenReadTheJob(t *testing.T) {
	ts := newTestServer(t)
	code, body := call(t, ts, "PUT", "/v1/jobs", `{"job": {"id": "web", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "sleep", "args": ["1"]}}]}]}}`)
	if code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	var r api.RegisterResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Result != "created" || r.EvalID == "" {
		t.Fatalf("register answer: %v %+v", err, r)
	}
	code, body = call(t, ts, "GET", "/v1/job/web", "")
	var j api.Job
	if code != 200 || json.Unmarshal([]byte(body), &j) != nil {
		t.Fatalf("get: %d %s", code, body)
	}
	// Defaults were applied by the server, and the job waits for a node.
	if j.Type != "service" || j.Groups[0].Tasks[0].Resources.CPU != api.DefaultCPU || j.Status != api.JobStatusPending {
		t.Fatalf("stored job: %+v", j)
	}
	code, body = call(t, ts, "GET", "/v1/evaluation/"+r.EvalID[:8], "")
	if code != 200 || !strings.Contains(body, r.EvalID) {
		t.Fatalf("eval by short id: %d %s", code, body)
	}
}

func TestBlockingQueriesAnswerOnTheNextChange(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Get(ts.URL + "/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	index := resp.Header.Get(IndexHeader)
	if index == "" {
		t.Fatal("no index header")
	}
	// Nothing changes: the query waits its wait out.
	start := time.Now()
	resp, err = http.Get(ts.URL + "/v1/jobs?index=" + index + "&wait=300ms")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if time.Since(start) < 250*time.Millisecond {
		t.Fatalf("returned after %v without a change", time.Since(start))
	}
	type result struct {
		body  string
		index string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(ts.URL + "/v1/jobs?index=" + index + "&wait=20s")
		if err != nil {
			done <- result{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{string(b), resp.Header.Get(IndexHeader)}
	}()
	time.Sleep(200 * time.Millisecond)
	start = time.Now()
	if code, body := call(t, ts, "PUT", "/v1/jobs", `{"job": {"id": "web", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "true"}}]}]}}`); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	select {
	case r := <-done:
		if !strings.Contains(r.body, `"id": "web"`) || r.index <= index && len(r.index) <= len(index) {
			t.Fatalf("blocking answer: index %s after %s, body %s", r.index, index, r.body)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("answered %v after the change", time.Since(start))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the blocking query did not answer the change")
	}
}

func TestEventStreamDeliversChangesByTopic(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/event/stream?topic=Job", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code, body := call(t, ts, "PUT", "/v1/jobs", `{"job": {"id": "web", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "true"}}]}]}}`); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	dec := json.NewDecoder(resp.Body)
	var ev Event
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.Topic != "Job" || ev.Type != "JobUpdated" || ev.Key != "default/web" || ev.Index == 0 || !strings.Contains(string(ev.Payload), `"web"`) {
		t.Fatalf("event %+v", ev)
	}
	// Resuming from before that index replays it.
	req2, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/event/stream?topic=Job&index=%d", ts.URL, ev.Index-1), nil)
	resp2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var again Event
	if err := json.NewDecoder(resp2.Body).Decode(&again); err != nil || again.Index != ev.Index {
		t.Fatalf("resumed: %+v %v", again, err)
	}
	if code, _ := call(t, ts, "GET", "/v1/event/stream?topic=Nope", ""); code != 400 {
		t.Fatalf("unknown topic: %d", code)
	}
}

func TestHistoryAndRevert(t *testing.T) {
	ts := newTestServer(t)
	body := func(count int) string {
		return fmt.Sprintf(`{"job": {"id": "web", "groups": [{"name": "g", "count": %d, "tasks": [{"name": "t", "driver": "raw_exec", "config": {"command": "true"}}]}]}}`, count)
	}
	for _, n := range []int{1, 3} {
		if code, b := call(t, ts, "PUT", "/v1/jobs", body(n)); code != 200 {
			t.Fatalf("register: %d %s", code, b)
		}
	}
	code, b := call(t, ts, "GET", "/v1/job/web/versions", "")
	var versions []api.Job
	if code != 200 || json.Unmarshal([]byte(b), &versions) != nil || len(versions) != 2 || versions[0].Version != 0 {
		t.Fatalf("versions: %d %s", code, b)
	}
	code, b = call(t, ts, "POST", "/v1/job/web/revert", `{"version": 0}`)
	var r api.RegisterResponse
	if code != 200 || json.Unmarshal([]byte(b), &r) != nil || r.JobVersion != 2 || r.Result != "updated" {
		t.Fatalf("revert: %d %s", code, b)
	}
	code, b = call(t, ts, "GET", "/v1/job/web", "")
	var j api.Job
	if code != 200 || json.Unmarshal([]byte(b), &j) != nil || j.Groups[0].Count != 1 || j.Version != 2 {
		t.Fatalf("after revert: %s", b)
	}
	if code, _ := call(t, ts, "POST", "/v1/job/web/revert", `{"version": 9}`); code != 404 {
		t.Fatalf("revert to a missing version: %d", code)
	}
	if code, _ := call(t, ts, "DELETE", "/v1/server/ghost", ""); code != 404 {
		t.Fatalf("force-leave of an unknown server: %d", code)
	}
}

// manyGroups is a register body of n small groups: a body well under the
// request limit that grows past etcd's with every group's defaults.
func manyGroups(n int) string {
	var b strings.Builder
	b.WriteString(`{"job": {"id": "wide", "groups": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name": "g%d", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}`, i)
	}
	b.WriteString("]}}")
	return b.String()
}

// A job is stored once per version, so that one of 900 KiB fits in etcd's
// request (1.5 MiB) with its evaluation, and so does its next version.
func TestALargeJobIsStoredOncePerVersion(t *testing.T) {
	ts := newTestServer(t)
	for i, fill := range []string{"x", "y"} {
		body := `{"job": {"id": "big", "meta": {"big": "` + strings.Repeat(fill, 900<<10) + `"}, "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}}`
		if code, out := call(t, ts, "PUT", "/v1/jobs", body); code != 200 {
			t.Fatalf("registration %d: %d %.300s", i, code, out)
		}
	}
	code, out := call(t, ts, "GET", "/v1/job/big/versions", "")
	var versions []*api.Job
	if code != 200 || json.Unmarshal([]byte(out), &versions) != nil || len(versions) != 2 {
		t.Fatalf("versions: %d %.300s", code, out)
	}
	if versions[0].Version != 0 || versions[0].Meta["big"][0] != 'x' || versions[1].Version != 1 || versions[1].Meta["big"][0] != 'y' {
		t.Fatalf("versions %d (%c), %d (%c)", versions[0].Version, versions[0].Meta["big"][0], versions[1].Version, versions[1].Meta["big"][0])
	}
}
