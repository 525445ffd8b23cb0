package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// NodeCopies is a singleton controller that keeps what a node reads and
// writes inside the node's own tree, so that the node's etcd role needs
// no grant outside it:
//
//   - job copies: while an allocation on a node runs a job version, the
//     node has a copy of it under nodejobs/<node>/; once none does, the
//     copy is deleted. This also migrates a cluster that ran before the
//     copies existed: the first pass copies every version in use. A node
//     whose record says its credentials read job versions themselves
//     (api.Node.ReadsJobs) gets no copies, and loses those it had.
//   - service index: each service instance a node writes under
//     nodeservices/<node>/ is mirrored into services/<ns>/<service>/, what
//     the APIs and templates read, if the instance's allocation runs on
//     that node in that namespace; a node cannot register an instance for
//     another node's allocation, nor outside its allocations' namespaces.
//     An indexed instance whose node's copy is gone (its lease expired,
//     its allocation stopped) is removed from the index; one bound to a
//     lease, which a node agent of an older version wrote there itself
//     during a rolling upgrade, is left to its lease.
//
// It is level-triggered: changes only mark keys, and a key's work reads
// the state the subscription holds. The cache's watch hands changes to an
// inbox and goes on; the controller's own loop records them, so that its
// work (a sweep of every copy, say) never holds up the cache that every
// scheduling pass waits for.
type NodeCopies struct {
	Store *store.Store
	Cache *store.Cache
	Guard store.Guard
	// Resync is how often every key is looked at again (default 1m).
	Resync time.Duration

	// inMu guards the inbox: the changes the subscription handed over
	// since the loop last recorded them, after a resync (all, when
	// resynced is set) that replaces everything before it.
	inMu     sync.Mutex
	inbox    []store.Change
	all      []store.Change
	resynced bool

	mu sync.Mutex
	// refs: the job copy each allocation needs (where it runs and
	// what), and the copies some allocation needs.
	refs *allocCopies
	// copies are the job copies that exist.
	copies map[jobCopy]bool
	// direct are the nodes that read job versions themselves, and
	// flipped those whose flag changed since the last work (their keys
	// are looked at again).
	direct  map[string]bool
	flipped map[string]bool
	// sources are the instances nodes wrote; index those in the index.
	sources map[svcKey]source
	index   map[svcKey][]byte
	dirtyJ  map[jobCopy]bool
	// versions are the job versions read for copies, compressed.
	versions store.JobCopyCache
	dirtyS   map[svcKey]bool
	wake     chan struct{}
}

type jobCopy struct {
	node, ns, job string
	version       uint64
}

type svcKey struct{ ns, name, id string }

type source struct {
	node  string
	value []byte
}

// forget empties what the subscription told, before a resync tells it all
// again.
func (c *NodeCopies) forget() {
	c.refs = newAllocCopies()
	c.copies = map[jobCopy]bool{}
	c.direct = map[string]bool{}
	c.flipped = map[string]bool{}
	c.sources = map[svcKey]source{}
	c.index = map[svcKey][]byte{}
}

// Run keeps the copies until ctx ends.
func (c *NodeCopies) Run(ctx context.Context) {
	c.forget()
	c.dirtyJ = map[jobCopy]bool{}
	c.dirtyS = map[svcKey]bool{}
	c.wake = make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.Cache.Subscribe(ctx, store.Subscriber{
			Kinds:   []store.Kind{store.KindAllocs, store.KindNodeJobs, store.KindNodeServices, store.KindServices, store.KindNodes},
			Resync:  c.resync,
			Changed: c.changed,
		})
	}()
	defer wg.Wait()
	resync := c.Resync
	if resync <= 0 {
		resync = time.Minute
	}
	t := time.NewTicker(resync)
	defer t.Stop()
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-t.C:
			c.sweep()
		}
		c.drain()
		if c.work(ctx) {
			backoff = 100 * time.Millisecond
			continue
		}
		// Something failed and stays dirty: try again after a while.
		loop.Sleep(ctx, backoff)
		backoff = min(backoff*2, 10*time.Second)
		c.poke()
	}
}

func (c *NodeCopies) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// resync and changed run on the cache's watch: they only queue.
func (c *NodeCopies) resync(all []store.Change) {
	c.inMu.Lock()
	c.all, c.resynced, c.inbox = all, true, nil
	c.inMu.Unlock()
	c.poke()
}

func (c *NodeCopies) changed(ch store.Change) {
	c.inMu.Lock()
	c.inbox = append(c.inbox, ch)
	c.inMu.Unlock()
	c.poke()
}

