package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AllocFilter selects allocations. Empty fields match everything.
type AllocFilter struct {
	Namespace string
	JobID     string
	NodeID    string
}

// ListAllocs returns the allocations that match the filter, with the status
// their nodes reported.
func (s *Store) ListAllocs(ctx context.Context, f AllocFilter) ([]*api.Allocation, error) {
	if c := s.cache.Load(); c != nil && f.JobID != "" && f.NodeID == "" {
		out, err := c.JobAllocs(ctx, f.Namespace, f.JobID)
		if err == nil {
			sortAllocs(out)
			return out, nil
		}
		if !errors.Is(err, errBehind) {
			return nil, err
		}
	} else if c != nil && f.NodeID != "" {
		out, err := c.NodeAllocs(ctx, f.NodeID)
		if err == nil {
			kept := out[:0]
			for _, a := range out {
				if (f.Namespace == "" || a.Namespace == f.Namespace) && (f.JobID == "" || a.JobID == f.JobID) {
					kept = append(kept, a)
				}
			}
			sortAllocs(kept)
			return kept, nil
		}
		if !errors.Is(err, errBehind) {
			return nil, err
		}
	} else if c != nil {
		out, err := c.Allocs(ctx, func(a *api.Allocation) bool {
			return (f.NodeID == "" || a.NodeID == f.NodeID) && (f.Namespace == "" || a.Namespace == f.Namespace) &&
				(f.JobID == "" || a.JobID == f.JobID)
		})
		if err == nil {
			sortAllocs(out)
			return out, nil
		}
		if !errors.Is(err, errBehind) {
			return nil, err
		}
	}
	var allocs []*api.Allocation
	var err error
	switch {
	case f.JobID != "":
		allocs, err = s.jobAllocs(ctx, f.Namespace, f.JobID)
	case f.NodeID != "":
		allocs, _, err = listAll[api.Allocation](ctx, s, s.keys.NodeAllocs(f.NodeID))
	default:
		allocs, _, err = listAll[api.Allocation](ctx, s, s.keys.Kind(KindAllocs))
	}
	if err != nil {
		return nil, err
	}
	out := allocs[:0]
	for _, a := range allocs {
		if (f.NodeID == "" || a.NodeID == f.NodeID) && (f.Namespace == "" || a.Namespace == f.Namespace) {
			out = append(out, a)
		}
	}
	if err := s.attachStatus(ctx, out, f.NodeID); err != nil {
		return nil, err
	}
	sortAllocs(out)
	return out, nil
}

// sortAllocs orders allocations by name, then age.
func sortAllocs(out []*api.Allocation) {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].CreateTime.Before(out[j].CreateTime)
	})
}

// jobAllocs reads a job's allocations from etcd: every allocation, kept
// if it is the job's. This is the fallback of a server without a current
// cache; the cache answers it from memory.
func (s *Store) jobAllocs(ctx context.Context, ns, job string) ([]*api.Allocation, error) {
	all, _, err := listAll[api.Allocation](ctx, s, s.keys.Kind(KindAllocs))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, a := range all {
		if a.Namespace == ns && a.JobID == job {
			out = append(out, a)
		}
	}
	return out, nil
}

// attachStatus fills in the Status of each allocation from the keys their
// nodes wrote.
func (s *Store) attachStatus(ctx context.Context, allocs []*api.Allocation, nodeID string) error {
	if len(allocs) == 0 {
		return nil
	}
	prefix := s.keys.Kind(KindAllocStatus)
	if nodeID != "" {
		prefix += nodeID + "/"
	}
	byID := make(map[string]*api.Allocation, len(allocs))
	for _, a := range allocs {
		byID[a.ID] = a
	}
	_, err := s.rangeKVs(ctx, prefix, 0, func(kv *mvccpb.KeyValue) error {
		seg := lastSegments(string(kv.Key), 1)
		a := byID[seg[0]]
		if a == nil {
			return nil
		}
		st, err := decode[api.AllocStatus](string(kv.Key), kv.Value)
		if err != nil {
			return err
		}
		a.Status = st
		a.Touched(kv.ModRevision)
		return nil
	})
	return err
}

