package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cache is a server's informer of what scheduling reads: nodes (with
// liveness and operator settings), node plan revisions, and allocations
// with their status. It lists the cluster prefix once (paged, at one
// revision) and then follows one watch of it, so it always holds the
// cluster as of a single etcd revision; a compacted watch relists
// (ListWatch). Objects in it are never changed once stored — a change
// stores a new object — so snapshots share them without copying.
//
// One Cache serves every controller of a process: scheduling passes read
// it instead of the whole cluster from etcd, which is what bounded
// placement throughput (see docs/benchmarks.md).
type Cache struct {
	s *Store

	mu     sync.Mutex
	synced bool
	rev    int64
	moved  *sync.Cond // broadcast when rev moves
	asked  time.Time  // when a reader last asked etcd for progress (waitFor)

	records map[string]*api.Node // node records as their agents wrote them
	live    map[string]bool
	// downAt is when the cache saw each down node's heartbeat go; kept
	// over a relist, so that nodes still down keep their time.
	downAt map[string]time.Time
	admin  map[string]*NodeAdmin
	nodes  map[string]*api.Node // records with status, eligibility and drain applied
	// plans is, for each node, the newest revision at which its plan key
	// or one of its allocation records was written: what tells a plan
	// whether another placed on the node since its snapshot. Plans made
	// under the plan lock write no plan key.
	plans  map[string]int64
	allocs map[string]*api.Allocation // desired state with status attached
	// orphans are statuses whose allocation is not (yet) here: a relist
	// applies keys in no particular order.
	orphans map[string]orphan
	// nodeRev is the newest revision of each node's heartbeat or operator
	// settings, which count as changes of the node.
	nodeRev map[string]int64
	// kindRev is the newest revision at which a key of each kind changed
	// (after a relist: the list's revision, for every kind), what
	// blocking queries wait on.
	kindRev map[Kind]int64
	// usage is what the live allocations of each node use, and byJob the
	// allocations of each job ("ns/job"): kept as allocations change, so
	// that a scheduling pass costs in proportion to the nodes and its
	// job, not to every allocation of the cluster. NodeUsage objects are
	// replaced, never changed.
	usage map[string]*NodeUsage
	// room holds, for each node, the list its NodeUsage shows with its
	// spare capacity: a new live allocation is written in the room past
	// the end, which no snapshot's list reaches (theirs are capped at
	// their length), instead of copying the node's list at each new
	// allocation — a copy that grew with the allocations a node runs (over
	// a third of a server's cache work late in a C1M run).
	room  map[string][]*api.Allocation
	byJob map[string]map[string]*api.Allocation
	// byNode are the allocations of each node, live or not: what a
	// node's allocation list reads (the liveness controller's, for each
	// node that comes back), which scanning every allocation made cost
	// nodes × allocations after a mass reconnect.
	byNode map[string]map[string]*api.Allocation
	// byStatus counts the allocations by client status, for the
	// metrics (counting a million objects each time cost more).
	byStatus map[string]int
	// sorted are the nodes in ID order; nil when a node changed since.
	sorted []*api.Node
	// intern holds one copy of the IDs and names allocation records and
	// statuses repeat; used under mu.
	intern *interner

	// dispatch is held while changes are handed to subscribers, and by
	// Subscribe while it lists what a new subscriber starts from; it is
	// taken before mu.
	dispatch sync.Mutex
	subs     map[*subscription]bool
}

// NewCache returns a cache of the store's cluster; Run fills it.
func NewCache(s *Store) *Cache {
	c := &Cache{s: s, subs: map[*subscription]bool{}, downAt: map[string]time.Time{}, intern: newInterner()}
	c.moved = sync.NewCond(&c.mu)
	c.reset()
	return c
}

