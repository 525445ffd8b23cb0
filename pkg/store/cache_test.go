package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// view renders a snapshot as sorted lines, to compare two of them.
func view(s *Snapshot) string {
	var lines []string
	for _, n := range s.Nodes {
		lines = append(lines, fmt.Sprintf("node %s %s eligible=%v drain=%v", n.ID, n.Status, n.Eligible, n.Drain != nil))
	}
	for _, a := range s.Allocs {
		lines = append(lines, fmt.Sprintf("alloc %s %s %s %s", a.ID, a.NodeID, a.DesiredStatus, a.ClientStatusOf()))
	}
	for k, v := range s.NodePlanRevs {
		lines = append(lines, fmt.Sprintf("plan %s %d", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// jobView renders a job snapshot's indexes as sorted lines.
func jobView(s *JobSnapshot) string {
	var lines []string
	for node, u := range s.Usage {
		if len(u.Allocs) == 0 {
			continue
		}
		ids := []string{}
		for _, a := range u.Allocs {
			// With its record, not its status: a node's list may hold
			// an earlier object of a live allocation (Cache.track).
			ids = append(ids, fmt.Sprintf("%s:%s:v%d:%s", a.ID, a.JobID, a.JobVersion, a.DesiredStatus))
		}
		sort.Strings(ids)
		lines = append(lines, fmt.Sprintf("usage %s %+v %v", node, u.Used, ids))
	}
	for _, a := range s.JobAllocs {
		lines = append(lines, "job alloc "+a.ID+" "+a.ClientStatusOf())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// runCache runs a cache of the store until the test ends.
func runCache(tb testing.TB, s *Store) *Cache {
	ctx, cancel := context.WithCancel(context.Background())
	c := NewCache(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	tb.Cleanup(func() { cancel(); <-done })
	return c
}

func TestCacheSnapshotsMatchEtcdAfterEveryKindOfChange(t *testing.T) {
	s := populated(t, 20, 100)
	ctx := context.Background()
	c := runCache(t, s)
	same := func(step string) {
		t.Helper()
		fromCache, err := c.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fromEtcd, err := s.readSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := view(fromCache), view(fromEtcd); got != want {
			t.Fatalf("%s: cache and etcd differ\ncache:\n%s\netcd:\n%s", step, got, want)
		}
		// The cache's per-node usage and per-job indexes are what a
		// snapshot of everything says.
		jobs := map[[2]string]bool{}
		for _, a := range fromEtcd.Allocs {
			jobs[[2]string{a.Namespace, a.JobID}] = true
		}
		for j := range jobs {
			js, err := c.JobSnapshot(ctx, j[0], j[1])
			if err != nil {
				t.Fatal(err)
			}
			if got, want := jobView(js), jobView(jobSnapshotOf(fromEtcd, j[0], j[1])); got != want {
				t.Fatalf("%s: job %v: cache's indexes and etcd differ\ncache:\n%s\netcd:\n%s", step, j, got, want)
			}
		}
		byNode := map[string][]string{}
		for _, a := range fromEtcd.Allocs {
			byNode[a.NodeID] = append(byNode[a.NodeID], a.ID+" "+a.ClientStatusOf())
		}
		for _, n := range fromEtcd.Nodes {
			got, err := c.NodeAllocs(ctx, n.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID+" "+a.ClientStatusOf())
			}
			sort.Strings(ids)
			want := byNode[n.ID]
			sort.Strings(want)
			if strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Fatalf("%s: node %s: cache's index has %v, etcd %v", step, n.ID, ids, want)
			}
		}
	}
	same("after the list")
	put := func(key string, v any) {
		if _, err := s.cli.Put(ctx, key, encode(v)); err != nil {
			t.Fatal(err)
		}
	}
	put(s.keys.AllocStatus("node-00003", "alloc-000003"), &api.AllocStatus{ClientStatus: api.AllocClientFailed})
	same("a status change")
	put(s.keys.AllocStatus("node-00010", "alloc-000010"), &api.AllocStatus{ClientStatus: api.AllocClientRunning})
	same("a status that keeps the allocation live")
	put(s.keys.AllocStatus("node-00010", "alloc-000010"), &api.AllocStatus{ClientStatus: api.AllocClientComplete})
	same("a status that ends it")
	if _, err := s.cli.Delete(ctx, s.keys.Heartbeat("node-00004")); err != nil {
		t.Fatal(err)
	}
	same("a heartbeat gone")
	put(s.keys.NodeAdmin("node-00005"), &NodeAdmin{Eligible: false, Drain: &api.DrainStrategy{}})
	same("a drain")
	put(s.keys.Alloc("node-00006", "alloc-new"), &api.Allocation{ID: "alloc-new", NodeID: "node-00006", DesiredStatus: api.AllocDesiredRun})
	if _, err := s.cli.Put(ctx, s.keys.NodePlan("node-00006"), ""); err != nil {
		t.Fatal(err)
	}
	same("a placement")
	if _, err := s.cli.Delete(ctx, s.keys.Alloc("node-00007", "alloc-000007")); err != nil {
		t.Fatal(err)
	}
	same("an allocation deleted")
	put(s.keys.Node("node-00008"), &api.Node{ID: "node-00008", Name: "renamed"})
	same("a node record rewritten")

	// Writes outside the cluster's prefix move etcd's revision without an
	// event for the cache: it catches up through a progress notification,
	// well before it would give up and read etcd.
	for i := 0; i < 5; i++ {
		if _, err := s.cli.Put(ctx, "/elsewhere/key", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !c.waitFor(ctx, rev) {
		t.Fatalf("cache did not reach revision %d (at %d)", rev, c.Revision())
	}
	if d := time.Since(start); d > maxCacheStall/2 {
		t.Fatalf("catching up took %v", d)
	}
	same("writes elsewhere")
}

func TestStoreReadsSnapshotsFromItsCache(t *testing.T) {
	s := populated(t, 3, 3)
	ctx := context.Background()
	c := runCache(t, s)
	s.UseCache(c)
	defer s.UseCache(nil)
	// A plan committed through the store is in the next snapshot.
	a := &api.Allocation{ID: "placed", Namespace: "default", JobID: "j", NodeID: "node-00001", DesiredStatus: api.AllocDesiredRun}
	snap, err := s.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitPlan(ctx, &Commit{Allocs: []*api.Allocation{a}, Placing: map[string]bool{a.NodeID: true}, NodePlanRevs: snap.NodePlanRevs}); err != nil {
		t.Fatal(err)
	}
	snap, err = s.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range snap.Allocs {
		found = found || x.ID == "placed"
	}
	if !found || snap.NodePlanRevs["node-00001"] == 0 {
		t.Fatalf("the committed plan is not in the next snapshot: found %v, plan rev %d", found, snap.NodePlanRevs["node-00001"])
	}
	// The same stale snapshot cannot commit again: its node revision moved.
	stale := &Commit{Allocs: []*api.Allocation{{ID: "again", NodeID: "node-00001"}}, Placing: map[string]bool{"node-00001": true},
		NodePlanRevs: map[string]int64{"node-00001": 0}}
	if _, err := s.CommitPlan(ctx, stale); err != ErrConflict {
		t.Fatalf("stale plan: %v", err)
	}
}

func TestStoreListsFromItsCacheLikeFromEtcd(t *testing.T) {
	s := populated(t, 10, 50)
	ctx := context.Background()
	c := runCache(t, s)
	render := func(allocs []*api.Allocation, nodes []*api.Node) string {
		var b strings.Builder
		for _, a := range allocs {
			fmt.Fprintf(&b, "%s %s %s %s\n", a.ID, a.Name, a.NodeID, a.ClientStatusOf())
		}
		for _, n := range nodes {
			fmt.Fprintf(&b, "%s %s %v\n", n.ID, n.Status, n.Eligible)
		}
		return b.String()
	}
	read := func() string {
		all, err := s.ListAllocs(ctx, AllocFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byJob, err := s.ListAllocs(ctx, AllocFilter{Namespace: "default", JobID: "job7"})
		if err != nil {
			t.Fatal(err)
		}
		byNode, err := s.ListAllocs(ctx, AllocFilter{NodeID: "node-00003"})
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := s.ListNodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		one, err := s.GetAlloc(ctx, "alloc-000004")
		if err != nil {
			t.Fatal(err)
		}
		return render(all, nodes) + render(byJob, nil) + render(byNode, nil) + render([]*api.Allocation{one}, nil)
	}
	fromEtcd := read()
	s.UseCache(c)
	defer s.UseCache(nil)
	if fromCache := read(); fromCache != fromEtcd {
		t.Fatalf("cache:\n%s\netcd:\n%s", fromCache, fromEtcd)
	}
	// What a caller does to a listed allocation does not reach the cache.
	all, _ := s.ListAllocs(ctx, AllocFilter{})
	all[0].DesiredStatus = "scribbled"
	if again, _ := s.ListAllocs(ctx, AllocFilter{}); again[0].DesiredStatus == "scribbled" {
		t.Fatal("a caller's change reached the cache")
	}
	if _, err := s.GetAlloc(ctx, "alloc-0000"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("ambiguous prefix: %v", err)
	}
}

// A revision is complete only once every event of it is applied: a plan
// commits many allocations in one transaction, and a scheduling pass let
// through after the first of them saw part of its own plan and placed
// the rest again.
func TestCacheReachesARevisionOnlyWhenAllItsEventsAreApplied(t *testing.T) {
	s := New(nil, "/test")
	c := NewCache(s)
	c.Replace(map[string]listed{}, 9)
	if r := c.Revision(); r != 9 {
		t.Fatalf("after the list: revision %d, want 9", r)
	}
	for i := range 3 {
		id := fmt.Sprintf("alloc-%d", i)
		a := &api.Allocation{ID: id, Namespace: "default", JobID: "web", NodeID: "n1", DesiredStatus: api.AllocDesiredRun}
		c.Apply(Event{Key: s.keys.Alloc("n1", id), Value: []byte(encode(a)), Rev: 10, Create: 10})
		if r := c.Revision(); r != 9 {
			t.Fatalf("after %d of the events of revision 10: the cache says it reached %d", i+1, r)
		}
	}
	c.Progress(10)
	if r := c.Revision(); r != 10 {
		t.Fatalf("after the whole response: revision %d, want 10", r)
	}
}

// A cache that is behind but applying events is waited for, past the
// stall bound; one whose revision stands still is given up on after it,
// so that the store reads etcd instead.
func TestCacheWaitsWhileItCatchesUpAndGivesUpWhenStuck(t *testing.T) {
	t.Parallel()
	c := NewCache(populated(t, 1, 1)) // never run: its revision moves by hand
	c.mu.Lock()
	c.synced, c.rev = true, 100
	c.mu.Unlock()
	ctx := context.Background()

	// Stuck: no revision moves.
	start := time.Now()
	if c.waitFor(ctx, 200) {
		t.Fatal("a stuck cache reported revision 200")
	}
	if d := time.Since(start); d < maxCacheStall || d > maxCacheStall+2*time.Second {
		t.Fatalf("gave up after %v, want about %v", d, maxCacheStall)
	}

	// Catching up: one revision every stall/4, reaching the target
	// after twice the stall bound.
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(maxCacheStall / 4)
		defer tick.Stop()
		for i := 1; i <= 8; i++ {
			<-tick.C
			c.Progress(100 + int64(i))
		}
	}()
	start = time.Now()
	if !c.waitFor(ctx, 108) {
		t.Fatalf("a cache catching up was given up on after %v at revision %d", time.Since(start), c.Revision())
	}
	if d := time.Since(start); d < maxCacheStall {
		t.Fatalf("reached revision 108 after only %v", d)
	}
	<-done
}

// A node's DownSince is when the cache saw its heartbeat go; it is cleared
// when the heartbeat comes back.
func TestCacheRecordsWhenANodeWentDown(t *testing.T) {
	s := New(nil, "/test")
	c := NewCache(s)
	c.Replace(map[string]listed{}, 1)
	n := &api.Node{ID: "n1", Name: "n1", Eligible: true}
	c.Apply(Event{Key: s.keys.Node("n1"), Value: []byte(encode(n)), Rev: 2, Create: 2})
	c.Apply(Event{Key: s.keys.Heartbeat("n1"), Rev: 3, Create: 3})
	node := func() *api.Node {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.nodes["n1"]
	}
	if got := node(); got.Status != api.NodeStatusReady || !got.DownSince.IsZero() {
		t.Fatalf("with its heartbeat: %s since %v", got.Status, got.DownSince)
	}
	before := time.Now()
	c.Apply(Event{Key: s.keys.Heartbeat("n1"), Delete: true, Rev: 4})
	if got := node(); got.Status != api.NodeStatusDown || got.DownSince.Before(before) || time.Since(got.DownSince) > time.Minute {
		t.Fatalf("heartbeat gone: %s since %v", got.Status, got.DownSince)
	}
	c.Apply(Event{Key: s.keys.Heartbeat("n1"), Rev: 5, Create: 5})
	if got := node(); got.Status != api.NodeStatusReady || !got.DownSince.IsZero() {
		t.Fatalf("heartbeat back: %s since %v", got.Status, got.DownSince)
	}
}

// A new status that leaves an allocation live changes nothing on its
// node (no copy of the node's list); one that ends it takes the
// allocation off, found by its ID.
func TestCacheLeavesANodesListAloneForAStatusThatKeepsItsAllocationLive(t *testing.T) {
	s := populated(t, 2, 10) // alloc-000000 runs on node-00000, with four others
	ctx := context.Background()
	c := runCache(t, s)
	snap, err := c.JobSnapshot(ctx, "default", "job0")
	if err != nil {
		t.Fatal(err)
	}
	before := snap.Usage["node-00000"]
	if before == nil || len(before.Allocs) != 5 {
		t.Fatalf("node-00000's usage: %+v", before)
	}
	if err := s.PutAllocStatus(ctx, "node-00000", "alloc-000000", &api.AllocStatus{ClientStatus: api.AllocClientRunning,
		Health: &api.AllocHealth{Healthy: true}}); err != nil {
		t.Fatal(err)
	}
	if snap, err = c.JobSnapshot(ctx, "default", "job0"); err != nil {
		t.Fatal(err)
	}
	if snap.Usage["node-00000"] != before {
		t.Fatal("a status that keeps the allocation live made a new list for its node")
	}
	if a := snap.JobAllocs[0]; a.ID != "alloc-000000" || a.Status == nil || a.Status.Health == nil {
		t.Fatalf("the job's allocation is not the current object: %+v", a)
	}
	if err := s.PutAllocStatus(ctx, "node-00000", "alloc-000000", &api.AllocStatus{ClientStatus: api.AllocClientComplete}); err != nil {
		t.Fatal(err)
	}
	if snap, err = c.JobSnapshot(ctx, "default", "job0"); err != nil {
		t.Fatal(err)
	}
	after := snap.Usage["node-00000"]
	if len(after.Allocs) != 4 || after.Used.CPU != before.Used.CPU-100 {
		t.Fatalf("after the allocation completed: %d allocations, %+v used (before %+v)", len(after.Allocs), after.Used, before.Used)
	}
	for _, a := range after.Allocs {
		if a.ID == "alloc-000000" {
			t.Fatal("the completed allocation is still in its node's list")
		}
	}
}

func TestCacheAppendsToANodesListWithoutChangingOneASnapshotHolds(t *testing.T) {
	c := &Cache{}
	c.reset()
	ids := func(list []*api.Allocation) string {
		var out []string
		for _, a := range list {
			out = append(out, a.ID)
		}
		return strings.Join(out, ",")
	}
	alloc := func(i int) *api.Allocation { return &api.Allocation{ID: fmt.Sprintf("a%d", i)} }
	var views [][]*api.Allocation
	var list []*api.Allocation
	copies := 0
	for i := range 40 {
		next := c.appendLive("n1", list, alloc(i))
		if len(list) > 0 && &next[0] != &list[0] {
			copies++
		}
		if cap(next) != len(next) {
			t.Fatalf("a list handed out has room past its end: len %d cap %d", len(next), cap(next))
		}
		views = append(views, next)
		list = next
	}
	if copies > 6 { // 4, 8, 16, 32: the room doubles
		t.Fatalf("40 appends copied the list %d times", copies)
	}
	// A reader that appends to a list it holds gets a copy and leaves the
	// cache's room alone.
	mine := append(views[9], alloc(100))
	if ids(views[10]) != ids(append(views[9][:10:10], alloc(10))) || mine[10].ID != "a100" {
		t.Fatalf("a reader's append changed the cache's list: %s", ids(views[10]))
	}
	for i, v := range views {
		if len(v) != i+1 || v[i].ID != fmt.Sprintf("a%d", i) || v[0].ID != "a0" {
			t.Fatalf("view %d changed: %s", i, ids(v))
		}
	}
	// A list that is not the room (the cache replaced or removed an
	// allocation and made a new one) is copied, not appended in place
	// over what the room holds past it.
	replaced := append([]*api.Allocation{alloc(200)}, list[1:]...)
	next := c.appendLive("n1", replaced, alloc(300))
	if next[0].ID != "a200" || next[40].ID != "a300" || list[0].ID != "a0" {
		t.Fatalf("after a replacement: %s (the old list %s)", ids(next), ids(list))
	}
	shorter := list[:20:20]
	next = c.appendLive("n1", shorter, alloc(400))
	if next[20].ID != "a400" || views[20][20].ID != "a20" {
		t.Fatal("an append to a shorter list wrote over an allocation a snapshot holds")
	}
}
