package nomadapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyringtest"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/nomadic-project/nomadic/pkg/variables"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestJobRunKeepsTheSourceInspectHCLReads(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/nsrc")
	kr := keyringtest.Running(t, st)
	ts := httptest.NewServer((&Server{Store: st, Name: "t", Version: "test", Vars: &variables.Service{Store: st, Keyring: kr}}).Handler())
	t.Cleanup(ts.Close)
	c, err := napi.NewClient(&napi.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	job := func(cmd string) *napi.Job {
		j := napi.NewServiceJob("src", "src", "global", 50)
		j.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", cmd)))
		return j
	}
	source := "variable \"pw\" {}\njob \"src\" {\n  # the file as written\n}\n"
	// What nomad job run sends: the file, its -var flags and var-file.
	resp, _, err := c.Jobs().RegisterOpts(job("1s"), &napi.RegisterOptions{Submission: &napi.JobSubmission{
		Source: source, Format: "hcl2", VariableFlags: map[string]string{"pw": "s3cret-flag"}, Variables: "region = \"s3cret-file\"\n"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Warnings != "" {
		t.Fatalf("warnings: %q", resp.Warnings)
	}
	sub, _, err := c.Jobs().Submission("src", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Source != source || sub.Format != "hcl2" || sub.VariableFlags["pw"] != "s3cret-flag" || sub.Variables != "region = \"s3cret-file\"\n" {
		t.Fatalf("submission of version 0: %+v", sub)
	}
	// The variables are sealed in etcd, never in plain text.
	raw, err := cli.Get(context.Background(), "/nsrc/jobsources/", clientv3.WithPrefix())
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("stored sources: %v %v", raw, err)
	}
	if v := string(raw.Kvs[0].Value); strings.Contains(v, "s3cret") || !strings.Contains(v, "the file as written") {
		t.Fatalf("the stored source: %s", v)
	}

	// The same job from the file again with a comment changed: still
	// version 0, whose source is the latest file.
	again := strings.Replace(source, "as written", "as edited", 1)
	if _, _, err := c.Jobs().RegisterOpts(job("1s"), &napi.RegisterOptions{Submission: &napi.JobSubmission{Source: again, Format: "hcl2"}}, nil); err != nil {
		t.Fatal(err)
	}
	if sub, _, err = c.Jobs().Submission("src", 0, nil); err != nil || sub.Source != again || len(sub.VariableFlags) != 0 {
		t.Fatalf("submission of the unchanged version: %+v %v", sub, err)
	}
	// A new version registered without a file (the API, nctl) has no
	// source; the earlier version keeps its own.
	if _, _, err := c.Jobs().Register(job("2s"), nil); err != nil {
		t.Fatal(err)
	}
	var ue napi.UnexpectedResponseError
	if _, _, err := c.Jobs().Submission("src", 1, nil); !errors.As(err, &ue) || ue.StatusCode() != 404 || !strings.Contains(err.Error(), "job source not found") {
		t.Fatalf("submission of version 1: %v", err)
	}
	if sub, _, err = c.Jobs().Submission("src", 0, nil); err != nil || sub.Source != again {
		t.Fatalf("submission of version 0 after version 1: %+v %v", sub, err)
	}
	// A file over what is kept for a version is not kept, and the
	// registration says so.
	big := strings.Repeat("# padding\n", maxSourceBytes/10+1)
	resp, _, err = c.Jobs().RegisterOpts(job("3s"), &napi.RegisterOptions{Submission: &napi.JobSubmission{Source: big, Format: "hcl2"}}, nil)
	if err != nil || !strings.Contains(resp.Warnings, "was not kept") {
		t.Fatalf("a source too large: %+v %v", resp, err)
	}
	if _, _, err := c.Jobs().Submission("src", 2, nil); !errors.As(err, &ue) || ue.StatusCode() != 404 {
		t.Fatalf("submission of version 2: %v", err)
	}
	if _, _, err := c.Jobs().Submission("no-such-job", 0, nil); !errors.As(err, &ue) || ue.StatusCode() != 404 {
		t.Fatalf("submission of a job that does not exist: %v", err)
	}
	// Purging the job and its history removes its sources.
	if _, _, err := c.Jobs().Deregister("src", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.PurgeJobHistory(context.Background(), "default", "src", store.Guard{}); err != nil {
		t.Fatal(err)
	}
	if raw, err = cli.Get(context.Background(), "/nsrc/jobsources/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || raw.Count != 0 {
		t.Fatalf("sources left after the purge: %d %v", raw.Count, err)
	}
}
