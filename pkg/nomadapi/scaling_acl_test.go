package nomadapi

import (
	"context"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// Under ACLs a token sees the scaling policies of the namespaces it may
// (list-scaling-policies / read-scaling-policy, or list-jobs and read-job,
// as in Nomad); another namespace's policy is not found by its ID, which
// anyone can derive, so IDs tell nothing of jobs a token cannot read.
func TestScalingPoliciesUnderACLs(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/scalingacl")
	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if err := st.PutNamespace(ctx, &api.Namespace{Name: ns}); err != nil {
			t.Fatal(err)
		}
		job := &api.Job{ID: "web", Namespace: ns, Type: api.JobTypeService,
			Groups: []*api.TaskGroup{{Name: "g", Count: 1, Scaling: &api.ScalingPolicy{Min: 1, Max: 3, Enabled: true},
				Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
		job.Canonicalize()
		if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mgmt, token := aclServer(t, st)
	readA := token("read-a", `namespace "team-a" { policy = "read" }`)
	jobsA := token("jobs-a", `namespace "team-a" { capabilities = ["list-jobs", "read-job"] }`)
	none := token("none", `node { policy = "read" }`)

	all, _, err := mgmt.Scaling().ListPolicies(&napi.QueryOptions{Namespace: "*"})
	if err != nil || len(all) != 2 {
		t.Fatalf("management: %+v %v", all, err)
	}
	var idA, idB string
	for _, p := range all {
		if p.Target["Namespace"] == "team-a" {
			idA = p.ID
		} else {
			idB = p.ID
		}
	}
	for name, c := range map[string]*napi.Client{"read": readA, "list-jobs+read-job": jobsA} {
		list, _, err := c.Scaling().ListPolicies(&napi.QueryOptions{Namespace: "*"})
		if err != nil || len(list) != 1 || list[0].ID != idA {
			t.Errorf("%s: the list of every namespace: %+v %v", name, list, err)
		}
		if _, _, err := c.Scaling().GetPolicy(idA, &napi.QueryOptions{Namespace: "team-a"}); err != nil {
			t.Errorf("%s: its namespace's policy: %v", name, err)
		}
		if _, _, err := c.Scaling().GetPolicy(idB, nil); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("%s: another namespace's policy: %v, want a 404", name, err)
		}
		if _, _, err := c.Scaling().ListPolicies(&napi.QueryOptions{Namespace: "team-b"}); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("%s: another namespace's list: %v, want a 403", name, err)
		}
	}
	if _, _, err := none.Scaling().ListPolicies(&napi.QueryOptions{Namespace: "*"}); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("a token of no namespace: %v", err)
	}
}
