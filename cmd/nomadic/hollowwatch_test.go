package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// The shared watch streams hand each hollow node the allocations of its
// own prefix: those there when it starts, those placed and stopped later,
// and, after its watch's revision was compacted, what a new listing finds.
func TestHollowWatchesFollowEachNodesPrefix(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/sim")
	ctx, cancel := context.WithCancel(context.Background())
	h := &hollowShared{st: st, cli: cli, leases: newLeaseKeeper(cli, 10*time.Second), watches: newWatchMux(cli, st), jobs: map[string]*jobTasks{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.watches.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	put := func(node string, i int, desired string) string {
		t.Helper()
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		a := &api.Allocation{ID: id, Namespace: "default", JobID: "web", TaskGroup: "g", Index: i, NodeID: node,
			DesiredStatus: desired, Resources: api.Resources{CPU: 10, MemoryMB: 10}}
		if _, err := cli.Put(ctx, st.Keys().Alloc(node, id), string(mustJSON(t, a))); err != nil {
			t.Fatal(err)
		}
		return id
	}
	nodes := make([]*hollowNode, 40) // over more than one stream
	for i := range nodes {
		nodes[i] = newHollowNode(h, &api.Node{ID: fmt.Sprintf("node-%02d", i)})
	}
	before := put(nodes[3].node.ID, 1, api.AllocDesiredRun)
	for i, n := range nodes {
		if err := h.watches.add(ctx, n, i); err != nil {
			t.Fatal(err)
		}
	}
	running := func(n *hollowNode, id string) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		s, ok := n.allocs.get(id)
		return ok && s.state == stateRunning
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	if !running(nodes[3], before) {
		t.Fatal("the allocation there before the watch was not listed")
	}
	var placed []string
	for i, n := range nodes {
		placed = append(placed, put(n.node.ID, 100+i, api.AllocDesiredRun))
	}
	waitFor("every node to see its placement", func() bool {
		for i, n := range nodes {
			if !running(n, placed[i]) {
				return false
			}
		}
		return true
	})
	if got := h.running.Load(); got != int64(len(nodes)+1) {
		t.Fatalf("running %d, want %d", got, len(nodes)+1)
	}
	// Stopped, then deleted.
	put(nodes[7].node.ID, 107, api.AllocDesiredStop)
	waitFor("the stop", func() bool { return !running(nodes[7], placed[7]) })
	if _, err := cli.Delete(ctx, st.Keys().Alloc(nodes[3].node.ID, before)); err != nil {
		t.Fatal(err)
	}
	waitFor("the deletion", func() bool {
		nodes[3].mu.Lock()
		defer nodes[3].mu.Unlock()
		_, ok := nodes[3].allocs.get(before)
		return !ok
	})

	// A node whose watch starts at a compacted revision lists again.
	late := newHollowNode(h, &api.Node{ID: "node-late"})
	there := put(late.node.ID, 500, api.AllocDesiredRun)
	resp, err := cli.Get(ctx, "/sim/revision")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	sh := h.watches.shards[0]
	sh.mu.Lock()
	w := &nodeWatch{n: late, prefix: st.Keys().NodeAllocs(late.node.ID), rev: 1}
	sh.all = append(sh.all, w)
	sh.create = append(sh.create, w)
	sh.mu.Unlock()
	sh.wake()
	waitFor("the compacted watch's listing", func() bool { return running(late, there) })
	after := put(late.node.ID, 501, api.AllocDesiredRun)
	waitFor("an event after the listing", func() bool { return running(late, after) })
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
