package nodeagent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// fakeVars is an in-memory Variables for the agent's unit tests: it
// answers only the tokens it was told, each for its job's paths, as the
// servers would.
type fakeVars struct {
	mu      sync.Mutex
	index   int64
	vars    map[string]map[string]string // path -> items
	tokens  map[string]string            // token -> job
	changed chan struct{}
}

func newFakeVars() *fakeVars {
	return &fakeVars{vars: map[string]map[string]string{}, tokens: map[string]string{}, changed: make(chan struct{})}
}

func (f *fakeVars) put(path string, items map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vars[path] = items
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeVars) allowed(token, path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	job, ok := f.tokens[token]
	return ok && (path == "nomad/jobs/"+job || strings.HasPrefix(path, "nomad/jobs/"+job+"/"))
}

func (f *fakeVars) GetVar(_ context.Context, token, _, path string) (*api.Variable, error) {
	if !f.allowed(token, path) {
		return nil, ErrVarForbidden
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	items, ok := f.vars[path]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &api.Variable{Path: path, Items: items}, nil
}

func (f *fakeVars) ListVars(_ context.Context, token, _, prefix string) ([]*api.Variable, error) {
	var out []*api.Variable
	f.mu.Lock()
	paths := make([]string, 0, len(f.vars))
	for p := range f.vars {
		paths = append(paths, p)
	}
	f.mu.Unlock()
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) && f.allowed(token, p) {
			out = append(out, &api.Variable{Path: p})
		}
	}
	return out, nil
}

