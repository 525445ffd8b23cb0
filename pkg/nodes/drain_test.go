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
