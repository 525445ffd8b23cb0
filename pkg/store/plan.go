package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxTxnOps is the most operations one transaction carries: etcd refuses
// transactions of more than 128 (--max-txn-ops), and a user's existing
// cluster keeps its defaults, so plans are cut to fit.
const maxTxnOps = 128

// MaxTxnOps is how many operations nomadic puts in one etcd transaction
// at most (etcd's default --max-txn-ops).
const MaxTxnOps = maxTxnOps

// Snapshot is what a scheduler needs to plan: the nodes, every allocation
// (with status), and the plan revision of each node it read. It is read
// node revisions first, so that any plan committed while the snapshot was
// being read makes the node's compare fail instead of overcommitting it.
type Snapshot struct {
	Nodes        []*api.Node
	Allocs       []*api.Allocation
	NodePlanRevs map[string]int64
}

// ReadSnapshot reads a snapshot of the cluster for scheduling: from the
// store's cache when it has one (UseCache), from etcd otherwise.
func (s *Store) ReadSnapshot(ctx context.Context) (*Snapshot, error) {
	if c := s.cache.Load(); c != nil {
		return c.Snapshot(ctx)
	}
	return s.readSnapshot(ctx)
}

// ReadJobSnapshot reads what a scheduling pass of one job needs: from the
// cache's indexes when the store has a cache, otherwise from a snapshot
// of etcd.
func (s *Store) ReadJobSnapshot(ctx context.Context, ns, job string) (*JobSnapshot, error) {
	if c := s.cache.Load(); c != nil {
		snap, err := c.JobSnapshot(ctx, ns, job)
		if err == nil || !errors.Is(err, errBehind) {
			return snap, err
		}
		slog.Warn("cache is behind etcd; reading etcd")
	}
	full, err := s.readSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	return jobSnapshotOf(full, ns, job), nil
}

// jobSnapshotOf derives a job's scheduling snapshot from one of the whole
// cluster.
func jobSnapshotOf(full *Snapshot, ns, job string) *JobSnapshot {
	out := &JobSnapshot{Nodes: full.Nodes, Usage: map[string]*NodeUsage{}, NodePlanRevs: full.NodePlanRevs}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].ID < out.Nodes[j].ID })
	for _, a := range full.Allocs {
		if a.Namespace == ns && a.JobID == job {
			out.JobAllocs = append(out.JobAllocs, a)
		}
		if a.Live() {
			u := out.Usage[a.NodeID]
			if u == nil {
				u = &NodeUsage{}
				out.Usage[a.NodeID] = u
			}
			u.Used = u.Used.Add(a.Resources)
			u.Allocs = append(u.Allocs, a)
		}
	}
	return out
}

// readSnapshot reads a snapshot of the cluster from etcd.
func (s *Store) readSnapshot(ctx context.Context) (*Snapshot, error) {
	revs := map[string]int64{}
	prefix := s.keys.Kind(KindNodePlans)
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("reading node plan revisions: %w", err)
	}
	for _, kv := range resp.Kvs {
		revs[strings.TrimPrefix(string(kv.Key), prefix)] = kv.ModRevision
	}
	// A node's allocation records count as its plan revision too, as in
	// the cache (Cache.plans): plans made under the plan lock bump no
	// plan key. Read at the same revision, before anything else.
	if _, err := s.rangeKVs(ctx, s.keys.Kind(KindAllocs), resp.Header.Revision, func(kv *mvccpb.KeyValue) error {
		if ref, ok := s.keys.Parse(string(kv.Key)); ok {
			revs[ref.Node] = max(revs[ref.Node], kv.ModRevision)
		}
		return nil
	}, clientv3.WithKeysOnly()); err != nil {
		return nil, fmt.Errorf("reading node plan revisions: %w", err)
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	allocs, err := s.ListAllocs(ctx, AllocFilter{})
	if err != nil {
		return nil, err
	}
	return &Snapshot{Nodes: nodes, Allocs: allocs, NodePlanRevs: revs}, nil
}

