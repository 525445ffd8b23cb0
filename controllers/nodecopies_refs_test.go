package controllers

import "testing"

// The interned index counts the allocations of each copy, whatever their
// IDs look like, reuses the numbers of copies no allocation needs any
// more, and moves an allocation from one copy to another.
func TestAllocCopiesCountsTheAllocationsOfEachCopy(t *testing.T) {
	m := newAllocCopies()
	web1 := jobCopy{node: "n1", ns: "default", job: "web", version: 1}
	web2 := jobCopy{node: "n1", ns: "default", job: "web", version: 2}
	db := jobCopy{node: "n2", ns: "default", job: "db"}
	ids := []string{"0f70b365-ec96-4fd3-abc4-e87e343be5ee", "alloc-b", "1f70b365-ec96-4fd3-abc4-e87e343be5ee"}
	for _, id := range ids {
		if _, had := m.set(id, web1); had {
			t.Fatalf("%s was there already", id)
		}
	}
	m.set("alloc-db", db)
	if !m.needed(web1) || !m.needed(db) || m.needed(web2) || len(m.keys) != 2 {
		t.Fatalf("needed: %v %v %v, %d numbers", m.needed(web1), m.needed(db), m.needed(web2), len(m.keys))
	}
	if k, ok := m.get("alloc-b"); !ok || k != web1 {
		t.Fatalf("get alloc-b: %+v %v", k, ok)
	}
	// An in-place update moves one to version 2.
	if old, had := m.set(ids[0], web2); !had || old != web1 {
		t.Fatalf("moving: %+v %v", old, had)
	}
	if k, _ := m.get(ids[0]); k != web2 || !m.needed(web1) {
		t.Fatalf("after the move: %+v, web1 needed %v", k, m.needed(web1))
	}
	for _, id := range ids[1:] {
		if k, ok := m.del(id); !ok || k != web1 {
			t.Fatalf("del %s: %+v %v", id, k, ok)
		}
	}
	if m.needed(web1) {
		t.Fatal("web1 is needed with none of its allocations left")
	}
	if _, ok := m.del("alloc-b"); ok {
		t.Fatal("alloc-b deleted twice")
	}
	// Its number is used again.
	m.set("alloc-c", jobCopy{node: "n3", job: "cache"})
	if len(m.keys) != 3 || len(m.free) != 0 {
		t.Fatalf("numbers: %d, free %v", len(m.keys), m.free)
	}
	if len(m.byKey) != 1 || len(m.byOther) != 2 {
		t.Fatalf("by key %d, by other %d", len(m.byKey), len(m.byOther))
	}
}
