package nomadapi

import (
	"context"
	"errors"
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
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test", Vars: &variables.Service{Store: st, Keyring: kr}})
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
	big := strings.Repeat("# padding\n", variables.MaxJobSourceBytes/10+1)
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

func TestJobTagNamesVersionsHistoryAndRevertUse(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/ntag")
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	for _, d := range []string{"1s", "2s", "3s"} {
		j := napi.NewServiceJob("tagged", "tagged", "global", 50)
		j.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", d)))
		if _, _, err := c.Jobs().Register(j, nil); err != nil {
			t.Fatal(err)
		}
	}
	// nomad job tag apply -version 0 -name golden -description …
	if _, err := c.Jobs().TagVersion("tagged", 0, "golden", "the one that worked", nil); err != nil {
		t.Fatal(err)
	}
	// Without -version the CLI tags the latest.
	if _, err := c.Jobs().TagVersionOpts("tagged", "newest", &napi.TagVersionRequest{Latest: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Jobs().TagVersion("tagged", 1, "golden", "", nil); err == nil || !strings.Contains(err.Error(), "already on version 0") {
		t.Fatalf("a name on another version: %v", err)
	}
	if _, err := c.Jobs().TagVersion("tagged", 7, "nope", "", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a version that does not exist: %v", err)
	}
	versions, diffs, _, err := c.Jobs().VersionsOpts("tagged", &napi.VersionsOptions{Diffs: true, DiffTag: "golden"}, nil)
	if err != nil || len(versions) != 3 || len(diffs) != 3 {
		t.Fatalf("versions %d, diffs %d: %v", len(versions), len(diffs), err)
	}
	tags := map[uint64]string{}
	for i, v := range versions {
		if v.VersionTag != nil {
			tags[*v.Version] = v.VersionTag.Name + ":" + v.VersionTag.Description
		}
		if want := map[bool]string{true: "None", false: "Edited"}[*v.Version == 0]; diffs[i].Type != want {
			t.Errorf("version %d against golden: %s, want %s", *v.Version, diffs[i].Type, want)
		}
	}
	if tags[0] != "golden:the one that worked" || tags[2] != "newest:" || len(tags) != 2 {
		t.Fatalf("tags in the history: %v", tags)
	}
	// nomad job revert tagged golden: the CLI finds the version by its tag.
	v, _, err := c.Jobs().VersionByTag("tagged", "golden", nil)
	if err != nil || *v.Version != 0 {
		t.Fatalf("version by tag: %+v %v", v, err)
	}
	info, _, err := c.Jobs().Info("tagged", nil)
	if err != nil || info.VersionTag == nil || info.VersionTag.Name != "newest" {
		t.Fatalf("the current version's tag: %+v %v", info.VersionTag, err)
	}
	// A version takes one tag: a new one replaces it.
	if _, err := c.Jobs().TagVersion("tagged", 2, "release", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Jobs().UntagVersion("tagged", "newest", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("the replaced tag: %v", err)
	}
	if _, err := c.Jobs().UntagVersion("tagged", "golden", nil); err != nil {
		t.Fatal(err)
	}
	if left, err := st.ListJobTags(context.Background(), "default", "tagged"); err != nil || len(left) != 1 || left[0].Name != "release" {
		t.Fatalf("tags left: %+v %v", left, err)
	}
	if _, err := c.Jobs().TagVersion("tagged", 0, strings.Repeat("x", store.MaxTagName+1), "", nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a name too long: %v", err)
	}
	// A purged job registered again under its name (before the collector
	// took its history) has none of the old one's tags.
	if _, _, err := c.Jobs().Deregister("tagged", true, nil); err != nil {
		t.Fatal(err)
	}
	j := napi.NewServiceJob("tagged", "tagged", "global", 50)
	j.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "mock").SetConfig("run_for", "9s")))
	if _, _, err := c.Jobs().Register(j, nil); err != nil {
		t.Fatal(err)
	}
	if left, err := st.ListJobTags(context.Background(), "default", "tagged"); err != nil || len(left) != 0 {
		t.Fatalf("tags of the purged job on the new one: %+v %v", left, err)
	}
}
