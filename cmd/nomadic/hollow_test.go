package main

import (
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestAllocKeysParseUUIDsOnly(t *testing.T) {
	k, ok := keyOf("0f70b365-ec96-4fd3-abc4-e87e343be5ee")
	want := allocKey{0x0f, 0x70, 0xb3, 0x65, 0xec, 0x96, 0x4f, 0xd3, 0xab, 0xc4, 0xe8, 0x7e, 0x34, 0x3b, 0xe5, 0xee}
	if !ok || k != want {
		t.Fatalf("keyOf = %x, %v; want %x", k, ok, want)
	}
	for _, id := range []string{"", "alloc-1", "0f70b365-ec96-4fd3-abc4-e87e343be5e", "0f70b365xec96-4fd3-abc4-e87e343be5ee",
		"0f70b365-ec96-4fd3-abc4-e87e343be5eg", "0f70b365-ec96-4fd3-abc4-e87e343be5ee0"} {
		if _, ok := keyOf(id); ok {
			t.Errorf("keyOf(%q) parsed", id)
		}
	}
}

// The check counts what runs by slot and by job, whatever the IDs look
// like, and finds a slot held twice and a node over its capacity.
func TestHollowCheckCountsSlotsJobsAndCapacity(t *testing.T) {
	h := &hollowShared{}
	n1 := &hollowNode{h: h, node: &api.Node{Resources: api.Resources{CPU: 100, MemoryMB: 100}}}
	n2 := &hollowNode{h: h, node: &api.Node{Resources: api.Resources{CPU: 100, MemoryMB: 100}}}
	web := h.groupName("web", "g")
	if h.groupName("web", "g") != web {
		t.Fatal("group names are not interned")
	}
	n1.allocs.set("0f70b365-ec96-4fd3-abc4-e87e343be5ee", allocState{group: web, index: 0, cpu: 60, mem: 10, state: stateRunning})
	n1.allocs.set("alloc-b", allocState{group: web, index: 1, cpu: 60, mem: 10, state: stateRunning}) // n1 over: 120 MHz
	n2.allocs.set("1f70b365-ec96-4fd3-abc4-e87e343be5ee", allocState{group: web, index: 1, cpu: 10, mem: 10, state: stateRunning})
	n2.allocs.set("2f70b365-ec96-4fd3-abc4-e87e343be5ee", allocState{group: h.groupName("db.x", "g"), index: 0, cpu: 10, mem: 10, state: stateRunning})
	n2.allocs.set("3f70b365-ec96-4fd3-abc4-e87e343be5ee", allocState{group: web, index: 2, cpu: 10, mem: 10, state: stateDone})
	if s, ok := n1.allocs.get("alloc-b"); !ok || s.name() != "web.g[1]" {
		t.Fatalf("alloc-b: %+v %v", s, ok)
	}
	c := check([]*hollowNode{n1, n2})
	if c.Running != 4 || c.Duplicates != 1 || c.Overfull != 1 || c.Jobs["web"] != 3 || c.Jobs["db.x"] != 1 || c.JobCount != 2 {
		t.Fatalf("check: %+v", c)
	}
	n1.allocs.del("alloc-b")
	n2.allocs.del("1f70b365-ec96-4fd3-abc4-e87e343be5ee")
	if c := check([]*hollowNode{n1, n2}); c.Running != 2 || c.Duplicates != 0 || c.Overfull != 0 {
		t.Fatalf("after deletes: %+v", c)
	}
}
