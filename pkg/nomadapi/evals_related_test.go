package nomadapi

import "testing"

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