// Commit is a set of allocation writes that a plan makes.
type Commit struct {
	// Allocs are written as they are: new placements and updated existing
	// allocations (stops, lost marks).
	Allocs []*api.Allocation
	// Placing names the nodes whose capacity the plan uses: no other
	// plan may have placed on them since the revision in NodePlanRevs
	// (their plan key's, or under the plan lock the cache's; 0: none).
	Placing      map[string]bool
	NodePlanRevs map[string]int64
	// Guard must hold for every transaction, such as the server still
	// holding its claim on the job.
	Guard Guard
	// Lock, when set, is the server's plan lock: the commit is made
	// holding it, against the cache, without a plan key per node
	// (PlanLock). It needs the store's cache.
	Lock *PlanLock
	// Deployments are written by the first transaction: the deployment
	// the plan's allocations name, so that it exists as soon as they do,
	// and older ones the plan cancels.
	Deployments []*api.Deployment

	// Set by CommitPlan: the allocations written (also when it reports
	// a conflict for the rest), and how many nodes another plan had
	// placed on meanwhile that still had room for this plan's
	// placements, which were committed there without a new pass.
	Written  []*api.Allocation
	Refitted int
}

// CommitPlan writes a plan in as few transactions as etcd's limits allow.
// Allocations go in units — an allocation with those linked to it as
// previous or next allocation, so a stop and the replacement it makes room
// for — and a unit is never split across transactions: whatever a reader
// sees between two transactions is a plan the scheduler could have made.
// Each transaction holds whole units (desired state and job index) and
// compares the plan keys of the nodes it places on — or, under the plan
// lock (Commit.Lock), only that the lock is still ours, the nodes having
// been checked against the cache (PlanLock). When a compare fails
// because another plan placed on some of those nodes, only the units
// touching those nodes are dropped; the rest is committed. The result is
// reported as ErrConflict with the count written: the caller re-plans from
// a new snapshot, which holds what was committed, so only the dropped part
// is planned again.
//
// With a cache (UseCache), a node another plan placed on since the
// snapshot is first looked at as the cache now has it: if the plan's new
// placements there (plain ones: no ports, reserved cores or devices, no
// stop or move of an existing allocation in their unit) still fit in what
// the node has left, they are kept and compared against the node's new
// plan revision, instead of being dropped and planned again. That is most
// conflicts when many plans spread over the same nodes. This happens before
// a transaction is sent, for the nodes the cache already shows moved, and
// after one failed, once the cache has caught up with it.
func (s *Store) CommitPlan(ctx context.Context, c *Commit) (n int, err error) {
	units := inUnits(c.Allocs)
	revs := make(map[string]int64, len(c.NodePlanRevs))
	for k, v := range c.NodePlanRevs {
		revs[k] = v
	}
	written := 0
	conflicted := false
	cache := s.cache.Load()
	failures := 0
	// bump: each transaction compares and bumps the plan key of the
	// nodes it places on; always without the plan lock, and with it while
	// a server from before it is live.
	bump := true
	var lockCmp []clientv3.Cmp
	if l := c.Lock; l != nil {
		if cache == nil {
			return 0, errors.New("committing a plan under the plan lock: the server's cache is not in use")
		}
		// Our own last commit reaches the cache before the lock is
		// taken, not while the other servers wait for it.
		if !cache.waitFor(ctx, l.need.Load()) {
			return 0, fmt.Errorf("committing a plan: the cache did not reach revision %d in time", l.need.Load())
		}
		if err := l.acquire(ctx); err != nil {
			return 0, err
		}
		defer func() {
			// A transaction that failed (a conflict too) may have lost
			// the lock (its session's lease); let it go, to take it
			// again next time.
			l.release(err != nil)
		}()
		bump = l.bumpNodes(ctx)
		// Every plan committed before the lock was ours, our own last
		// one, and those of servers from before the lock until they
		// left, must be in the cache before it is checked against.
		// Meanwhile no server commits: the wait is bounded.
		wctx, cancel := context.WithTimeout(ctx, lockedCacheWait)
		caught := cache.waitFor(wctx, l.need.Load())
		cancel()
		if !caught {
			return 0, fmt.Errorf("committing a plan: the cache did not reach revision %d in time", l.need.Load())
		}
		lockCmp = []clientv3.Cmp{l.owner()}
		if !bump {
			lockCmp = append(lockCmp, l.noNewServer())
		}
	}
	var extra []clientv3.Op
	for _, d := range c.Deployments {
		extra = append(extra, clientv3.OpPut(s.keys.Deployment(d.Namespace, d.JobID, d.ID), encode(d)))
	}
	for len(units) > 0 || len(extra) > 0 {
		if cache != nil {
			var dropped bool
			units, dropped, _ = cache.refit(units, revs, c)
			conflicted = conflicted || dropped
		}
		cmps := append(append([]clientv3.Cmp(nil), c.Guard.cmps...), lockCmp...)
		ops := append([]clientv3.Op(nil), extra...)
		chunkExtra := extra
		extra = nil
		// The nodes this transaction places on, whose plan key it bumps
		// when bump is set.
		bumped := map[string]bool{}
		n, allocs := 0, 0
		for n < len(units) {
			unit := units[n]
			need := 0
			nodes := map[string]bool{}
			for _, a := range unit {
				need++
				if bump && c.Placing[a.NodeID] && !bumped[a.NodeID] && !nodes[a.NodeID] {
					nodes[a.NodeID] = true
					need++
				}
			}
			if len(ops)+need > maxTxnOps && n > 0 {
				break
			}
			for _, a := range unit {
				if c.Placing[a.NodeID] && !bumped[a.NodeID] {
					if bump {
						key := s.keys.NodePlan(a.NodeID)
						// Not bumped since the plan's snapshot (revs may be
						// later than the key's own revision: see Cache.plans).
						cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "<", revs[a.NodeID]+1))
						ops = append(ops, clientv3.OpPut(key, ""))
					}
					bumped[a.NodeID] = true
				}
				ops = append(ops, clientv3.OpPut(s.keys.Alloc(a.NodeID, a.ID), encode(withoutStatus(a))))
			}
			allocs += len(unit)
			n++
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return written, fmt.Errorf("committing plan: %w", err)
		}
		if !resp.Succeeded && c.Lock != nil && !bump {
			// Nothing but the guard, the lock or a new server can fail:
			// read the servers again before the next commit.
			c.Lock.recheck()
			return written, ErrConflict
		}
		if !resp.Succeeded && cache != nil && cache.waitFor(ctx, resp.Header.Revision) {
			// The cache holds what made the compares fail: refit there.
			var dropped bool
			var moved int
			units, dropped, moved = cache.refit(units, revs, c)
			if failures++; moved == 0 || failures > maxRefits {
				// No node moved: a guard failed (the claim is gone).
				return written, ErrConflict
			}
			extra = chunkExtra
			conflicted = conflicted || dropped
			continue
		}
		if !resp.Succeeded {
			moved, err := s.movedPlanKeys(ctx, bumped, revs)
			if err != nil {
				return written, err
			}
			if len(moved) == 0 {
				// A guard failed (the claim is gone): stop here.
				return written, ErrConflict
			}
			units = dropConflicting(units, moved)
			extra = chunkExtra
			conflicted = true
			continue
		}
		// A node split across transactions was bumped by this one.
		for node := range bumped {
			revs[node] = resp.Header.Revision
		}
		if c.Lock != nil {
			c.Lock.raise(resp.Header.Revision)
		}
		written += allocs
		for _, u := range units[:n] {
			c.Written = append(c.Written, u...)
		}
		units = units[n:]
	}
	if conflicted {
		return written, ErrConflict
	}
	return written, nil
}