func (c *Cache) reset() {
	c.records, c.live, c.admin, c.nodes = map[string]*api.Node{}, map[string]bool{}, map[string]*NodeAdmin{}, map[string]*api.Node{}
	c.plans = map[string]int64{}
	c.allocs, c.orphans, c.nodeRev = map[string]*api.Allocation{}, map[string]orphan{}, map[string]int64{}
	c.kindRev = map[Kind]int64{}
	c.usage, c.byJob, c.sorted = map[string]*NodeUsage{}, map[string]map[string]*api.Allocation{}, nil
	c.byNode = map[string]map[string]*api.Allocation{}
	c.byStatus = map[string]int{}
	c.room = map[string][]*api.Allocation{}
}

// NodeUsage is what the live allocations of a node use.
type NodeUsage = scheduler.NodeUsage

// track moves an allocation from its old object to its new one (nil:
// gone) in the cache's indexes; c.mu is held. NodeUsage objects and their
// lists are shared with snapshots, so a change makes new ones. A new
// status that leaves the allocation live (statusOnly: the record is the
// same) changes nothing on its node: the node's list may hold an earlier
// object of the allocation, whose record is the one it has, and the
// scheduler reads only the record of a node's live allocations. Copying
// the list for it (half of the cache's events) cost a copy of up to a
// few hundred pointers an event, which grew with the allocations a node
// runs: at 1,000,000 allocations, 9 % of the server's CPU.
func (c *Cache) track(old, a *api.Allocation, statusOnly bool) {
	if old != nil {
		st := old.ClientStatusOf()
		if c.byStatus[st]--; c.byStatus[st] <= 0 {
			delete(c.byStatus, st)
		}
	}
	if a != nil {
		c.byStatus[a.ClientStatusOf()]++
	}
	if old != nil && a != nil && old.ID == a.ID && old.NodeID == a.NodeID && old.Namespace == a.Namespace &&
		old.JobID == a.JobID && old.Live() && a.Live() && sameUsage(old.Resources, a.Resources) {
		if m := c.byJob[a.Namespace+"/"+a.JobID]; m != nil {
			m[a.ID] = a
		}
		if m := c.byNode[a.NodeID]; m != nil {
			m[a.ID] = a
		}
		if statusOnly {
			return
		}
		if u := c.usage[a.NodeID]; u != nil {
			if i := indexOf(u.Allocs, old); i >= 0 {
				next := &NodeUsage{Used: u.Used, Allocs: make([]*api.Allocation, len(u.Allocs))}
				copy(next.Allocs, u.Allocs)
				next.Allocs[i] = a
				c.usage[a.NodeID] = next
				return
			}
		}
		// Not where it should be: the general way below repairs it.
	}
	if old != nil {
		k := old.Namespace + "/" + old.JobID
		if m := c.byJob[k]; m != nil {
			delete(m, old.ID)
			if len(m) == 0 {
				delete(c.byJob, k)
			}
		}
		if m := c.byNode[old.NodeID]; m != nil {
			delete(m, old.ID)
			if len(m) == 0 {
				delete(c.byNode, old.NodeID)
			}
		}
		// Objects never change, so old is in its node's list exactly
		// when it was live as it was added.
		if u := c.usage[old.NodeID]; u != nil && old.Live() {
			if i := indexOf(u.Allocs, old); i >= 0 {
				list := make([]*api.Allocation, 0, len(u.Allocs))
				list = append(append(list, u.Allocs[:i]...), u.Allocs[i+1:]...)
				// The new list is the node's room (its spare slot is
				// the next allocation's), handed out capped.
				c.room[old.NodeID] = list
				next := &NodeUsage{Used: subResources(u.Used, u.Allocs[i].Resources), Allocs: list[:len(list):len(list)]}
				c.usage[old.NodeID] = next
			}
		}
	}
	if a == nil {
		return
	}
	k := a.Namespace + "/" + a.JobID
	m := c.byJob[k]
	if m == nil {
		m = map[string]*api.Allocation{}
		c.byJob[k] = m
	}
	m[a.ID] = a
	if n := c.byNode[a.NodeID]; n != nil {
		n[a.ID] = a
	} else {
		c.byNode[a.NodeID] = map[string]*api.Allocation{a.ID: a}
	}
	if a.Live() {
		u := c.usage[a.NodeID]
		next := &NodeUsage{}
		var list []*api.Allocation
		if u != nil {
			next.Used, list = u.Used, u.Allocs
		}
		next.Used = next.Used.Add(a.Resources)
		next.Allocs = c.appendLive(a.NodeID, list, a)
		c.usage[a.NodeID] = next
	}
}

