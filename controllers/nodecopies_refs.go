package controllers

import "github.com/nomadic-project/nomadic/pkg/api"

// allocCopies is which job copy each allocation needs, and how many
// allocations need each copy. The copies are interned: an allocation maps
// to a copy's number, in maps that hold no pointer when the IDs are UUIDs
// (as servers make them), so that Go's collector does not scan a million
// entries (the map of strings it replaces held five pointers an
// allocation).
type allocCopies struct {
	byKey   map[[16]byte]int32
	byOther map[string]int32
	// idx numbers the copies some allocation needs; keys and count are
	// by number; free are numbers to use again.
	idx   map[jobCopy]int32
	keys  []jobCopy
	count []int32
	free  []int32
}

func newAllocCopies() *allocCopies {
	return &allocCopies{byKey: map[[16]byte]int32{}, byOther: map[string]int32{}, idx: map[jobCopy]int32{}}
}

// get returns the copy an allocation needs.
func (m *allocCopies) get(id string) (jobCopy, bool) {
	n, ok := m.number(id)
	if !ok {
		return jobCopy{}, false
	}
	return m.keys[n], true
}

func (m *allocCopies) number(id string) (int32, bool) {
	if b, ok := api.UUIDBytes(id); ok {
		n, found := m.byKey[b]
		return n, found
	}
	n, found := m.byOther[id]
	return n, found
}

// needed reports whether some allocation needs a copy.
func (m *allocCopies) needed(k jobCopy) bool {
	_, ok := m.idx[k]
	return ok
}

// set records the copy an allocation needs, replacing what it needed
// before; it returns that (ok: there was one).
func (m *allocCopies) set(id string, k jobCopy) (old jobCopy, ok bool) {
	old, ok = m.del(id)
	n, found := m.idx[k]
	if !found {
		if l := len(m.free); l > 0 {
			n, m.free = m.free[l-1], m.free[:l-1]
			m.keys[n], m.count[n] = k, 0
		} else {
			n = int32(len(m.keys))
			m.keys, m.count = append(m.keys, k), append(m.count, 0)
		}
		m.idx[k] = n
	}
	m.count[n]++
	if b, isUUID := api.UUIDBytes(id); isUUID {
		m.byKey[b] = n
	} else {
		m.byOther[id] = n
	}
	return old, ok
}

// del forgets an allocation; it returns the copy it needed.
func (m *allocCopies) del(id string) (jobCopy, bool) {
	n, ok := m.number(id)
	if !ok {
		return jobCopy{}, false
	}
	if b, isUUID := api.UUIDBytes(id); isUUID {
		delete(m.byKey, b)
	} else {
		delete(m.byOther, id)
	}
	k := m.keys[n]
	if m.count[n]--; m.count[n] <= 0 {
		delete(m.idx, k)
		m.keys[n] = jobCopy{}
		m.free = append(m.free, n)
	}
	return k, true
}
