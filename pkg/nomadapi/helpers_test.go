package nomadapi

import (
	"net/http/httptest"
	"testing"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// serveNomad serves s over HTTP for the test, with Nomad's api client of it.
func serveNomad(t *testing.T, s *Server) (*httptest.Server, *napi.Client) {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	c, err := napi.NewClient(&napi.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return ts, c
}

// nomadClient is serveNomad's client alone.
func nomadClient(t *testing.T, s *Server) *napi.Client {
	t.Helper()
	_, c := serveNomad(t, s)
	return c
}

// aclServer serves a Server with -acl's guard over st, bootstrapped: it
// returns the management token's client and a way to make a client token
// of one policy (name, rules).
func aclServer(t *testing.T, st *store.Store) (mgmt *napi.Client, token func(name, rules string) *napi.Client) {
	t.Helper()
	res := &access.Resolver{Store: st}
	ts, _ := serveNomad(t, &Server{Store: st, Name: "t", Version: "test", Gate: &access.Gate{ACL: res, Objects: st},
		ACL: &access.Service{Store: st, Resolver: res}})
	client := func(secret string) *napi.Client {
		c, err := napi.NewClient(&napi.Config{Address: ts.URL, SecretID: secret})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	boot, _, err := client("").ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	mgmt = client(boot.SecretID)
	token = func(name, rules string) *napi.Client {
		t.Helper()
		if _, err := mgmt.ACLPolicies().Upsert(&napi.ACLPolicy{Name: name, Rules: rules}, nil); err != nil {
			t.Fatal(err)
		}
		tok, _, err := mgmt.ACLTokens().Create(&napi.ACLToken{Type: "client", Policies: []string{name}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return client(tok.SecretID)
	}
	return mgmt, token
}

// mockJob is a service job of one group "g" of one mock task that runs an
// hour, in Nomad's api form.
func mockJob(id string) *napi.Job {
	job := napi.NewServiceJob(id, id, "global", 50)
	job.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", "1h")))
	return job
}