// appendLive returns list with a after it, capped at its length so that
// an append by a reader copies. When list is the node's room up to its
// length (it was made here and nothing replaced it since), a goes in the
// room without a copy; else the list is copied into a new room of twice
// its length.
func (c *Cache) appendLive(node string, list []*api.Allocation, a *api.Allocation) []*api.Allocation {
	r := c.room[node]
	n := len(list)
	if len(r) != n || cap(r) == n || (n > 0 && &r[0] != &list[0]) {
		r = make([]*api.Allocation, n, max(2*n, 4))
		copy(r, list)
	}
	r = append(r, a)
	c.room[node] = r
	return r[: n+1 : n+1]
}

// indexOf finds an allocation in a node's list: by pointer (the list holds
// the objects the cache holds), else by ID; -1 when it is not there.
func indexOf(list []*api.Allocation, a *api.Allocation) int {
	for i, x := range list {
		if x == a {
			return i
		}
	}
	for i, x := range list {
		if x.ID == a.ID {
			return i
		}
	}
	return -1
}

// sameUsage reports whether two allocations' resources count the same in
// a node's usage.
func sameUsage(a, b api.Resources) bool {
	return a.CPU == b.CPU && a.Cores == b.Cores && a.MemoryMB == b.MemoryMB && a.MemoryMax == b.MemoryMax && a.DiskMB == b.DiskMB
}

func subResources(a, b api.Resources) api.Resources {
	return api.Resources{CPU: a.CPU - b.CPU, Cores: a.Cores - b.Cores, MemoryMB: a.MemoryMB - b.MemoryMB,
		MemoryMax: a.MemoryMax - b.MemoryMax, DiskMB: a.DiskMB - b.DiskMB}
}

// Run keeps the cache current until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.moved.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.s.progressTrusted() // asks the members' versions in the background
	c.s.listWatch(ctx, c.s.keys.Prefix()+"/", c)
}

// Replace implements handler: the complete contents after a (re)list.
func (c *Cache) Replace(items map[string]listed, rev int64) {
	c.dispatch.Lock()
	defer c.dispatch.Unlock()
	c.mu.Lock()
	c.reset()
	for k, v := range items {
		c.apply(Event{Key: k, Value: v.value, Rev: v.mod, Create: v.create})
	}
	for kind := range keyParts {
		c.kindRev[kind] = rev
	}
	c.synced = true
	c.advance(rev)
	c.mu.Unlock()
	c.resyncAll(items, rev)
}

// Apply implements handler: one change.
func (c *Cache) Apply(ev Event) {
	c.dispatch.Lock()
	defer c.dispatch.Unlock()
	c.mu.Lock()
	obj := c.apply(ev)
	// The event's revision may have more events to come (a transaction
	// of many keys): only the revisions before it are complete. Progress
	// completes it once the watch response is applied.
	c.advance(ev.Rev - 1)
	// Blocking queries wait for a kind, which may change at a revision
	// the cache has reached already (a transaction of several kinds).
	c.moved.Broadcast()
	c.mu.Unlock()
	c.deliver(ev, obj)
}

// Progress implements progressHandler: every change up to rev has been
// applied (the end of a watch response), or etcd's revision moved with no
// change under the prefix.
func (c *Cache) Progress(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(rev)
}

func (c *Cache) advance(rev int64) {
	if rev > c.rev {
		c.rev = rev
		c.moved.Broadcast()
	}
}

