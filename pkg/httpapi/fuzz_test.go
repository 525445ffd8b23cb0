package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
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
