package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestNodesLongDownArePurgedAndOrphansEvaluated runs the collector's node
// pass on a real etcd: a node down for NodeAge with nothing live goes, a
// down node that still has a live allocation stays, a ready node stays,
// and a live allocation on a node that no longer exists gets its job
// evaluated.
func TestNodesLongDownArePurgedAndOrphansEvaluated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testutil.Etcd(t), "/gcn")
	for _, id := range []string{"gone", "busy", "ready"} {
		if err := st.PutNode(ctx, &api.Node{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := st.NewSession(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Revoke(ctx)
	if err := st.PutHeartbeat(ctx, "ready", sess.Lease()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	allocs := []*api.Allocation{
		// Kept while its node is away (a held or disconnected allocation).
		{ID: "a1", Namespace: "default", JobID: "web", NodeID: "busy", DesiredStatus: api.AllocDesiredRun, DisconnectTime: now},
		{ID: "a2", Namespace: "default", JobID: "web", NodeID: "gone", DesiredStatus: api.AllocDesiredStop, NodeLost: true, Status: &api.AllocStatus{ClientStatus: api.AllocClientRunning}},
		{ID: "a3", Namespace: "default", JobID: "orphan", NodeID: "purged-long-ago", DesiredStatus: api.AllocDesiredRun, Status: &api.AllocStatus{ClientStatus: api.AllocClientRunning}},
	}
	gc := &GC{Store: st, NodeAge: time.Hour}
	// The first pass only notes when it saw each node down.
	if err := gc.collectNodes(ctx, allocs, now); err != nil {
		t.Fatal(err)
	}
	listed := func() map[string]bool {
		ns, err := st.ListNodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, n := range ns {
			out[n.ID] = true
		}
		return out
	}
	if got := listed(); len(got) != 3 {
		t.Fatalf("after the first pass: %v", got)
	}
	evals, err := st.ListEvals(ctx, "default", "orphan")
	if err != nil || len(evals) != 1 || evals[0].TriggeredBy != api.EvalTriggerNodeUpdate {
		t.Fatalf("evaluations of the orphaned allocation's job: %+v %v", evals, err)
	}
	// Not yet an hour.
	if err := gc.collectNodes(ctx, allocs, now.Add(59*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 3 {
		t.Fatalf("purged before NodeAge: %v", got)
	}
	if err := gc.collectNodes(ctx, allocs, now.Add(61*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := listed(); got["gone"] || !got["busy"] || !got["ready"] {
		t.Fatalf("after NodeAge: %v", got)
	}
	// A pending evaluation is not doubled.
	if evals, _ := st.ListEvals(ctx, "default", "orphan"); len(evals) != 1 {
		t.Fatalf("%d evaluations of the orphan's job", len(evals))
	}

	// An operator's purge: refused for the ready node, done for a down
	// one with its jobs evaluated, not found afterwards.
	_, err = nodes.Purge(ctx, st, "ready", now)
	var live *store.NodeLiveError
	if !errors.As(err, &live) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("purging a ready node: %v", err)
	}
	ids, err := nodes.Purge(ctx, st, "busy", now)
	if err != nil {
		t.Fatal(err)
	}
	// The allocations above were never written to etcd, so there is no
	// job to evaluate (the e2e of a mass outage covers that).
	if len(ids) != 0 {
		t.Fatalf("evaluations of a node without allocations in etcd: %v", ids)
	}
	if got := listed(); got["busy"] {
		t.Fatalf("purged node still listed: %v", got)
	}
	if _, err := nodes.Purge(ctx, st, "busy", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purging it again: %v", err)
	}
}

// TestTheHoldOutlastsTheOutageByTheRecoveryTime drives the liveness
// controller's hold on a real etcd with a fake clock: set when most nodes
// are down, kept once they are back until Recovery passed (nodes still
// reconnecting are not replaced on the way), then removed.
func TestTheHoldOutlastsTheOutageByTheRecoveryTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testutil.Etcd(t), "/hold")
	now := time.Now()
	c := &NodeLiveness{Store: st, Now: func() time.Time { return now }, Recovery: time.Minute}
	steps := []struct {
		after       time.Duration
		down, total int
		held, key   bool
	}{
		{0, 1, 10, false, false},                // one node down: replaced as usual
		{0, 8, 10, true, true},                  // most down: held
		{10 * time.Second, 2, 10, true, true},   // most back: still held...
		{50 * time.Second, 2, 10, true, true},   // ...for the recovery minute
		{11 * time.Second, 2, 10, false, false}, // then the two left are replaced
		{0, 1, 10, false, false},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		held, err := c.hold(ctx, s.down, s.total)
		if err != nil {
			t.Fatal(err)
		}
		h, err := st.GetNodeHold(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if held != s.held || (h != nil) != s.key {
			t.Fatalf("step %d (%d of %d down): held %v, hold key %+v", i, s.down, s.total, held, h)
		}
	}
	// A stall of etcd sets the hold however few nodes are down, for the
	// recovery time from when etcd answered again.
	c.Stalls = &StallWatch{}
	c.Stalls.record(8*time.Second, time.Now())
	for i, s := range []struct {
		after     time.Duration
		held, key bool
	}{{0, true, true}, {0, true, true}, {time.Minute, false, false}} {
		if s.after > 0 {
			// The stall is measured on the monotonic clock: make it older.
			c.Stalls.record(8*time.Second, time.Now().Add(-s.after))
			c.stallSeen = time.Time{}
		}
		now = now.Add(s.after)
		held, err := c.hold(ctx, 2, 10)
		if err != nil {
			t.Fatal(err)
		}
		h, err := st.GetNodeHold(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if held != s.held || (h != nil) != s.key || (h != nil && !strings.Contains(h.Reason, "etcd stalled for 8s")) {
			t.Fatalf("after a stall, step %d: held %v, hold key %+v", i, held, h)
		}
	}
	// Scheduling passes read it with the scheduler's configuration.
	if err := st.PutNodeHold(ctx, &store.NodeHold{Since: now, Down: 8, Nodes: 10}, store.Guard{}); err != nil {
		t.Fatal(err)
	}
	cfg, h, err := st.GetSchedulingState(ctx)
	if err != nil || cfg.Algorithm != "binpack" || h == nil || h.Down != 8 {
		t.Fatalf("scheduling state: %+v %+v %v", cfg, h, err)
	}
}

func TestEtcdUsersOfNodesWithoutARecordAreRemovedAfterNodeAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli := testutil.Etcd(t)
	st := store.New(cli, "/gcu")
	users := store.NewNodeUsers(cli, "/gcu")
	st.UseNodeUsers(users)
	// Another cluster's node user on the same etcd is not this cluster's.
	other := store.NewNodeUsers(cli, "/gcu/other")
	for _, id := range []string{"kept", "ghost"} {
		if _, err := users.Join(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Join(ctx, "ghost", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.PutNode(ctx, &api.Node{ID: "kept", Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	sess, err := st.NewSession(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Revoke(ctx)
	if err := st.PutHeartbeat(ctx, "kept", sess.Lease()); err != nil {
		t.Fatal(err)
	}
	gc := &GC{Store: st, NodeAge: time.Hour}
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(59 * time.Minute), now.Add(61 * time.Minute)} {
		if err := gc.collectNodes(ctx, nil, at); err != nil {
			t.Fatal(err)
		}
		ghost, err := users.Exists(ctx, "ghost")
		if err != nil {
			t.Fatal(err)
		}
		if want := at.Sub(now) < time.Hour; ghost != want {
			t.Fatalf("%v after the first pass: ghost's user exists %v, want %v", at.Sub(now), ghost, want)
		}
	}
	for name, u := range map[string]*store.NodeUsers{"the node with a record": users, "the other cluster's": other} {
		id := "kept"
		if u == other {
			id = "ghost"
		}
		if ok, err := u.Exists(ctx, id); !ok || err != nil {
			t.Fatalf("%s user: %v %v", name, ok, err)
		}
	}
}

// A node that just registered and was never ready is joining, not down:
// a cluster's first nodes registering together do not look like a mass
// failure. One seen ready before, or registered long ago, is down.
func TestNodesJoiningAreNotCountedDown(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := &NodeLiveness{}
	node := func(id, status string, registered time.Duration) *api.Node {
		return &api.Node{ID: id, Status: status, RegisterTime: now.Add(-registered)}
	}
	nodes := []*api.Node{
		node("ready", api.NodeStatusReady, time.Hour),
		node("new1", api.NodeStatusDown, time.Second),
		node("new2", api.NodeStatusDown, 2*time.Second),
		node("new3", api.NodeStatusDown, 3*time.Second),
		node("old", api.NodeStatusDown, time.Hour),
		{ID: "unknown-age", Status: api.NodeStatusDown},
	}
	if down, total := c.census(nodes, now); down != 2 || total != 3 {
		t.Fatalf("down %d of %d, want 2 of 3 (the joining ones not counted)", down, total)
	}
	// new1 had a heartbeat once: its going down counts.
	c.sawReady("new1")
	if down, total := c.census(nodes, now); down != 3 || total != 4 {
		t.Fatalf("down %d of %d after new1 was seen ready, want 3 of 4", down, total)
	}
	// Past the grace, every node that is not ready is down.
	if down, total := c.census(nodes, now.Add(joinGrace)); down != 5 || total != 6 {
		t.Fatalf("down %d of %d after the grace, want 5 of 6", down, total)
	}
}

// Many nodes losing their heartbeat within a minute hold the allocations
// of those down, even when few are down at any one moment (leases
// starved by an overloaded etcd expire here and there); once the window
// passed and the recovery time too, the hold ends.
func TestNodesFlappingTogetherAreHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testutil.Etcd(t), "/flap")
	now := time.Now()
	c := &NodeLiveness{Store: st, Now: func() time.Time { return now }, Recovery: time.Minute}
	// 40 of 1,000 nodes went down lately: below the share, replaced as usual.
	for i := 0; i < 40; i++ {
		c.noteDown(fmt.Sprintf("n%d", i), now.Add(-time.Duration(i)*time.Second))
	}
	if held, err := c.hold(ctx, 2, 1000); err != nil || held {
		t.Fatalf("40 of 1,000 down within the window: held %v, %v", held, err)
	}
	// 150 of them: held, though only 2 are down now.
	for i := 40; i < 150; i++ {
		c.noteDown(fmt.Sprintf("n%d", i), now)
	}
	held, err := c.hold(ctx, 2, 1000)
	if err != nil || !held {
		t.Fatalf("150 of 1,000 down within the window: held %v, %v", held, err)
	}
	if h, err := st.GetNodeHold(ctx); err != nil || h == nil || !strings.Contains(h.Reason, "lost their heartbeat within") {
		t.Fatalf("hold key %+v %v", h, err)
	}
	// The window passes: still held for the recovery time, then released.
	now = now.Add(flapWindow + time.Second)
	if held, err := c.hold(ctx, 2, 1000); err != nil || !held {
		t.Fatalf("just after the window: held %v, %v", held, err)
	}
	now = now.Add(time.Minute + time.Second)
	if held, err := c.hold(ctx, 2, 1000); err != nil || held {
		t.Fatalf("after the recovery time: held %v, %v", held, err)
	}
	if h, _ := st.GetNodeHold(ctx); h != nil {
		t.Fatalf("hold key left: %+v", h)
	}
}