// apply records one key and returns what it decoded of it (nil for
// kinds it keeps no object of); c.mu is held.
func (c *Cache) apply(ev Event) any {
	ref, ok := c.s.keys.Parse(ev.Key)
	if !ok {
		return nil
	}
	if ev.Rev > c.kindRev[ref.Kind] {
		c.kindRev[ref.Kind] = ev.Rev
	}
	switch ref.Kind {
	case KindNodes:
		var n *api.Node
		if ev.Delete {
			delete(c.records, ref.Node)
			delete(c.downAt, ref.Node)
		} else if n = decodeOrWarn[api.Node](ev, nil); n != nil {
			c.records[ref.Node] = n
		}
		c.refreshNode(ref.Node)
		if n == nil {
			return nil
		}
		return n
	case KindHeartbeats:
		if ev.Delete {
			if c.live[ref.Node] {
				c.downAt[ref.Node] = time.Now()
			}
			delete(c.live, ref.Node)
		} else {
			c.live[ref.Node] = true
			delete(c.downAt, ref.Node)
		}
		c.nodeRev[ref.Node] = ev.Rev
		c.refreshNode(ref.Node)
	case KindNodeAdmin:
		if ev.Delete {
			delete(c.admin, ref.Node)
		} else if a := decodeOrWarn[NodeAdmin](ev, nil); a != nil {
			c.admin[ref.Node] = a
		}
		c.nodeRev[ref.Node] = ev.Rev
		c.refreshNode(ref.Node)
	case KindNodePlans:
		if ev.Delete {
			delete(c.plans, ref.Node)
		} else {
			c.plans[ref.Node] = max(c.plans[ref.Node], ev.Rev)
		}
	case KindAllocs:
		allocID := ref.ID
		old := c.allocs[allocID]
		if ev.Delete {
			c.track(old, nil, false)
			delete(c.allocs, allocID)
			return nil
		}
		// Before decoding: a record that cannot be decoded still moves
		// its node, so that plans there are checked again (and dropped).
		c.plans[ref.Node] = max(c.plans[ref.Node], ev.Rev)
		a := decodeOrWarn[api.Allocation](ev, c.intern)
		if a == nil {
			return nil
		}
		if st, ok := c.orphans[allocID]; ok {
			a.Status = st.status
			a.Touched(st.rev)
			delete(c.orphans, allocID)
		} else if old != nil {
			a.Status = old.Status
			a.Touched(int64(old.ModifyIndex))
		}
		c.track(old, a, false)
		c.allocs[allocID] = a
		return a
	case KindAllocStatus:
		allocID := ref.ID
		var st *api.AllocStatus
		if !ev.Delete {
			if st = decodeOrWarn[api.AllocStatus](ev, c.intern); st == nil {
				return nil
			}
		}
		old := c.allocs[allocID]
		if old == nil {
			if st == nil {
				delete(c.orphans, allocID)
			} else {
				c.orphans[allocID] = orphan{st, ev.Rev}
			}
			if st == nil {
				return nil
			}
			return st
		}
		// Copy on write: snapshots may hold the old object.
		a := *old
		a.Status = st
		a.Touched(ev.Rev)
		c.track(old, &a, true)
		c.allocs[allocID] = &a
		if st == nil {
			return nil
		}
		return st
	}
	return nil
}

// orphan is a status whose allocation the cache has not seen yet, with
// the revision it was written at.
type orphan struct {
	status *api.AllocStatus
	rev    int64
}

func decodeOrWarn[T any](ev Event, in *interner) *T {
	v := fastDecode[T](ev.Value, in)
	if v == nil {
		v = new(T)
		if err := json.Unmarshal(ev.Value, v); err != nil {
			slog.Warn("cache: skipping undecodable key", "key", ev.Key, "err", err)
			return nil
		}
	}
	afterDecode(v)
	if ix, ok := any(v).(indexed); ok {
		ix.SetIndexes(ev.Create, ev.Rev)
	}
	return v
}

