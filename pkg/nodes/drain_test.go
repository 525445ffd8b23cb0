package nodes

import (
	"context"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// A drain leaves a record on its node: draining with its meta while it
// runs, canceled when an operator ends it first.
func TestADrainIsRecorded(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/drainrec")
	ctx := context.Background()
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Eligible: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Second)
	if _, err := SetDrain(ctx, st, "n1", Drain{Enable: true, Meta: map[string]string{"reason": "kernel"}}, start); err != nil {
		t.Fatal(err)
	}
	n, err := st.GetNode(ctx, "n1")
	if err != nil || n.LastDrain == nil || n.LastDrain.Status != api.DrainStatusDraining || n.LastDrain.Meta["reason"] != "kernel" || !n.LastDrain.StartedAt.Equal(start) {
		t.Fatalf("while draining: %+v %v", n.LastDrain, err)
	}
	end := start.Add(time.Minute)
	if _, err := SetDrain(ctx, st, "n1", Drain{}, end); err != nil {
		t.Fatal(err)
	}
	n, err = st.GetNode(ctx, "n1")
	if err != nil || n.Drain != nil || n.LastDrain == nil || n.LastDrain.Status != api.DrainStatusCanceled || !n.LastDrain.UpdatedAt.Equal(end) || !n.Eligible {
		t.Fatalf("after the drain was ended: %+v %v", n.LastDrain, err)
	}
}

// A drain changed while it runs keeps its start (and its meta unless new
// meta is given); one started before the records gets one; completion
// leaves a drain cancelled or started again since alone.
func TestADrainRecordFollowsItsDrain(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/drainrec2")
	ctx := context.Background()
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Eligible: true}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Second)
	if _, err := SetDrain(ctx, st, "n1", Drain{Enable: true, Meta: map[string]string{"reason": "kernel"}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := SetDrain(ctx, st, "n1", Drain{Enable: true, Deadline: time.Nanosecond}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, _ := st.GetNode(ctx, "n1")
	if n.LastDrain == nil || !n.LastDrain.StartedAt.Equal(t0) || n.LastDrain.Meta["reason"] != "kernel" || !n.Drain.StartedAt.Equal(t0) {
		t.Fatalf("a drain forced while it runs: %+v %+v", n.LastDrain, n.Drain)
	}
	// A completion for another drain (one started at another time).
	var done bool
	if err := st.UpdateNodeAdmin(ctx, "n1", store.Guard{}, func(a *store.NodeAdmin, _ *store.Txn) {
		done = DrainComplete(a, t0.Add(time.Hour), t0.Add(2*time.Minute))
	}); err != nil || done {
		t.Fatalf("completing another drain: %v %v", done, err)
	}
	// A drain from before the records, then cancelled with meta.
	if err := st.UpdateNodeAdmin(ctx, "n1", store.Guard{}, func(a *store.NodeAdmin, _ *store.Txn) { a.LastDrain = nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := SetDrain(ctx, st, "n1", Drain{Meta: map[string]string{"why": "done by hand"}}, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, _ = st.GetNode(ctx, "n1")
	if n.LastDrain == nil || n.LastDrain.Status != api.DrainStatusCanceled || !n.LastDrain.StartedAt.Equal(t0) || n.LastDrain.Meta["why"] != "done by hand" {
		t.Fatalf("cancelling a drain without a record: %+v", n.LastDrain)
	}
}
