package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// A plan's stops on a node commit no later than its placements there: the
// units come ordered by node, and on a node the stops first, whatever the
// order the plan listed them in (placements first, as the scheduler does).
func TestPlanUnitsPutStopsBeforePlacementsOnTheirNode(t *testing.T) {
	t.Parallel()
	run := func(id, node string) *api.Allocation {
		return &api.Allocation{ID: id, NodeID: node, DesiredStatus: api.AllocDesiredRun}
	}
	stop := func(id, node string) *api.Allocation {
		return &api.Allocation{ID: id, NodeID: node, DesiredStatus: api.AllocDesiredStop}
	}
	prev := stop("old", "n1")
	prev.NextAllocation = "repl"
	repl := run("repl", "n3")
	repl.PreviousAllocation = "old"
	in := []*api.Allocation{run("p1", "n2"), run("p2", "n1"), run("p3", "n2"), repl, stop("s1", "n2"), prev, stop("s2", "n1")}
	var got []string
	for _, u := range inUnits(in) {
		var ids []string
		for _, a := range u {
			ids = append(ids, a.ID)
		}
		got = append(got, strings.Join(ids, "+"))
	}
	want := "old+repl s2 p2 s1 p1 p3"
	if fmt.Sprint(strings.Join(got, " ")) != want {
		t.Fatalf("units %v, want %s", got, want)
	}
}