// refreshNode stores a new node object from its record, heartbeat and
// operator settings, as ListNodes builds it.
func (c *Cache) refreshNode(id string) {
	c.sorted = nil
	r := c.records[id]
	if r == nil {
		delete(c.nodes, id)
		return
	}
	n := *r
	n.Status = api.NodeStatusDown
	if c.live[id] {
		n.Status = api.NodeStatusReady
	} else {
		n.DownSince = c.downAt[id]
	}
	if a := c.admin[id]; a != nil {
		n.Eligible, n.Drain, n.LastDrain = a.Eligible, a.Drain, a.LastDrain
	}
	n.Touched(c.nodeRev[id])
	c.nodes[id] = &n
}

// maxCacheStall bounds how long a read waits for a cache that makes no
// progress toward etcd's revision (a broken watch) before reading etcd
// itself; maxCacheWait bounds the whole wait even while the cache is
// catching up. A cache that is behind but applying events is waited for:
// under load, reading every allocation from etcd instead would only add
// to the load that made the cache late.
const (
	maxCacheStall = 2 * time.Second
	maxCacheWait  = 30 * time.Second
)

// Snapshot returns what ReadSnapshot reads, from the cache. It first waits
// until the cache has seen etcd's current revision, so the snapshot holds
// everything committed before it was asked for — as fresh as reading etcd.
// If the cache cannot catch up in time (a broken watch), it reads etcd.
func (c *Cache) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := c.readable(ctx); errors.Is(err, errBehind) {
		slog.Warn("cache is behind etcd; reading etcd")
		return c.s.readSnapshot(ctx)
	} else if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := &Snapshot{
		Nodes:        make([]*api.Node, 0, len(c.nodes)),
		Allocs:       make([]*api.Allocation, 0, len(c.allocs)),
		NodePlanRevs: make(map[string]int64, len(c.plans)),
	}
	for _, n := range c.nodes {
		snap.Nodes = append(snap.Nodes, n)
	}
	for _, a := range c.allocs {
		snap.Allocs = append(snap.Allocs, a)
	}
	for k, v := range c.plans {
		// At most the last complete revision: a node written by a
		// transaction the cache is still applying counts as moved when a
		// plan made on this snapshot commits, and is checked again then.
		snap.NodePlanRevs[k] = min(v, c.rev)
	}
	return snap, nil
}

// waitFor waits until the cache reached revision rev. Writes outside the
// cluster prefix move etcd's revision without an event here, so after a
// short wait it asks etcd for a progress notification, which tells the
// watch the current revision.
func (c *Cache) waitFor(ctx context.Context, rev int64) bool {
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// A progress request costs etcd little and is sent at once; a write
	// of the cache's own key (progress.go) costs a raft entry, and a busy
	// cluster's events reach the revision sooner: it waits 50 ms first.
	// Either is sent at most every 200 ms for all the readers waiting:
	// its answer comes after everything they wait for, unless etcd's
	// revision moved again since (the next one is for those).
	trusted := c.s.progressTrusted()
	first := start
	if !trusted {
		first = start.Add(50 * time.Millisecond)
	}
	lastRev, moved := c.rev, start
	for !c.synced || c.rev < rev {
		now := time.Now()
		if c.rev != lastRev {
			lastRev, moved = c.rev, now
		}
		if ctx.Err() != nil || now.Sub(moved) > maxCacheStall || now.Sub(start) > maxCacheWait {
			return false
		}
		// etcd answers a progress request only while every watch of the
		// stream is synced: ask again now and then. Where its answer may
		// overtake events (progress.go), a write of the cache's own key
		// comes back in order instead.
		if c.synced && !now.Before(first) && now.Sub(c.asked) > 200*time.Millisecond {
			c.asked = now
			go func() {
				pctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), time.Second)
				defer cancel()
				if trusted {
					_ = c.s.cli.RequestProgress(pctx)
				} else {
					_, _ = c.s.cli.Put(pctx, c.s.keys.tickKey(), "")
				}
			}()
		}
		// Wake at least every 100 ms to look at the deadline.
		t := time.AfterFunc(100*time.Millisecond, func() {
			c.mu.Lock()
			c.moved.Broadcast()
			c.mu.Unlock()
		})
		c.moved.Wait()
		t.Stop()
	}
	if d := time.Since(start); d > maxCacheStall {
		slog.Info("cache caught up with etcd after a long wait", "waited", d.Round(time.Millisecond))
	}
	return true
}