// maxRefits bounds the failed transactions of one commit that refit
// after: past it, what is left is planned again.
const maxRefits = 16

// inUnits groups a plan's allocations into units of linked allocations
// (previous and next allocation, followed both ways), ordered by the node
// of their first allocation, and on one node the stops first: a
// placement may rely on the room a stop of the same plan frees there
// without being linked to it (a scale-down, a name held twice), and
// transactions commit in order, so the stop is written in the same
// transaction as the placement or in an earlier one — never a placement
// whose stop a failed transaction left unwritten.
func inUnits(in []*api.Allocation) [][]*api.Allocation {
	byID := make(map[string]*api.Allocation, len(in))
	for _, a := range in {
		byID[a.ID] = a
	}
	sorted := append([]*api.Allocation(nil), in...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].NodeID != sorted[j].NodeID {
			return sorted[i].NodeID < sorted[j].NodeID
		}
		return sorted[i].DesiredStatus != api.AllocDesiredRun && sorted[j].DesiredStatus == api.AllocDesiredRun
	})
	var units [][]*api.Allocation
	seen := make(map[string]bool, len(in))
	for _, a := range sorted {
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		unit := []*api.Allocation{a}
		for i := 0; i < len(unit); i++ {
			for _, id := range []string{unit[i].PreviousAllocation, unit[i].NextAllocation} {
				if l := byID[id]; l != nil && !seen[id] {
					seen[id] = true
					unit = append(unit, l)
				}
			}
		}
		units = append(units, unit)
	}
	return units
}