// drain records what the subscription handed over since the last drain.
func (c *NodeCopies) drain() {
	c.inMu.Lock()
	all, resynced, inbox := c.all, c.resynced, c.inbox
	c.all, c.resynced, c.inbox = nil, false, nil
	c.inMu.Unlock()
	if !resynced && len(inbox) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if resynced {
		c.forget()
		for _, ch := range all {
			c.record(ch)
		}
		c.markAllLocked()
	}
	for _, ch := range inbox {
		c.record(ch)
	}
	if len(c.flipped) > 0 {
		// One pass however many nodes flipped (all of them, when a
		// cluster's agents are upgraded).
		for k := range c.refs.idx {
			if c.flipped[k.node] {
				c.dirtyJ[k] = true
			}
		}
		for k := range c.copies {
			if c.flipped[k.node] {
				c.dirtyJ[k] = true
			}
		}
		c.flipped = map[string]bool{}
	}
}

// sweep looks at every key again: a job copy where what is needed and
// what exists differ (which the changes that marked it should have
// repaired already), and every service instance, whose validity depends
// on the allocations.
func (c *NodeCopies) sweep() {
	c.mu.Lock()
	for k := range c.refs.idx {
		if !c.copies[k] && !c.direct[k.node] {
			c.dirtyJ[k] = true
		}
	}
	for k := range c.copies {
		if !c.refs.needed(k) || c.direct[k.node] {
			c.dirtyJ[k] = true
		}
	}
	for k := range c.sources {
		c.dirtyS[k] = true
	}
	for k := range c.index {
		c.dirtyS[k] = true
	}
	c.mu.Unlock()
}

func (c *NodeCopies) markAllLocked() {
	for k := range c.refs.idx {
		c.dirtyJ[k] = true
	}
	for k := range c.copies {
		c.dirtyJ[k] = true
	}
	for k := range c.sources {
		c.dirtyS[k] = true
	}
	for k := range c.index {
		c.dirtyS[k] = true
	}
}

// record updates the state with one change and marks what it touches;
// c.mu is held.
func (c *NodeCopies) record(ch store.Change) {
	switch ch.Kind {
	case store.KindAllocs:
		if ch.Deleted {
			if old, ok := c.refs.del(ch.ID); ok {
				c.dirtyJ[old] = true
			}
			return
		}
		a, err := store.Decode[api.Allocation](ch)
		if err != nil {
			if old, ok := c.refs.del(ch.ID); ok {
				c.dirtyJ[old] = true
			}
			slog.Warn("node copies: skipping undecodable allocation", "alloc", ch.ID, "err", err)
			return
		}
		k := jobCopy{node: a.NodeID, ns: a.Namespace, job: a.JobID, version: a.JobVersion}
		if old, ok := c.refs.set(ch.ID, k); ok && old != k {
			c.dirtyJ[old] = true
		}
		c.dirtyJ[k] = true
	case store.KindNodeJobs:
		v, err := strconv.ParseUint(ch.ID, 10, 64)
		if err != nil {
			return
		}
		k := jobCopy{node: ch.Node, ns: ch.Namespace, job: ch.Job, version: v}
		if ch.Deleted {
			delete(c.copies, k)
		} else {
			c.copies[k] = true
		}
		c.dirtyJ[k] = true
	case store.KindNodes:
		direct := false
		if !ch.Deleted {
			n, err := store.Decode[api.Node](ch)
			if err != nil {
				slog.Warn("node copies: skipping undecodable node", "node", ch.Node, "err", err)
				return
			}
			direct = n.ReadsJobs
		}
		if direct != c.direct[ch.Node] {
			if direct {
				c.direct[ch.Node] = true
			} else {
				delete(c.direct, ch.Node)
			}
			c.flipped[ch.Node] = true
		}
	case store.KindNodeServices:
		k := svcKey{ns: ch.Namespace, name: ch.Name, id: ch.ID}
		if ch.Deleted {
			if s, ok := c.sources[k]; ok && s.node == ch.Node {
				delete(c.sources, k)
			}
		} else {
			c.sources[k] = source{node: ch.Node, value: ch.Value}
		}
		c.dirtyS[k] = true
	case store.KindServices:
		k := svcKey{ns: ch.Namespace, name: ch.Name, id: ch.ID}
		if ch.Deleted {
			delete(c.index, k)
		} else {
			c.index[k] = ch.Value
		}
		c.dirtyS[k] = true
	}
}

// workers bounds the keys worked at once: a system job placed on
// thousands of nodes makes as many copies, each a read and a write.
const nodeCopyWorkers = 8

