package scheduler

import (
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestAGroupThatFitsNowhereIsCountedNotTriedAllocationByAllocation(t *testing.T) {
	nodes := []*api.Node{node("n1", 1000, 1000), node("n2", 1000, 1000)}
	p := compute(job("huge", api.DefaultMaxCount), nodes, nil)
	// 10 allocations of 100 MHz fit on each node; the rest fit nowhere.
	if len(p.Place) != 20 {
		t.Fatalf("placed %d, want 20", len(p.Place))
	}
	m := p.Failed["g"]
	if m == nil || m.CoalescedFailures != api.DefaultMaxCount-20-1 {
		t.Fatalf("failure metric %+v", m)
	}
	if c := p.Changes["g"]; c.Failed != api.DefaultMaxCount-20 || c.Place != 20 {
		t.Fatalf("changes %+v", c)
	}
}

func TestAPassWhoseContextEndedStopsAndSaysSo(t *testing.T) {
	calls := 0
	p := compute(job("web", 1000), []*api.Node{node("n1", 1_000_000, 1_000_000)}, nil, func(in *Input) {
		in.Cancelled = func() bool { calls++; return calls > 1 }
	})
	if !p.Cancelled {
		t.Fatal("a cancelled pass did not say so")
	}
	if len(p.Place) >= 1000 {
		t.Fatalf("a cancelled pass placed all %d", len(p.Place))
	}
}

func TestAllocationsOfDownNodesAreHeldWhenMostNodesWentDown(t *testing.T) {
	nodes := []*api.Node{node("n1", 1000, 1000), node("n2", 1000, 1000, withStatus(api.NodeStatusDown)),
		node("n3", 1000, 1000, withStatus(api.NodeStatusDown)), node("n4", 1000, 1000, withStatus(api.NodeStatusDown))}
	first := compute(job("web", 4), nodes[:1], nil)
	var allocs []*api.Allocation
	for i, a := range first.Place {
		a.NodeID = nodes[i].ID
		allocs = append(allocs, a)
	}
	running(allocs...)
	held := compute(job("web", 4), nodes, allocs, func(in *Input) { in.Config.HoldDownNodes = true })
	if len(held.Place) != 0 || len(held.Update) != 0 {
		t.Fatalf("held: %d placed, %d updated", len(held.Place), len(held.Update))
	}
	normal := compute(job("web", 4), nodes, allocs)
	if c := normal.Changes["g"]; c.Lost != 3 {
		t.Fatalf("without the hold: %+v", c)
	}
}

func TestHoldDownNeedsMostNodesAndAFew(t *testing.T) {
	for _, tc := range []struct {
		down, total int
		want        bool
	}{{1, 1, false}, {2, 2, false}, {3, 4, true}, {3, 6, false}, {4, 6, true}, {2500, 5000, false}, {2501, 5000, true}} {
		if got := HoldDown(tc.down, tc.total); got != tc.want {
			t.Errorf("HoldDown(%d, %d) = %v", tc.down, tc.total, got)
		}
	}
}
