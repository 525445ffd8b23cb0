package nomadapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestTokensOfNomadsAPIPackageDecode: the api package sends
// ExpirationTTL as "" when there is none, as "1h0m0s" when there is.
func TestTokensOfNomadsAPIPackageDecode(t *testing.T) {
	for _, want := range []time.Duration{0, time.Hour} {
		b, err := json.Marshal(&napi.ACLToken{Name: "x", Type: "client", Policies: []string{"p"}, ExpirationTTL: want})
		if err != nil {
			t.Fatal(err)
		}
		var w wireACLToken
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got := fromWireToken(&w).ExpirationTTL.Std(); got != want {
			t.Fatalf("%s: TTL %v, want %v", b, got, want)
		}
		back, err := json.Marshal(toWireToken(fromWireToken(&w)))
		if err != nil {
			t.Fatal(err)
		}
		var tok napi.ACLToken
		if err := json.Unmarshal(back, &tok); err != nil || tok.ExpirationTTL != want {
			t.Fatalf("the api package reads %s as %+v, %v", back, tok, err)
		}
	}
}

// TestNomadsClientUnderACLs drives the Nomad API with -acl's guard over a
// real etcd through Nomad's api package: a namespace's token sees its
// namespace only (jobs, namespaces) and is refused elsewhere with
// "Permission denied" in Nomad's plain-text error.
func TestNomadsClientUnderACLs(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/nacl")
	ctx := context.Background()
	for _, ns := range []string{"default", "team-a"} {
		job := &api.Job{ID: "web", Namespace: ns, Type: api.JobTypeService,
			Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
		job.Canonicalize()
		if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mgmt, token := aclServer(t, st)
	team := token("team-a", `namespace "team-a" { policy = "write" }`)
	jobs, _, err := team.Jobs().List(&napi.QueryOptions{Namespace: "*"})
	if err != nil || len(jobs) != 1 || jobs[0].Namespace != "team-a" {
		t.Fatalf("jobs of every namespace for the team's token: %+v, %v", jobs, err)
	}
	if all, _, err := mgmt.Jobs().List(&napi.QueryOptions{Namespace: "*"}); err != nil || len(all) != 2 {
		t.Fatalf("jobs for management: %d, %v", len(all), err)
	}
	nss, _, err := team.Namespaces().List(nil)
	if err != nil || len(nss) != 1 || nss[0].Name != "team-a" {
		t.Fatalf("namespaces for the team's token: %+v, %v", nss, err)
	}
	_, _, err = team.Jobs().Info("web", nil)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Permission denied: token lacks capability read-job on namespace default") {
		t.Fatalf("the team's token reading default's job: %v", err)
	}
	if _, _, err := team.Jobs().Info("web", &napi.QueryOptions{Namespace: "team-a"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := team.Nodes().List(nil); err == nil || !strings.Contains(err.Error(), "node:read") {
		t.Fatalf("nodes for the team's token: %v", err)
	}
	if _, _, err := team.ACLTokens().Self(nil); err != nil {
		t.Fatalf("self: %v", err)
	}
}