// work does the work of every dirty key, a few at a time; it reports
// whether all of it succeeded (what failed is marked dirty again).
func (c *NodeCopies) work(ctx context.Context) bool {
	c.mu.Lock()
	jobs := make([]jobCopy, 0, len(c.dirtyJ))
	for k := range c.dirtyJ {
		jobs = append(jobs, k)
	}
	svcs := make([]svcKey, 0, len(c.dirtyS))
	for k := range c.dirtyS {
		svcs = append(svcs, k)
	}
	c.dirtyJ, c.dirtyS = map[jobCopy]bool{}, map[svcKey]bool{}
	c.mu.Unlock()
	if len(jobs) == 0 && len(svcs) == 0 {
		return true
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, nodeCopyWorkers)
	var failed atomic.Bool
	run := func(fn func() error, retry func()) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(); err != nil {
				if ctx.Err() == nil {
					slog.Warn("node copies: will retry", "err", err)
				}
				c.mu.Lock()
				retry()
				c.mu.Unlock()
				failed.Store(true)
			}
		}()
	}
	if err := c.syncJobs(ctx, jobs); err != nil {
		if ctx.Err() == nil {
			slog.Warn("node copies: will retry", "err", err)
		}
		failed.Store(true)
	}
	for _, k := range svcs {
		run(func() error { return c.syncService(ctx, k) }, func() { c.dirtyS[k] = true })
	}
	wg.Wait()
	if failed.Load() {
		return false
	}
	// Changes that came in meanwhile poked the loop already.
	return true
}

// syncJobs makes the copies of the given keys match what is needed:
// copies written where an allocation needs one, deleted where none does,
// in a few large transactions. What it could not do is marked dirty
// again.
func (c *NodeCopies) syncJobs(ctx context.Context, keys []jobCopy) error {
	var put, del []store.NodeJobCopy
	c.mu.Lock()
	for _, k := range keys {
		need, have := c.refs.needed(k) && !c.direct[k.node], c.copies[k]
		x := store.NodeJobCopy{Node: k.node, Namespace: k.ns, Job: k.job, Version: k.version}
		switch {
		case need && !have:
			put = append(put, x)
		case !need && have:
			del = append(del, x)
		}
	}
	c.mu.Unlock()
	if len(put) == 0 && len(del) == 0 {
		return nil
	}
	// Ordered by job version, so that copies of one version share their
	// transactions and the version is read once.
	sort.Slice(put, func(i, j int) bool {
		a, b := put[i], put[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Job != b.Job {
			return a.Job < b.Job
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Node < b.Node
	})
	done, _, err := c.Store.SyncNodeJobs(ctx, put, del, c.Guard, &c.versions)
	c.mu.Lock()
	defer c.mu.Unlock()
	deleted := map[store.NodeJobCopy]bool{}
	for _, x := range del {
		deleted[x] = true
	}
	finished := make(map[store.NodeJobCopy]bool, len(done))
	for _, x := range done {
		finished[x] = true
		k := jobCopy{node: x.Node, ns: x.Namespace, job: x.Job, version: x.Version}
		if deleted[x] {
			delete(c.copies, k)
		} else {
			c.copies[k] = true
		}
	}
	if err == nil {
		// Copies of versions that are gone (a purged job) are not
		// made: nothing to copy.
		return nil
	}
	for _, x := range append(put, del...) {
		if !finished[x] {
			c.dirtyJ[jobCopy{node: x.Node, ns: x.Namespace, job: x.Job, version: x.Version}] = true
		}
	}
	return err
}

func (c *NodeCopies) syncService(ctx context.Context, k svcKey) error {
	c.mu.Lock()
	src, hasSrc := c.sources[k]
	idx, hasIdx := c.index[k]
	valid := hasSrc && c.validSource(k, src)
	c.mu.Unlock()
	switch {
	case valid && !bytes.Equal(src.value, idx):
		if err := c.Store.MirrorService(ctx, k.ns, k.name, k.id, src.value, c.Guard); err != nil {
			return err
		}
		c.mu.Lock()
		c.index[k] = src.value
		c.mu.Unlock()
	case !valid && hasIdx:
		// An instance bound to a lease was registered in the index by a
		// node agent of an older version, during a rolling upgrade: it
		// goes with its node's lease, not with a copy it never made.
		lease, err := c.Store.ServiceLease(ctx, k.ns, k.name, k.id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if lease != 0 && !hasSrc {
			return nil
		}
		if err := c.Store.UnmirrorService(ctx, k.ns, k.name, k.id, c.Guard); err != nil {
			return err
		}
		c.mu.Lock()
		delete(c.index, k)
		c.mu.Unlock()
	}
	return nil
}

// validSource reports whether a node's instance may be indexed: it names
// that node and an allocation that runs there in the instance's
// namespace; c.mu is held.
func (c *NodeCopies) validSource(k svcKey, src source) bool {
	reg := &api.ServiceRegistration{}
	if err := json.Unmarshal(src.value, reg); err != nil {
		return false
	}
	a, ok := c.refs.get(reg.AllocID)
	if !ok || reg.NodeID != src.node || a.node != src.node || a.ns != k.ns || reg.Namespace != k.ns ||
		reg.ServiceName != k.name || reg.ID != k.id {
		return false
	}
	return true
}