func (f *fakeVars) WaitVars(ctx context.Context, _, _ string, index int64) (int64, error) {
	for {
		f.mu.Lock()
		cur, ch := f.index, f.changed
		f.mu.Unlock()
		if index == 0 || cur > index {
			return cur, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// templateHarness is a harness whose agent reads variables from a
// fakeVars, with identities issued for every allocation placed through
// placeWithIdentity.
func templateHarness(t *testing.T) (*harness, *fakeVars) {
	fv := newFakeVars()
	h := newHarness(t, func(c *Config) { c.Variables = fv })
	return h, fv
}

func (h *harness) placeWithIdentity(fv *fakeVars, j *api.Job) *api.Allocation {
	a := &api.Allocation{ID: api.NewID()}
	tokens := map[string]string{}
	for _, task := range j.Groups[0].Tasks {
		tok := "tok-" + a.ID + "-" + task.Name
		tokens[task.Name] = tok
		fv.mu.Lock()
		fv.tokens[tok] = j.ID
		fv.mu.Unlock()
	}
	h.store.putIdentity(&api.AllocIdentity{AllocID: a.ID, NodeID: h.agent.NodeID(), Tokens: tokens})
	return h.place(j, func(x *api.Allocation) { x.ID = a.ID })
}

func (h *harness) taskFile(a *api.Allocation, task, rel string) string {
	b, _ := os.ReadFile(filepath.Join(h.agent.AllocDir(a.ID), task, rel))
	return string(b)
}

func withTemplates(tpls ...*api.Template) func(*api.Task) {
	return func(t *api.Task) { t.Templates = tpls }
}

func TestATemplateRendersVariablesAndServicesBeforeTheTaskStarts(t *testing.T) {
	h, fv := templateHarness(t)
	h.store.putServiceInstance(&api.ServiceRegistration{ID: "db-1", ServiceName: "db", Namespace: "default", Address: "10.1.1.1", Port: 5432})
	h.store.putServiceInstance(&api.ServiceRegistration{ID: "db-2", ServiceName: "db", Namespace: "default", Address: "10.1.1.2", Port: 5432,
		Checks: []api.CheckStatus{{Name: "c", Status: api.CheckCritical}}})
	j := newJob(api.JobTypeService, mockTask("web", forever(), withTemplates(&api.Template{
		Data:        `pw={{ with nomadVar "nomad/jobs/JOB" }}{{ .pw }}{{ end }}{{ range nomadService "db" }} db={{ .Address }}{{ end }}`,
		Destination: "local/app.conf", ChangeMode: "restart",
	}, &api.Template{Data: `{{ with nomadVar "nomad/jobs/JOB" }}DB_PASSWORD={{ .pw }}{{ end }}`, Destination: "secrets/env", Env: true, ChangeMode: "noop"})))
	for _, tpl := range j.Groups[0].Tasks[0].Templates {
		tpl.Data = strings.ReplaceAll(tpl.Data, "JOB", j.ID)
	}
	fv.put("nomad/jobs/"+j.ID, map[string]string{"pw": "one"})
	a := h.placeWithIdentity(fv, j)
	h.waitRunning(a, "web")
	if got := h.taskFile(a, "web", "local/app.conf"); got != "pw=one db=10.1.1.1" {
		t.Fatalf("rendered %q", got)
	}
	if env := strings.Join(h.mock.config(a.ID, "web").Env, "\n"); !strings.Contains(env, "DB_PASSWORD=one") {
		t.Fatal("the env template did not reach the task's environment")
	}

	fv.put("nomad/jobs/"+j.ID, map[string]string{"pw": "two"})
	h.waitFor("the template rendered again and the task restarted", func() bool {
		return h.taskFile(a, "web", "local/app.conf") == "pw=two db=10.1.1.1" && h.mock.startsOf(a.ID, "web") == 2
	})
	h.waitStatus(a, "the restart event, running again", func(st *api.AllocStatus) bool {
		ts := st.Tasks["web"]
		return ts != nil && ts.State == api.TaskStateRunning && hasEvent(ts, "Restart Signaled", templateRestartMessage)
	})
	h.store.putServiceInstance(&api.ServiceRegistration{ID: "db-3", ServiceName: "db", Namespace: "default", Address: "10.1.1.3", Port: 5432})
	h.waitFor("a new service instance rendered", func() bool {
		return h.taskFile(a, "web", "local/app.conf") == "pw=two db=10.1.1.1 db=10.1.1.3"
	})
}

func TestAChangedTemplateWithChangeModeSignalSignalsTheTask(t *testing.T) {
	h, fv := templateHarness(t)
	j := newJob(api.JobTypeService, mockTask("web", forever(), withTemplates(&api.Template{
		Data: `{{ with nomadVar "nomad/jobs/JOB" }}{{ .v }}{{ end }}`, Destination: "local/v", ChangeMode: "signal", ChangeSignal: "SIGHUP",
	})))
	j.Groups[0].Tasks[0].Templates[0].Data = strings.ReplaceAll(j.Groups[0].Tasks[0].Templates[0].Data, "JOB", j.ID)
	fv.put("nomad/jobs/"+j.ID, map[string]string{"v": "1"})
	a := h.placeWithIdentity(fv, j)
	h.waitRunning(a, "web")
	fv.put("nomad/jobs/"+j.ID, map[string]string{"v": "2"})
	h.waitFor("the task got SIGHUP", func() bool {
		_, ok := h.log.at("signal web SIGHUP")
		return ok && h.taskFile(a, "web", "local/v") == "2"
	})
	if n := h.mock.startsOf(a.ID, "web"); n != 1 {
		t.Fatalf("the task started %d times", n)
	}
}

func TestAMissingVariableHoldsTheTaskUntilItExists(t *testing.T) {
	h, fv := templateHarness(t)
	j := newJob(api.JobTypeService, mockTask("web", forever(), withTemplates(&api.Template{
		Data: `{{ with nomadVar "nomad/jobs/JOB/g" }}{{ .v }}{{ end }}`, Destination: "local/v",
	})))
	j.Groups[0].Tasks[0].Templates[0].Data = strings.ReplaceAll(j.Groups[0].Tasks[0].Templates[0].Data, "JOB", j.ID)
	a := h.placeWithIdentity(fv, j)
	h.waitStatus(a, "a Missing event", func(st *api.AllocStatus) bool {
		ts := st.Tasks["web"]
		return ts != nil && hasEvent(ts, eventTemplate, "Missing: nomad.var.block(nomad/jobs/"+j.ID+"/g)")
	})
	if n := h.mock.startsOf(a.ID, "web"); n != 0 {
		t.Fatal("the task started before its template rendered")
	}
	fv.put("nomad/jobs/"+j.ID+"/g", map[string]string{"v": "here"})
	h.waitRunning(a, "web")
	if got := h.taskFile(a, "web", "local/v"); got != "here" {
		t.Fatalf("rendered %q", got)
	}
}

func TestATemplateThatMayNotReadAVariableFailsTheTask(t *testing.T) {
	h, fv := templateHarness(t)
	fv.put("nomad/jobs/other", map[string]string{"secret": "x"})
	j := newJob(api.JobTypeBatch, mockTask("web", forever(), withTemplates(&api.Template{
		Data: "line one\n{{ with nomadVar \"nomad/jobs/other\" }}{{ .secret }}{{ end }}", Destination: "local/v",
	})))
	a := h.placeWithIdentity(fv, j)
	st := h.waitTerminal(a)
	ts := st.Tasks["web"]
	if !ts.Failed || !hasEvent(ts, eventTemplateFailed, "local/v:2") || !hasEvent(ts, eventTemplateFailed, "permission denied") {
		t.Fatalf("events: %+v", ts.Events)
	}
}

func TestATemplateSyntaxErrorShowsItsLine(t *testing.T) {
	h, fv := templateHarness(t)
	j := newJob(api.JobTypeBatch, mockTask("web", forever(), withTemplates(&api.Template{Data: "a\nb\n{{ if }}", Destination: "local/x"})))
	a := h.placeWithIdentity(fv, j)
	st := h.waitTerminal(a)
	if !hasEvent(st.Tasks["web"], eventTemplateFailed, "template: local/x:3: missing value for if") {
		t.Fatalf("events: %+v", st.Tasks["web"].Events)
	}
}

func TestAnAbsoluteTemplateDestinationStaysInTheTaskDirectory(t *testing.T) {
	h, fv := templateHarness(t)
	j := newJob(api.JobTypeBatch, mockTask("web", runFor("10ms", 0), withTemplates(&api.Template{Data: "x", Destination: "/../../../etc/x"})))
	a := h.placeWithIdentity(fv, j)
	st := h.waitTerminal(a)
	if st.ClientStatus != api.AllocClientComplete {
		t.Fatalf("events: %+v", st.Tasks["web"].Events)
	}
	if _, err := os.Stat(filepath.Join(h.agent.AllocDir(a.ID), "web", "etc", "x")); err != nil {
		t.Fatalf("an absolute destination is taken inside the task directory: %v", err)
	}
}

func TestAnArtifactIsFetchedBeforeTheTaskAndABadChecksumFailsIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("payload")) }))
	defer srv.Close()
	h, _ := templateHarness(t)
	good := newJob(api.JobTypeBatch, mockTask("t", runFor("10ms", 0), func(t *api.Task) {
		t.Artifacts = []*api.Artifact{{Source: srv.URL + "/tool.bin", Options: map[string]string{
			"checksum": "sha256:239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"}}}
	}))
	a := h.place(good)
	st := h.waitTerminal(a)
	if st.ClientStatus != api.AllocClientComplete || h.taskFile(a, "t", "local/tool.bin") != "payload" {
		t.Fatalf("status %s, file %q, events %+v", st.ClientStatus, h.taskFile(a, "t", "local/tool.bin"), st.Tasks["t"].Events)
	}
	bad := newJob(api.JobTypeBatch, mockTask("t", runFor("10ms", 0), func(t *api.Task) {
		t.Artifacts = []*api.Artifact{{Source: srv.URL + "/tool.bin", Options: map[string]string{"checksum": "sha256:" + strings.Repeat("ab", 32)}}}
	}))
	b := h.place(bad)
	st = h.waitTerminal(b)
	if st.ClientStatus != api.AllocClientFailed || !hasEvent(st.Tasks["t"], eventArtifactFailed, "checksum mismatch") {
		t.Fatalf("status %s, events %+v", st.ClientStatus, st.Tasks["t"].Events)
	}
	if n := h.mock.startsOf(b.ID, "t"); n != 0 {
		t.Fatal("the task started despite its bad artifact")
	}
}

func TestTemplatePathsResolveInsideTheAllocation(t *testing.T) {
	env := map[string]string{"NOMAD_TASK_DIR": "/a/web/local", "NOMAD_ALLOC_DIR": "/a/alloc"}
	cases := []struct{ in, want, err string }{
		{"local/app.conf", "web/local/app.conf", ""},
		{"${NOMAD_TASK_DIR}/app.conf", "web/local/app.conf", ""},
		{"${NOMAD_ALLOC_DIR}/shared.txt", "alloc/shared.txt", ""},
		{"/secrets/env", "web/secrets/env", ""},
		{"../db/local/x", "", "leaves the task directory"},
		{"local/../../x", "", "leaves the task directory"},
	}
	for _, tc := range cases {
		got, err := resolveInAlloc("/a", "web", tc.in, env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