// Revision returns the etcd revision the cache is at.
func (c *Cache) Revision() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rev
}

// errBehind says the cache could not catch up with etcd in time; the
// store then reads etcd.
var errBehind = errors.New("cache is behind etcd")

// readable waits until the cache holds etcd's current revision.
func (c *Cache) readable(ctx context.Context) error {
	target, err := c.s.Revision(ctx)
	if err != nil {
		return err
	}
	if !c.waitFor(ctx, target) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errBehind
	}
	return nil
}

// Allocs returns copies of the allocations (with status) that keep
// accepts, as of etcd's current revision.
func (c *Cache) Allocs(ctx context.Context, keep func(*api.Allocation) bool) ([]*api.Allocation, error) {
	if err := c.readable(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*api.Allocation
	for _, a := range c.allocs {
		if keep(a) {
			cp := *a
			out = append(out, &cp)
		}
	}
	return out, nil
}

// Nodes returns copies of every node, with status, as of etcd's current
// revision.
func (c *Cache) Nodes(ctx context.Context) ([]*api.Node, error) {
	if err := c.readable(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*api.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		cp := *n
		out = append(out, &cp)
	}
	return out, nil
}

// JobSnapshot is what one scheduling pass of a job reads: the nodes (in
// ID order), what each node's live allocations use, the job's own
// allocations, and the plan revision of each node.
type JobSnapshot struct {
	Nodes        []*api.Node
	Usage        map[string]*NodeUsage
	JobAllocs    []*api.Allocation
	NodePlanRevs map[string]int64
}

// JobSnapshot returns what a scheduling pass of one job reads, as of
// etcd's current revision, at a cost in proportion to the nodes and the
// job rather than to every allocation (errBehind when the cache cannot
// catch up in time).
func (c *Cache) JobSnapshot(ctx context.Context, ns, job string) (*JobSnapshot, error) {
	if err := c.readable(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		c.sorted = make([]*api.Node, 0, len(c.nodes))
		for _, n := range c.nodes {
			c.sorted = append(c.sorted, n)
		}
		sort.Slice(c.sorted, func(i, j int) bool { return c.sorted[i].ID < c.sorted[j].ID })
	}
	snap := &JobSnapshot{Nodes: c.sorted, Usage: make(map[string]*NodeUsage, len(c.usage)),
		NodePlanRevs: make(map[string]int64, len(c.plans))}
	for k, v := range c.usage {
		snap.Usage[k] = v
	}
	for k, v := range c.plans {
		snap.NodePlanRevs[k] = min(v, c.rev) // as in Snapshot
	}
	for _, a := range c.byJob[ns+"/"+job] {
		snap.JobAllocs = append(snap.JobAllocs, a)
	}
	return snap, nil
}

// AllocCounts returns how many allocations the cache holds now by client
// status, without waiting for etcd's revision (for metrics).
func (c *Cache) AllocCounts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byStatus))
	for k, v := range c.byStatus {
		out[k] = v
	}
	return out
}

// CachedAlloc returns the allocation the cache holds now (with status), or
// nil, without waiting for the cache to reach etcd's revision: for
// subscribers that look at fields an allocation never changes
// (PreviousAllocation, say). The object is shared: not to be changed.
func (c *Cache) CachedAlloc(id string) *api.Allocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allocs[id]
}

