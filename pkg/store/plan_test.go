package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
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

// TestAnAllocationRecordLeavesOutAModifyTimeEqualToItsCreateTime checks
// the compact record: no modify_time while it equals create_time, and
// every way of reading the record (a read, a list, the cache, a change
// handed to a subscriber) gives it back.
func TestAnAllocationRecordLeavesOutAModifyTimeEqualToItsCreateTime(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	c := runCache(t, s)
	created := time.Date(2026, 12, 2, 21, 6, 26, 4_123_456, time.UTC)
	fresh := alloc("fresh", "n1")
	fresh.CreateTime, fresh.ModifyTime = created, created
	changed := alloc("changed", "n1")
	changed.CreateTime, changed.ModifyTime = created, created.Add(time.Second)
	if _, err := s.CommitPlan(ctx, &Commit{Allocs: []*api.Allocation{fresh, changed}}); err != nil {
		t.Fatal(err)
	}
	ms := created.Truncate(time.Millisecond)
	want := map[string]time.Time{"fresh": ms, "changed": ms.Add(time.Second)}
	for id, wantModify := range want {
		resp, err := cli.Get(ctx, "/test/allocs/n1/"+id)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("reading %s: %v", id, err)
		}
		if has := strings.Contains(string(resp.Kvs[0].Value), `"modify_time"`); has != (id == "changed") {
			t.Errorf("record of %s: %s", id, resp.Kvs[0].Value)
		}
		a, err := s.ReadAlloc(ctx, "n1", id)
		if err != nil {
			t.Fatal(err)
		}
		if !a.ModifyTime.Equal(wantModify) || !a.CreateTime.Equal(ms) {
			t.Errorf("read %s: created %s modified %s, want %s %s", id, a.CreateTime, a.ModifyTime, ms, wantModify)
		}
		d, err := Decode[api.Allocation](Change{Value: resp.Kvs[0].Value})
		if err != nil || !d.ModifyTime.Equal(wantModify) {
			t.Errorf("decoded change of %s: %v %v", id, d, err)
		}
	}
	listed, err := s.ListAllocs(ctx, AllocFilter{})
	if err != nil || len(listed) != 2 {
		t.Fatalf("list: %d %v", len(listed), err)
	}
	for _, a := range listed {
		if !a.ModifyTime.Equal(want[a.ID]) {
			t.Errorf("listed %s: modified %s", a.ID, a.ModifyTime)
		}
	}
	cached, err := c.Allocs(ctx, func(*api.Allocation) bool { return true })
	if err != nil || len(cached) != 2 {
		t.Fatalf("cache: %d %v", len(cached), err)
	}
	for _, a := range cached {
		if !a.ModifyTime.Equal(want[a.ID]) {
			t.Errorf("cached %s: modified %s", a.ID, a.ModifyTime)
		}
	}
}
