package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// FuzzRegisterBody feeds PUT /v1/jobs (and plan) bodies to the decoder and
// the validation behind them: whatever the body, the answer is a job or a
// 4xx, never a panic or a 5xx.
func FuzzRegisterBody(f *testing.F) {
	f.Add([]byte(`{"job": {"id": "j", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}}`))
	f.Add([]byte(`{"job": {"id": "j", "groups": [{"name": "g", "count": null}]}}`))
	f.Add([]byte(`{"job": null}`))
	f.Add([]byte(`{"job": {"id": "j"}}}}xyz`))
	if files, err := filepath.Glob("../../examples/*.hcl"); err == nil {
		for _, p := range files {
			src, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if job, err := jobspec.Parse(p, src); err == nil {
				var b bytes.Buffer
				_ = jsonEncode(&b, map[string]any{"job": job})
				f.Add(b.Bytes())
			}
		}
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPut, "/v1/jobs", bytes.NewReader(body))
		w := httptest.NewRecorder()
		job, ok := s.readJob(w, r)
		switch {
		case ok && job == nil:
			t.Fatal("accepted without a job")
		case !ok && (w.Code < 400 || w.Code >= 500):
			t.Fatalf("refused with %d: %s", w.Code, w.Body)
		}
	})
}

func jsonEncode(b *bytes.Buffer, v any) error { return json.NewEncoder(b).Encode(v) }

// FuzzVariableBody feeds PUT /v1/var bodies to the decoder and the checks
// behind them: whatever the body, it is refused with an error or yields a
// variable that passes the checks, never a panic.
func FuzzVariableBody(f *testing.F) {
	f.Add([]byte(`{"items": {"password": "x"}}`), "nomad/jobs/web")
	f.Add([]byte(`{"items": {}, "lock": {"ttl": "15s", "lock_delay": "1s"}}`), "a")
	f.Add([]byte(`{"items": {"": "x"}}`), "a//b")
	f.Add([]byte(`{"items": null}{}`), "/")
	f.Add([]byte(`{"path": "other", "items": {"k": "v"}}`), "../x")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		v, err := DecodeVariable(bytes.NewReader(body))
		if err != nil {
			return
		}
		v.Path = variables.CleanPath(path)
		if err := variables.Validate(v); err != nil {
			if !errors.Is(err, variables.ErrInvalid) {
				t.Fatalf("a refusal that is not ErrInvalid: %v", err)
			}
			return
		}
		if api.ValidateVariablePath(v.Path) != nil || len(v.Items) == 0 {
			t.Fatalf("accepted %q with %d items", v.Path, len(v.Items))
		}
	})
}

// endpointsFuzzed are the native API's endpoints that take a body (and the
// IDs in their paths): FuzzEndpoints sends each of them what the fuzzer
// makes.
var endpointsFuzzed = []struct{ method, path string }{
	{"PUT", "/v1/jobs"},
	{"POST", "/v1/jobs/parse"},
	{"POST", "/v1/job/{id}/plan"},
	{"POST", "/v1/job/{id}/dispatch"},
	{"POST", "/v1/job/{id}/scale"},
	{"POST", "/v1/job/{id}/revert"},
	{"POST", "/v1/allocation/{id}/stop"},
	{"POST", "/v1/allocation/{id}/restart"},
	{"POST", "/v1/allocation/{id}/signal"},
	{"PUT", "/v1/node/{id}/eligibility"},
	{"PUT", "/v1/node/{id}/drain"},
	{"POST", "/v1/node/{id}/purge"},
	{"PUT", "/v1/operator/scheduler/configuration"},
	{"POST", "/v1/deployment/{id}/promote"},
	{"POST", "/v1/deployment/{id}/fail"},
	{"POST", "/v1/deployment/{id}/pause"},
	{"POST", "/v1/deployment/{id}/allocation-health"},
	{"PUT", "/v1/var/{id}"},
	{"DELETE", "/v1/job/{id}"},
}

// FuzzEndpoints sends made-up bodies and IDs to every native endpoint that
// takes a body, on a server over a real etcd that holds a service job and
// a parameterized one: whatever the request, the answer is not a 5xx (501,
// a feature this server does not have, aside) and an error is JSON.
func FuzzEndpoints(f *testing.F) {
	s := &Server{Store: store.New(testutil.Etcd(f), "/fuzz"), Name: "fuzz", Version: "test"}
	h := s.Handler()
	for _, body := range []string{
		`{"job": {"id": "web", "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}}`,
		`{"job": {"id": "batch", "type": "batch", "parameterized": {"payload": "optional", "meta_optional": ["x"]}, "groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "mock"}]}]}}`,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("PUT", "/v1/jobs", strings.NewReader(body)))
		if w.Code != http.StatusOK {
			f.Fatalf("registering a seed job: %d %s", w.Code, w.Body)
		}
	}
	if err := s.Store.PutNode(f.Context(), &api.Node{ID: "n1", Name: "n1", Status: api.NodeStatusReady}); err != nil {
		f.Fatal(err)
	}
	seeds := []struct {
		route uint8
		id    string
		body  string
	}{
		{0, "", `{"job": {"id": "web", "groups": [{"name": "g", "count": 2, "tasks": [{"name": "t", "driver": "mock"}]}]}}`},
		{1, "", `{"source": "job \"x\" {\n group \"g\" {\n task \"t\" { driver = \"mock\" }\n }\n}\n", "filename": "x.nomad.hcl"}`},
		{2, "web", `{"job": {"id": "web", "groups": [{"name": "g", "count": 3, "tasks": [{"name": "t", "driver": "mock"}]}]}}`},
		{3, "batch", `{"payload": "aGVsbG8=", "meta": {"x": "1"}}`},
		{4, "web", `{"count": 4, "target": {"group": "g"}, "message": "more"}`},
		{5, "web", `{"version": 0}`},
		{6, "0b9f1b6e-7d2c-4c45-9d0e-1b1f3a6f0a11", `{}`},
		{8, "0b9f1b6e-7d2c-4c45-9d0e-1b1f3a6f0a11", `{"signal": "SIGHUP", "task": "t"}`},
		{9, "n1", `{"eligible": false}`},
		{10, "n1", `{"enable": true, "deadline": "1m", "ignore_system_jobs": true}`},
		{12, "", `{"algorithm": "spread", "preemption_disabled": true}`},
		{16, "d1", `{"healthy": ["a"], "unhealthy": []}`},
		{17, "nomad/jobs/web", `{"items": {"k": "v"}}`},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.id, []byte(sd.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte) {
		ep := endpointsFuzzed[int(route)%len(endpointsFuzzed)]
		w := testutil.ServeFuzzed(t, h, ep.method, ep.path, id, body)
		if w == nil || w.Code < 400 {
			return
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s %s answered %d without a JSON error: %q", ep.method, ep.path, w.Code, w.Body)
		}
	})
}