// HasNode reports whether the cache holds a record of the node, as of
// the events it applied (no wait for etcd's current revision).
func (c *Cache) HasNode(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records[id] != nil
}

// NodeAllocs returns copies of a node's allocations (with status), as of
// etcd's current revision.
func (c *Cache) NodeAllocs(ctx context.Context, node string) ([]*api.Allocation, error) {
	if err := c.readable(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byNode[node]
	out := make([]*api.Allocation, 0, len(m))
	for _, a := range m {
		cp := *a
		out = append(out, &cp)
	}
	return out, nil
}

// JobAllocs returns copies of a job's allocations (with status), as of
// etcd's current revision.
func (c *Cache) JobAllocs(ctx context.Context, ns, job string) ([]*api.Allocation, error) {
	if err := c.readable(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byJob[ns+"/"+job]
	out := make([]*api.Allocation, 0, len(m))
	for _, a := range m {
		cp := *a
		out = append(out, &cp)
	}
	return out, nil
}

// refit looks at the nodes a plan's units place on whose plan key the
// cache shows moved past revs — another plan placed there since the
// snapshot — and, for each, whether the plan's placements there still fit
// in what the node has left as the cache holds it. Where they do, revs
// takes the node's current plan revision, so the commit compares against
// exactly the state it checked; where they do not (or a unit there is
// not a plain placement, or the node is no longer ready and eligible),
// the units touching the node are dropped, to be planned again. It
// reports whether it dropped any unit, and how many nodes had moved.
func (c *Cache) refit(units [][]*api.Allocation, revs map[string]int64, commit *Commit) ([][]*api.Allocation, bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var moved map[string]int64
	for _, u := range units {
		for _, a := range u {
			if !commit.Placing[a.NodeID] {
				continue
			}
			if cur := c.plans[a.NodeID]; cur > revs[a.NodeID] {
				if moved == nil {
					moved = map[string]int64{}
				}
				moved[a.NodeID] = cur
			}
		}
	}
	if len(moved) == 0 {
		return units, false, 0
	}
	add := map[string]api.Resources{}
	bad := map[string]bool{}
	for _, u := range units {
		plain := true
		for _, a := range u {
			plain = plain && c.plainPlacement(a)
		}
		for _, a := range u {
			if _, ok := moved[a.NodeID]; !ok {
				continue
			}
			if !plain {
				bad[a.NodeID] = true
			}
			add[a.NodeID] = add[a.NodeID].Add(a.Resources)
		}
	}
	drop := map[string]bool{}
	for node, cur := range moved {
		n := c.nodes[node]
		var used api.Resources
		if u := c.usage[node]; u != nil {
			used = u.Used
		}
		if bad[node] || n == nil || n.Status != api.NodeStatusReady || !n.Eligible || n.Drain != nil ||
			!fitsIn(used.Add(add[node]), n.Resources) {
			drop[node] = true
			continue
		}
		revs[node] = cur
		commit.Refitted++
	}
	if len(drop) == 0 {
		return units, false, len(moved)
	}
	return dropConflicting(units, drop), true, len(moved)
}

// plainPlacement reports whether an allocation is a new placement that
// asks for nothing but CPU, memory and disk: what refit can check from a
// node's usage alone. c.mu is held.
func (c *Cache) plainPlacement(a *api.Allocation) bool {
	return c.allocs[a.ID] == nil && a.DesiredStatus == api.AllocDesiredRun && len(a.Ports) == 0 &&
		a.Resources.Cores == 0 && len(a.Resources.Devices) == 0
}

// fitsIn reports whether used stays within a node's capacity, as the
// scheduler checks it for plain placements.
func fitsIn(used, capacity api.Resources) bool {
	return used.CPU <= capacity.CPU && used.MemoryMB <= capacity.MemoryMB &&
		(capacity.DiskMB <= 0 || used.DiskMB <= capacity.DiskMB)
}
