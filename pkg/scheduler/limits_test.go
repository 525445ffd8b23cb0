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