// movedPlanKeys returns the nodes whose plan key is no longer at the
// revision the plan read.
func (s *Store) movedPlanKeys(ctx context.Context, nodes map[string]bool, revs map[string]int64) (map[string]bool, error) {
	var ops []clientv3.Op
	var order []string
	for n := range nodes {
		ops = append(ops, clientv3.OpGet(s.keys.NodePlan(n), clientv3.WithKeysOnly()))
		order = append(order, n)
	}
	moved := map[string]bool{}
	if len(ops) == 0 {
		return moved, nil
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("reading node plan keys: %w", err)
	}
	for i, r := range resp.Responses {
		var rev int64
		if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
			rev = kvs[0].ModRevision
		}
		if rev > revs[order[i]] {
			moved[order[i]] = true
		}
	}
	return moved, nil
}

// dropConflicting removes the units that touch a moved node.
func dropConflicting(units [][]*api.Allocation, moved map[string]bool) [][]*api.Allocation {
	out := units[:0:0]
next:
	for _, u := range units {
		for _, a := range u {
			if moved[a.NodeID] {
				continue next
			}
		}
		out = append(out, u)
	}
	return out
}

func withoutStatus(a *api.Allocation) *api.Allocation {
	c := *a
	c.Status = nil
	c.Indexes = api.Indexes{}
	c.CreateTime, c.ModifyTime = storedTime(c.CreateTime), storedTime(c.ModifyTime)
	if c.ModifyTime.Equal(c.CreateTime) {
		// Read back as CreateTime (readAllocRecord).
		c.ModifyTime = time.Time{}
	}
	return &c
}

// readAllocRecord completes an allocation as read from its record: a
// modify time left out equals the create time (withoutStatus).
func readAllocRecord(a *api.Allocation) {
	if a.ModifyTime.IsZero() {
		a.ModifyTime = a.CreateTime
	}
}

// afterDecode completes an object decoded from etcd.
func afterDecode(v any) {
	if a, ok := v.(*api.Allocation); ok {
		readAllocRecord(a)
	}
}

// storedTime is a time as allocation records and statuses keep it: to the
// millisecond. A million allocations hold four times each; nanoseconds
// would cost 24 bytes of JSON an allocation, 2 % of what etcd stores for
// it, for a precision no reader uses.
func storedTime(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// storedStatus is a status as PutAllocStatuses stores it: its times to
// the millisecond (storedTime), without changing the caller's.
func storedStatus(st *api.AllocStatus) *api.AllocStatus {
	c := *st
	c.UpdateTime = storedTime(c.UpdateTime)
	if len(st.Tasks) > 0 {
		c.Tasks = make(map[string]*api.TaskState, len(st.Tasks))
		for name, ts := range st.Tasks {
			if ts == nil {
				c.Tasks[name] = nil
				continue
			}
			t := *ts
			t.StartedAt, t.FinishedAt = storedTime(t.StartedAt), storedTime(t.FinishedAt)
			c.Tasks[name] = &t
		}
	}
	return &c
}
