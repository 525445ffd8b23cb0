package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestTheRootRedirectsToTheUIWhichNeedsNoToken(t *testing.T) {
	s := &Server{Store: store.New(testutil.Etcd(t), "/ui"), Name: "t", Version: "test"}
	h := RequireTokens(s.Handler(), []string{"a-token-of-sixteen-chars"})
	cases := []struct {
		path string
		want int
		loc  string
	}{
		{"/", http.StatusFound, "/ui/"},
		{"/ui", http.StatusTemporaryRedirect, "/ui/"},
		{"/ui/", http.StatusOK, ""},
		{"/ui/js/main.js", http.StatusOK, ""},
		{"/v1/ui/snapshot", http.StatusUnauthorized, ""},
		{"/v1/jobs", http.StatusUnauthorized, ""},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.want || rec.Header().Get("Location") != c.loc {
			t.Errorf("GET %s: %d to %q, want %d to %q", c.path, rec.Code, rec.Header().Get("Location"), c.want, c.loc)
		}
	}
}

func TestTheSnapshotHoldsTheKindsAskedFor(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/ui")
	ts := httptest.NewServer((&Server{Store: st, Name: "t", Version: "test"}).Handler())
	t.Cleanup(ts.Close)
	ctx := context.Background()
	job := &api.Job{ID: "web", Namespace: "default", Type: api.JobTypeService, Priority: 50,
		Groups: []*api.TaskGroup{{Name: "g", Count: 3, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
	if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "one", Datacenter: "dc1", Resources: api.Resources{CPU: 1000, MemoryMB: 512},
		Drivers: map[string]*api.DriverInfo{"mock": {Detected: true, Healthy: true}, "docker": {}}}); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, ts, "GET", "/v1/ui/snapshot?kinds=jobs,nodes", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var snap UISnapshot
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Index == 0 || len(snap.Jobs) != 1 || len(snap.Nodes) != 1 || strings.Contains(body, `"allocs"`) || snap.Evals != nil {
		t.Fatalf("snapshot: %s", body)
	}
	j, n := snap.Jobs[0], snap.Nodes[0]
	if j.ID != "web" || j.Namespace != "default" || len(j.Groups) != 1 || j.Groups[0].Count != 3 {
		t.Errorf("job row: %+v", j)
	}
	if n.Status != api.NodeStatusDown || n.MemoryMB != 512 || len(n.Drivers) != 1 || !n.Drivers["mock"] {
		t.Errorf("node row: %+v", n)
	}
	// Allocations go as rows of arrays.
	a := &api.Allocation{ID: "a1", Name: "web.g[2]", Namespace: "default", JobID: "web", TaskGroup: "g", Index: 2, NodeID: "n1",
		DesiredStatus: api.AllocDesiredRun, Canary: true, Resources: api.Resources{CPU: 100, MemoryMB: 64}, JobVersion: 3,
		ModifyTime: time.UnixMilli(1700000000123)}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: []*api.Allocation{a}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAllocStatus(ctx, "n1", "a1", &api.AllocStatus{ClientStatus: api.AllocClientRunning,
		Health: &api.AllocHealth{Healthy: true}}); err != nil {
		t.Fatal(err)
	}
	code, body = call(t, ts, "GET", "/v1/ui/snapshot?kinds=allocs", "")
	want := `"allocs":[["a1",0,1,2,2,3,4,5,4,100,64,3,6,1,1700000000123]],"strings":["default","web","g","n1","run","running",""]}`
	if code != http.StatusOK || !strings.Contains(body, want) || !json.Valid([]byte(body)) {
		t.Errorf("allocations: %d %s, want %s", code, body, want)
	}
	if got := string(appendString(nil, "ok-1.2")) + string(appendString(nil, "a\"b\\c\n<é>")); got != `"ok-1.2""a\"b\\c\n\u003cé\u003e"` {
		t.Errorf("JSON strings: %s", got)
	}
	if code, body := call(t, ts, "GET", "/v1/ui/snapshot?kinds=jobs,colours", ""); code != http.StatusBadRequest || !strings.Contains(body, `unknown kind \"colours\"`) {
		t.Errorf("unknown kind: %d %s", code, body)
	}
	// Everything, gzipped for a browser.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/ui/snapshot", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get(IndexHeader) == "" {
		t.Errorf("gzipped snapshot: %v", resp.Header)
	}
}

func TestParseReadsAJobFileAsNctlDoes(t *testing.T) {
	ts := newTestServer(t)
	hcl := "job \"web\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"sleep\"\n      }\n    }\n  }\n}\n"
	body, _ := json.Marshal(ParseJobRequest{Source: hcl})
	code, out := call(t, ts, "POST", "/v1/jobs/parse", string(body))
	var job api.Job
	if code != http.StatusOK || json.Unmarshal([]byte(out), &job) != nil || job.ID != "web" || job.Groups[0].Count != 1 {
		t.Fatalf("%d %s", code, out)
	}
	bad, _ := json.Marshal(ParseJobRequest{Source: strings.Replace(hcl, "driver", "colour = \"red\"\n      driver", 1), Filename: "web.hcl"})
	code, out = call(t, ts, "POST", "/v1/jobs/parse", string(bad))
	if code != http.StatusBadRequest || !strings.Contains(out, "web.hcl:4:7") {
		t.Fatalf("a bad file: %d %s", code, out)
	}
}
