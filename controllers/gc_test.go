package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestTheCollectorKeepsTaggedVersions: versions beyond KeepVersions go,
// unless tagged (nomad job tag apply), and their sources with them.
func TestTheCollectorKeepsTaggedVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testutil.Etcd(t), "/gcv")
	for i := range 5 {
		job := &api.Job{ID: "web", Namespace: "default", Type: api.JobTypeService,
			Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{Name: "t", Driver: "mock", Config: map[string]any{"run_for": fmt.Sprint(i)}}}}}}
		job.Canonicalize()
		if _, err := st.RegisterJobFrom(ctx, job, time.Now(), -1, &store.JobSource{Source: fmt.Sprintf("# version %d", i), Format: "hcl2"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.TagJobVersion(ctx, "default", "web", &store.JobTag{Name: "golden", Version: 1}); err != nil {
		t.Fatal(err)
	}
	gc := &GC{Store: st, KeepVersions: 2, Now: time.Now}
	if err := gc.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	versions, err := st.ListJobVersions(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, v := range versions {
		got = append(got, v.Version)
	}
	if fmt.Sprint(got) != "[1 3 4]" {
		t.Fatalf("versions kept: %v, want the tagged one and the newest two", got)
	}
	for v, want := range map[uint64]bool{0: false, 1: true, 2: false, 3: true, 4: true} {
		if _, err := st.GetJobSource(ctx, "default", "web", v); (err == nil) != want {
			t.Errorf("source of version %d: %v", v, err)
		}
	}
}
