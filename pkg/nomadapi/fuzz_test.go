package nomadapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// endpointsFuzzed are the Nomad-compatible API's endpoints that take a
// body (and the IDs in their paths).
var endpointsFuzzed = []struct{ method, path string }{
	{"PUT", "/v1/jobs"},
	{"PUT", "/v1/job/{id}"},
	{"PUT", "/v1/job/{id}/plan"},
	{"PUT", "/v1/job/{id}/dispatch"},
	{"PUT", "/v1/job/{id}/revert"},
	{"PUT", "/v1/job/{id}/scale"},
	{"PUT", "/v1/job/{id}/evaluate"},
	{"PUT", "/v1/job/{id}/periodic/force"},
	{"PUT", "/v1/allocation/{id}/stop"},
	{"PUT", "/v1/client/allocation/{id}/restart"},
	{"PUT", "/v1/client/allocation/{id}/signal"},
	{"PUT", "/v1/deployment/promote/{id}"},
	{"PUT", "/v1/deployment/fail/{id}"},
	{"PUT", "/v1/deployment/pause/{id}"},
	{"PUT", "/v1/deployment/allocation-health/{id}"},
	{"PUT", "/v1/node/{id}/eligibility"},
	{"PUT", "/v1/node/{id}/drain"},
	{"PUT", "/v1/node/{id}/purge"},
	{"PUT", "/v1/search"},
	{"PUT", "/v1/operator/scheduler/configuration"},
	{"PUT", "/v1/var/{id}"},
	{"DELETE", "/v1/job/{id}"},
}

const fuzzJob = `{"Job": {"ID": "web", "Name": "web", "Type": "service", "Datacenters": ["dc1"],
 "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "mock", "Config": {"run_for": "1s"}}]}]}}`

const fuzzBatch = `{"Job": {"ID": "batch", "Name": "batch", "Type": "batch", "Datacenters": ["dc1"],
 "ParameterizedJob": {"Payload": "optional", "MetaOptional": ["x"]},
 "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "mock"}]}]}}`

// FuzzEndpoints sends made-up bodies and IDs to every endpoint of the
// Nomad-compatible API that takes a body, on a server over a real etcd that
// holds a service job, a parameterized one and a node: whatever the
// request, the answer is not a 5xx (501, a feature this server does not
// have, aside) and an error says something.
func FuzzEndpoints(f *testing.F) {
	s := &Server{Store: store.New(testutil.Etcd(f), "/fuzz"), Name: "fuzz", Version: "test"}
	h := s.Handler()
	for _, body := range []string{fuzzJob, fuzzBatch} {
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
		{0, "", fuzzJob},
		{1, "web", strings.Replace(fuzzJob, `"Count": 1`, `"Count": 2`, 1)},
		{2, "web", strings.Replace(fuzzJob, `{"Job"`, `{"Diff": true, "Job"`, 1)},
		{3, "batch", `{"Payload": "aGVsbG8=", "Meta": {"x": "1"}}`},
		{4, "web", `{"JobID": "web", "JobVersion": 0}`},
		{5, "web", `{"Count": 3, "Target": {"Group": "g"}, "Message": "more"}`},
		{6, "web", `{"JobID": "web", "EvalOptions": {"ForceReschedule": true}}`},
		{8, "0b9f1b6e-7d2c-4c45-9d0e-1b1f3a6f0a11", ``},
		{10, "0b9f1b6e-7d2c-4c45-9d0e-1b1f3a6f0a11", `{"Signal": "SIGHUP", "Task": "t"}`},
		{11, "d1", `{"DeploymentID": "d1", "All": true}`},
		{14, "d1", `{"DeploymentID": "d1", "HealthyAllocationIDs": ["a"]}`},
		{15, "n1", `{"NodeID": "n1", "Eligibility": "ineligible"}`},
		{16, "n1", `{"NodeID": "n1", "DrainSpec": {"Deadline": 60000000000, "IgnoreSystemJobs": true}, "MarkEligible": false}`},
		{18, "", `{"Prefix": "we", "Context": "jobs"}`},
		{19, "", `{"SchedulerAlgorithm": "spread", "PreemptionConfig": {"ServiceSchedulerEnabled": true}}`},
		{20, "nomad/jobs/web", `{"Path": "nomad/jobs/web", "Items": {"k": "v"}}`},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.id, []byte(sd.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte) {
		ep := endpointsFuzzed[int(route)%len(endpointsFuzzed)]
		w := testutil.ServeFuzzed(t, h, ep.method, ep.path, id, body)
		if w != nil && w.Code >= 400 && strings.TrimSpace(w.Body.String()) == "" {
			t.Fatalf("%s %s answered %d with no message", ep.method, ep.path, w.Code)
		}
	})
}
