package nomadapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestRelatedEvaluationsFollowTheLinksBothWays(t *testing.T) {
	a := &Evaluation{ID: "a", NextEval: "b"}
	b := &Evaluation{ID: "b", PreviousEval: "a", BlockedEval: "c"}
	c := &Evaluation{ID: "c", PreviousEval: "b", NextEval: "a"} // a cycle back
	lone := &Evaluation{ID: "d"}
	all := []*Evaluation{a, b, c, lone, {ID: "e", PreviousEval: "gone"}}
	var got []string
	for _, s := range relatedEvals(b, all) {
		got = append(got, s.ID)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("related to b: %v", got)
	}
	if r := relatedEvals(lone, all); len(r) != 0 {
		t.Fatalf("related to a lone evaluation: %v", r)
	}
	if r := relatedEvals(all[4], all); len(r) != 0 {
		t.Fatalf("a link to an evaluation that is gone: %v", r)
	}
}

// The blocked part of an evaluation keeps its ID once the evaluation is
// no longer blocked (placed since): an ID a
// list showed is still found, with what the evaluation ended as.
func TestABlockedPartOutlivesItsBlock(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/blockedpart")
	ctx := context.Background()
	e, err := st.CreateEval(ctx, "default", "web", "job-register", "", time.Now(), store.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	e.Status = api.EvalStatusBlocked
	if err := st.UpdateEvals(ctx, []*api.Evaluation{e}, store.Guard{}); err != nil {
		t.Fatal(err)
	}
	c := nomadClient(t, &Server{Store: st, Name: "t", Version: "test"})
	list, _, err := c.Evaluations().List(nil)
	if err != nil || len(list) != 2 {
		t.Fatalf("evaluations of a blocked one: %+v %v", list, err)
	}
	id := blockedID(e.ID)
	e.Status = api.EvalStatusComplete
	if err := st.UpdateEvals(ctx, []*api.Evaluation{e}, store.Guard{}); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Evaluations().Info(id, nil)
	if err != nil || got.ID != id || got.Status != api.EvalStatusComplete || got.PreviousEval != e.ID {
		t.Fatalf("the blocked part after its evaluation completed: %+v %v", got, err)
	}
	// nomad eval status ID looks it up by prefix first.
	if l, _, err := c.Evaluations().PrefixList(id[:8]); err != nil || len(l) != 1 || l[0].ID != id {
		t.Fatalf("the blocked part by its short ID: %+v %v", l, err)
	}
	if l, _, err := c.Evaluations().List(nil); err != nil || len(l) != 1 {
		t.Fatalf("the list once the evaluation is done: %+v %v", l, err)
	}
	if _, _, err := c.Evaluations().Info(blockedID("nope"), nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("the blocked part of no evaluation: %v", err)
	}
}