// GetAlloc finds an allocation by its ID or a unique prefix of it.
func (s *Store) GetAlloc(ctx context.Context, idPrefix string) (*api.Allocation, error) {
	if c := s.cache.Load(); c != nil {
		allocs, err := c.Allocs(ctx, func(a *api.Allocation) bool { return strings.HasPrefix(a.ID, idPrefix) })
		if err == nil {
			return byIDPrefix(allocs, idPrefix, func(a *api.Allocation) string { return a.ID })
		}
		if !errors.Is(err, errBehind) {
			return nil, err
		}
	}
	allocs, _, err := listAll[api.Allocation](ctx, s, s.keys.Kind(KindAllocs))
	if err != nil {
		return nil, err
	}
	a, err := byIDPrefix(allocs, idPrefix, func(a *api.Allocation) string { return a.ID })
	if err != nil {
		return nil, err
	}
	st, rev, err := getOne[api.AllocStatus](ctx, s, s.keys.AllocStatus(a.NodeID, a.ID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	a.Status = st
	a.Touched(rev)
	return a, nil
}

// ReadAlloc reads an allocation's desired state, without its status.
func (s *Store) ReadAlloc(ctx context.Context, nodeID, allocID string) (*api.Allocation, error) {
	a, _, err := getOne[api.Allocation](ctx, s, s.keys.Alloc(nodeID, allocID))
	return a, err
}

// UpdateAlloc changes an allocation's desired state with a
// read-compare-write loop; change may add other writes (an evaluation) to
// the same transaction.
func (s *Store) UpdateAlloc(ctx context.Context, a *api.Allocation, change func(*api.Allocation, *Txn)) (*api.Allocation, error) {
	key := s.keys.Alloc(a.NodeID, a.ID)
	for attempt := 0; attempt < maxRetries; attempt++ {
		cur, rev, err := getOne[api.Allocation](ctx, s, key)
		if err != nil {
			return nil, err
		}
		txn := s.NewTxn(Guard{})
		change(cur, txn)
		txn.putAt(key, rev, cur)
		err = txn.Commit(ctx)
		if err == nil {
			return cur, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("updating allocation %s: %w", a.ID, err)
		}
	}
	return nil, fmt.Errorf("updating allocation %s: %w", a.ID, ErrConflict)
}

// PutAllocStatus writes the observed state of an allocation. Only the node
// agent running the allocation calls it.
func (s *Store) PutAllocStatus(ctx context.Context, nodeID, allocID string, st *api.AllocStatus) error {
	if _, err := s.cli.Put(ctx, s.keys.AllocStatus(nodeID, allocID), encode(storedStatus(st))); err != nil {
		return fmt.Errorf("writing status of allocation %s: %w", allocID, err)
	}
	return nil
}

// PutAllocStatuses writes the observed states of several allocations of
// one node, in as few transactions as etcd's limits allow: what an agent
// that coalesces its writes sends.
func (s *Store) PutAllocStatuses(ctx context.Context, nodeID string, statuses map[string]*api.AllocStatus) error {
	if err := s.PutNodesAllocStatuses(ctx, map[string]map[string]*api.AllocStatus{nodeID: statuses}); err != nil {
		return fmt.Errorf("node %s: %w", nodeID, err)
	}
	return nil
}

// PutNodesAllocStatuses writes the observed states of allocations of
// several nodes (node ID → allocation ID → status) in as few transactions
// as etcd's limits allow: what the servers' status relay sends for the
// node agents that handed it their writes.
func (s *Store) PutNodesAllocStatuses(ctx context.Context, byNode map[string]map[string]*api.AllocStatus) error {
	n := 0
	for _, statuses := range byNode {
		n += len(statuses)
	}
	ops := make([]clientv3.Op, 0, min(n, maxTxnOps))
	size := 0
	flush := func() error {
		var err error
		switch len(ops) {
		case 0:
			return nil
		case 1:
			// One status (most writes of an agent: its allocations
			// seldom change together) goes as a plain put: etcd before
			// 3.5 copies its whole pending write buffer to evaluate any
			// transaction, compares or not — a third of each member's
			// CPU on a 3-member etcd 3.4 under C1M load.
			_, err = s.cli.Do(ctx, ops[0])
		default:
			_, err = s.cli.Txn(ctx).Then(ops...).Commit()
		}
		if err != nil {
			return fmt.Errorf("writing %d allocation statuses: %w", len(ops), err)
		}
		ops, size = ops[:0], 0
		return nil
	}
	for node, statuses := range byNode {
		for id, st := range statuses {
			v := encode(storedStatus(st))
			if len(ops) == maxTxnOps || size+len(v) > MaxRequestBytes-txnOverhead {
				if err := flush(); err != nil {
					return err
				}
			}
			ops = append(ops, clientv3.OpPut(s.keys.AllocStatus(node, id), v))
			size += len(v)
		}
	}
	return flush()
}

// GetAllocStatus reads the observed state of an allocation.
func (s *Store) GetAllocStatus(ctx context.Context, nodeID, allocID string) (*api.AllocStatus, error) {
	st, _, err := getOne[api.AllocStatus](ctx, s, s.keys.AllocStatus(nodeID, allocID))
	return st, err
}

// DeleteAllocs removes terminal allocations with their status and index
// keys, guarded like a plan.
func (s *Store) DeleteAllocs(ctx context.Context, allocs []*api.Allocation, g Guard) error {
	const perTxn = maxTxnOps / 3
	for start := 0; start < len(allocs); start += perTxn {
		end := min(start+perTxn, len(allocs))
		var ops []clientv3.Op
		for _, a := range allocs[start:end] {
			ops = append(ops,
				clientv3.OpDelete(s.keys.Alloc(a.NodeID, a.ID)),
				clientv3.OpDelete(s.keys.AllocStatus(a.NodeID, a.ID)),
				clientv3.OpDelete(s.keys.JobAlloc(a.Namespace, a.JobID, a.ID)),
			)
		}
		resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("deleting allocations: %w", err)
		}
		if !resp.Succeeded {
			return ErrConflict
		}
	}
	return nil
}

// OperatorStopAlloc is an operator's alloc stop. An allocation of a
// service or batch job that still runs gets StopRequested: the job's
// evaluation, created in the same transaction, stops it and places its
// replacement, linking the two (Nomad's alloc stop, which nomad job
// restart -reschedule follows). A system job's allocation, or one that
// ended, is stopped at once. It returns the allocation as written and the
// evaluation's ID.
func (s *Store) OperatorStopAlloc(ctx context.Context, a *api.Allocation, now time.Time) (*api.Allocation, string, error) {
	return s.OperatorStopAllocWith(ctx, a, now, false)
}

// OperatorStopAllocWith is OperatorStopAlloc; noShutdownDelay has the
// node stop it without the group's and tasks' shutdown_delay.
func (s *Store) OperatorStopAllocWith(ctx context.Context, a *api.Allocation, now time.Time, noShutdownDelay bool) (*api.Allocation, string, error) {
	jobType := ""
	if j, _, err := s.GetJob(ctx, a.Namespace, a.JobID); err == nil {
		jobType = j.Type
	} else if !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	var evalID string
	u, err := s.UpdateAlloc(ctx, a, func(cur *api.Allocation, txn *Txn) {
		if cur.DesiredStatus == api.AllocDesiredRun && !cur.Terminal() && (jobType == api.JobTypeService || jobType == api.JobTypeBatch) {
			cur.StopRequested = true
		} else {
			cur.DesiredStatus = api.AllocDesiredStop
			cur.DesiredDescription = "alloc was stopped by an operator"
		}
		cur.NoShutdownDelay = cur.NoShutdownDelay || noShutdownDelay
		cur.ModifyTime = now
		evalID = txn.CreateEval(cur.Namespace, cur.JobID, "alloc-stop", cur.NodeID, now).ID
	})
	return u, evalID, err
}
