// Package store is nomadic's only door to etcd. It owns the key layout (see
// keys.go), encodes the API objects, and makes every write that depends on
// a read a transaction that compares the revisions it read.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a transaction lost a race with another
// writer; the caller reads again and retries.
var ErrConflict = errors.New("conflicting write")

// ErrAmbiguous is returned when a short ID matches several objects.
var ErrAmbiguous = errors.New("ambiguous id")

// pageSize is how many keys one range request returns when listing.
const pageSize = 1000

// Store reads and writes one cluster's state in etcd.
type Store struct {
	cli   *clientv3.Client
	keys  Keys
	cache atomic.Pointer[Cache]
}

// UseCache makes ReadSnapshot read from a running cache of this store's
// cluster (nil: from etcd again).
func (s *Store) UseCache(c *Cache) { s.cache.Store(c) }

// DropCache stops reading from c, if the store still uses it (several
// servers in one process may share a store, each with its own cache).
func (s *Store) DropCache(c *Cache) { s.cache.CompareAndSwap(c, nil) }

// New returns a store for the cluster under prefix.
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, keys: NewKeys(prefix)}
}

// Client returns the etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Keys returns the key layout.
func (s *Store) Keys() Keys { return s.keys }

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own API types are encoded; they always marshal.
		panic(fmt.Sprintf("encoding %T: %v", v, err))
	}
	return string(b)
}

func decode[T any](key string, b []byte) (*T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", key, err)
	}
	return &v, nil
}

// List calls fn for every key under prefix, in key order, reading pages of
// pageSize keys at one revision so the result is a consistent snapshot. It
// returns that revision.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, value []byte) error) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	key := prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("listing %s: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(string(kv.Key), kv.Value); err != nil {
				return 0, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func listAll[T any](ctx context.Context, s *Store, prefix string) ([]*T, int64, error) {
	var out []*T
	rev, err := s.List(ctx, prefix, func(key string, value []byte) error {
		v, err := decode[T](key, value)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, rev, err
}

func getOne[T any](ctx context.Context, s *Store, key string) (*T, int64, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrNotFound
	}
	v, err := decode[T](key, resp.Kvs[0].Value)
	if err != nil {
		return nil, 0, err
	}
	return v, resp.Kvs[0].ModRevision, nil
}

// --- Jobs ---

// GetJob returns a job's current specification and the revision it was
// last written at.
func (s *Store) GetJob(ctx context.Context, ns, id string) (*api.Job, int64, error) {
	return getOne[api.Job](ctx, s, s.keys.Job(ns, id))
}

// GetJobVersion returns one version of a job.
func (s *Store) GetJobVersion(ctx context.Context, ns, id string, version uint64) (*api.Job, error) {
	j, _, err := getOne[api.Job](ctx, s, s.keys.JobVersion(ns, id, version))
	return j, err
}

// ListJobVersions returns every stored version of a job, oldest first.
func (s *Store) ListJobVersions(ctx context.Context, ns, id string) ([]*api.Job, error) {
	versions, _, err := listAll[api.Job](ctx, s, s.keys.JobVersions(ns, id))
	return versions, err
}

// DeleteJobVersions removes versions of a job, guarded.
func (s *Store) DeleteJobVersions(ctx context.Context, ns, id string, versions []uint64, guards []clientv3.Cmp) error {
	for start := 0; start < len(versions); start += maxTxnOps {
		end := min(start+maxTxnOps, len(versions))
		var ops []clientv3.Op
		for _, v := range versions[start:end] {
			ops = append(ops, clientv3.OpDelete(s.keys.JobVersion(ns, id, v)))
		}
		if _, err := s.cli.Txn(ctx).If(guards...).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("deleting versions of job %q: %w", id, err)
		}
	}
	return nil
}

// RecordEtcdMember records the etcd member a server's embedded etcd is, so
// that force-leave can remove it once the server is gone.
func (s *Store) RecordEtcdMember(ctx context.Context, server string, id uint64) error {
	_, err := s.cli.Put(ctx, s.keys.EtcdMember(server), strconv.FormatUint(id, 16))
	return err
}

// ForceLeaveResult says what force-leave removed.
type ForceLeaveResult struct {
	// Registration is set when the server's live registration was
	// removed (and its lease revoked).
	Registration bool `json:"registration"`
	// EtcdMember is the hex ID of the embedded etcd member removed, if the
	// server ran one.
	EtcdMember string `json:"etcd_member,omitempty"`
}

// ForceLeave removes a server: its membership and lease (which releases
// its evaluation claims and its place in the election) if it is still
// registered, and the etcd member its embedded etcd was, if it ran one. A
// server that is neither is not found. The member of a server that still
// answers is not removed: stop it first.
func (s *Store) ForceLeave(ctx context.Context, name string) (*ForceLeaveResult, error) {
	res := &ForceLeaveResult{}
	resp, err := s.cli.Get(ctx, s.keys.Server(name))
	if err != nil {
		return nil, fmt.Errorf("reading server %s: %w", name, err)
	}
	if len(resp.Kvs) > 0 {
		if lease := clientv3.LeaseID(resp.Kvs[0].Lease); lease != 0 {
			if _, err := s.cli.Revoke(ctx, lease); err != nil {
				return nil, fmt.Errorf("revoking the lease of server %s: %w", name, err)
			}
		}
		if _, err := s.cli.Delete(ctx, s.keys.Server(name)); err != nil {
			return nil, err
		}
		res.Registration = true
	}
	mresp, err := s.cli.Get(ctx, s.keys.EtcdMember(name))
	if err != nil {
		return nil, fmt.Errorf("reading the etcd member of server %s: %w", name, err)
	}
	if len(mresp.Kvs) > 0 {
		hexID := string(mresp.Kvs[0].Value)
		id, err := strconv.ParseUint(hexID, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("etcd member of server %s: %w", name, err)
		}
		members, err := s.cli.MemberList(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing etcd members: %w", err)
		}
		for _, m := range members.Members {
			if m.ID != id {
				continue
			}
			if len(members.Members) == 1 {
				return nil, fmt.Errorf("server %s runs the only etcd member: it cannot leave its own cluster", name)
			}
			if _, err := s.cli.MemberRemove(ctx, id); err != nil {
				return nil, fmt.Errorf("removing etcd member %s of server %s: %w", hexID, name, err)
			}
			res.EtcdMember = hexID
		}
		if _, err := s.cli.Delete(ctx, s.keys.EtcdMember(name)); err != nil {
			return nil, err
		}
	}
	if !res.Registration && res.EtcdMember == "" && len(mresp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return res, nil
}

// ListJobs returns the jobs of a namespace, or of all namespaces when ns is
// empty.
func (s *Store) ListJobs(ctx context.Context, ns string) ([]*api.Job, error) {
	prefix := s.keys.Kind(kindJobs)
	if ns != "" {
		prefix += ns + "/"
	}
	jobs, _, err := listAll[api.Job](ctx, s, prefix)
	return jobs, err
}

// SameSpec reports whether two jobs have the same user-given
// specification.
func SameSpec(a, b *api.Job) bool { return sameSpec(a, b) }

// sameSpec reports whether two jobs have the same user-given specification.
func sameSpec(a, b *api.Job) bool {
	ca, cb := *a, *b
	for _, c := range []*api.Job{&ca, &cb} {
		c.Version, c.SubmitTime, c.Status, c.Stop, c.Stable = 0, time.Time{}, "", false, false
	}
	// Compare through JSON so that nil and empty maps count as the same.
	return encode(&ca) == encode(&cb)
}

// maxRetries bounds the read-compare-write loops of the store.
const maxRetries = 10

// RegisterJob creates or updates a job and, in the same transaction, an
// evaluation for it, so a submitted job is never left without one. A job
// whose specification did not change (and that is not stopped) is left as it
// is and gets no evaluation.
func (s *Store) RegisterJob(ctx context.Context, job *api.Job, now time.Time) (*api.RegisterResponse, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		old, rev, err := s.GetJob(ctx, job.Namespace, job.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		next := *job
		next.Status = ""
		next.Stop = false
		next.Stable = false
		next.SubmitTime = now
		result := "created"
		if old != nil {
			if !old.Stop && sameSpec(old, job) {
				return &api.RegisterResponse{Result: "unchanged", JobID: job.ID, Namespace: job.Namespace, JobVersion: old.Version}, nil
			}
			next.Version = old.Version + 1
			result = "updated"
		} else {
			next.Version = 0
		}
		eval := newEval(&next, api.EvalTriggerJobRegister, now)
		txn := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.keys.Job(job.Namespace, job.ID)), "=", rev)).Then(
			clientv3.OpPut(s.keys.Job(job.Namespace, job.ID), encode(&next)),
			clientv3.OpPut(s.keys.JobVersion(job.Namespace, job.ID, next.Version), encode(&next)),
			clientv3.OpPut(s.keys.Eval(eval.Namespace, eval.JobID, eval.ID), encode(eval)),
		)
		resp, err := txn.Commit()
		if err != nil {
			return nil, fmt.Errorf("registering job %q: %w", job.ID, err)
		}
		if resp.Succeeded {
			return &api.RegisterResponse{Result: result, JobID: job.ID, Namespace: job.Namespace, JobVersion: next.Version, EvalID: eval.ID}, nil
		}
	}
	return nil, fmt.Errorf("registering job %q: %w", job.ID, ErrConflict)
}

// StopJob marks a job stopped, or with purge deletes it, and creates the
// evaluation that stops its allocations, in one transaction.
func (s *Store) StopJob(ctx context.Context, ns, id string, purge bool, now time.Time) (string, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		old, rev, err := s.GetJob(ctx, ns, id)
		if err != nil {
			return "", err
		}
		key := s.keys.Job(ns, id)
		eval := newEval(old, api.EvalTriggerJobDeregister, now)
		var op clientv3.Op
		if purge {
			op = clientv3.OpDelete(key)
		} else {
			if old.Stop {
				return "", nil
			}
			stopped := *old
			stopped.Stop = true
			stopped.Status = ""
			op = clientv3.OpPut(key, encode(&stopped))
		}
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(
			op, clientv3.OpPut(s.keys.Eval(ns, id, eval.ID), encode(eval)),
		).Commit()
		if err != nil {
			return "", fmt.Errorf("stopping job %q: %w", id, err)
		}
		if resp.Succeeded {
			return eval.ID, nil
		}
	}
	return "", fmt.Errorf("stopping job %q: %w", id, ErrConflict)
}

// --- Evaluations ---

func newEval(job *api.Job, trigger string, now time.Time) *api.Evaluation {
	return &api.Evaluation{
		ID: api.NewID(), Namespace: job.Namespace, JobID: job.ID, TriggeredBy: trigger,
		Status: api.EvalStatusPending, CreateTime: now, ModifyTime: now,
	}
}

// CreateEval stores a new pending evaluation of a job, if guards hold.
func (s *Store) CreateEval(ctx context.Context, ns, job, trigger, nodeID string, now time.Time, guards ...clientv3.Cmp) (*api.Evaluation, error) {
	return s.CreateEvalAt(ctx, ns, job, trigger, nodeID, now, time.Time{}, guards...)
}

// CreateEvalAt stores a new pending evaluation that waits until a given
// time (zero: none), if guards hold.
func (s *Store) CreateEvalAt(ctx context.Context, ns, job, trigger, nodeID string, now, waitUntil time.Time, guards ...clientv3.Cmp) (*api.Evaluation, error) {
	e := newEval(&api.Job{Namespace: ns, ID: job}, trigger, now)
	e.NodeID = nodeID
	e.WaitUntil = waitUntil
	resp, err := s.cli.Txn(ctx).If(guards...).Then(clientv3.OpPut(s.keys.Eval(ns, job, e.ID), encode(e))).Commit()
	if err != nil {
		return nil, fmt.Errorf("creating evaluation for job %q: %w", job, err)
	}
	if !resp.Succeeded {
		return nil, ErrConflict
	}
	return e, nil
}

// ListEvals returns the evaluations of one job, or of all jobs when job is
// empty, oldest first.
func (s *Store) ListEvals(ctx context.Context, ns, job string) ([]*api.Evaluation, error) {
	prefix := s.keys.Kind(kindEvals)
	if job != "" {
		prefix = s.keys.JobEvals(ns, job)
	}
	evals, _, err := listAll[api.Evaluation](ctx, s, prefix)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(evals, func(i, j int) bool { return evals[i].CreateTime.Before(evals[j].CreateTime) })
	return evals, nil
}

// GetEval finds an evaluation by its ID or a unique prefix of it.
func (s *Store) GetEval(ctx context.Context, idPrefix string) (*api.Evaluation, error) {
	evals, err := s.ListEvals(ctx, "", "")
	if err != nil {
		return nil, err
	}
	return byIDPrefix(evals, idPrefix, func(e *api.Evaluation) string { return e.ID })
}

func byIDPrefix[T any](items []*T, prefix string, id func(*T) string) (*T, error) {
	var found *T
	n := 0
	for _, it := range items {
		if id(it) == prefix {
			return it, nil
		}
		if prefix != "" && strings.HasPrefix(id(it), prefix) {
			found = it
			n++
		}
	}
	switch n {
	case 0:
		return nil, ErrNotFound
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%w: %q matches %d objects", ErrAmbiguous, prefix, n)
}

// --- Nodes ---

// PutNode writes a node record if it differs from the stored one, so that a
// node's periodic re-registration costs etcd nothing when nothing changed.
func (s *Store) PutNode(ctx context.Context, n *api.Node) error {
	key := s.keys.Node(n.ID)
	rec := *n
	rec.Status = ""
	old, _, err := getOne[api.Node](ctx, s, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if old != nil && reflect.DeepEqual(old, &rec) {
		return nil
	}
	if _, err := s.cli.Put(ctx, key, encode(&rec)); err != nil {
		return fmt.Errorf("writing node %s: %w", n.ID, err)
	}
	return nil
}

// PutHeartbeat writes the node's heartbeat key under its lease.
func (s *Store) PutHeartbeat(ctx context.Context, nodeID string, lease clientv3.LeaseID) error {
	if _, err := s.cli.Put(ctx, s.keys.Heartbeat(nodeID), "", clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("writing heartbeat of node %s: %w", nodeID, err)
	}
	return nil
}

// LiveNodes returns the IDs of the nodes whose heartbeat exists.
func (s *Store) LiveNodes(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	prefix := s.keys.Kind(kindHeartbeats)
	_, err := s.List(ctx, prefix, func(key string, _ []byte) error {
		live[strings.TrimPrefix(key, prefix)] = true
		return nil
	})
	return live, err
}

// ListNodes returns every node with its status.
func (s *Store) ListNodes(ctx context.Context) ([]*api.Node, error) {
	if c := s.cache.Load(); c != nil {
		nodes, err := c.Nodes(ctx)
		if err == nil {
			sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
			return nodes, nil
		}
		if !errors.Is(err, errBehind) {
			return nil, err
		}
	}
	nodes, _, err := listAll[api.Node](ctx, s, s.keys.Kind(kindNodes))
	if err != nil {
		return nil, err
	}
	live, err := s.LiveNodes(ctx)
	if err != nil {
		return nil, err
	}
	admin := map[string]*NodeAdmin{}
	prefix := s.keys.Kind(kindNodeAdmin)
	if _, err := s.List(ctx, prefix, func(key string, value []byte) error {
		a, err := decode[NodeAdmin](key, value)
		if err == nil {
			admin[strings.TrimPrefix(key, prefix)] = a
		}
		return err
	}); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		n.Status = api.NodeStatusDown
		if live[n.ID] {
			n.Status = api.NodeStatusReady
		}
		if a := admin[n.ID]; a != nil {
			n.Eligible = a.Eligible
			n.Drain = a.Drain
		}
	}
	return nodes, nil
}

// NodeAdmin is what operators decide about a node — its eligibility and
// drain — kept apart from the record its agent writes.
type NodeAdmin struct {
	Eligible bool               `json:"eligible"`
	Drain    *api.DrainStrategy `json:"drain,omitempty"`
}

// GetNodeAdmin reads a node's operator settings; eligible and not draining
// when none were set.
func (s *Store) GetNodeAdmin(ctx context.Context, nodeID string) (*NodeAdmin, int64, error) {
	a, rev, err := getOne[NodeAdmin](ctx, s, s.keys.NodeAdmin(nodeID))
	if errors.Is(err, ErrNotFound) {
		return &NodeAdmin{Eligible: true}, 0, nil
	}
	return a, rev, err
}

// UpdateNodeAdmin changes a node's operator settings with a
// read-compare-write loop; extra operations (evaluations to create) go in
// the same transaction.
func (s *Store) UpdateNodeAdmin(ctx context.Context, nodeID string, change func(*NodeAdmin) []clientv3.Op, guards ...clientv3.Cmp) error {
	key := s.keys.NodeAdmin(nodeID)
	for attempt := 0; attempt < maxRetries; attempt++ {
		a, rev, err := s.GetNodeAdmin(ctx, nodeID)
		if err != nil {
			return err
		}
		extra := change(a)
		cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}, guards...)
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(append([]clientv3.Op{clientv3.OpPut(key, encode(a))}, extra...)...).Commit()
		if err != nil {
			return fmt.Errorf("updating node %s: %w", nodeID, err)
		}
		if resp.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("updating node %s: %w", nodeID, ErrConflict)
}

// EvalOp is the operation that stores a new pending evaluation, for
// transactions that create evaluations with other writes.
func (s *Store) EvalOp(ns, job, trigger, nodeID string, now time.Time) clientv3.Op {
	e := newEval(&api.Job{Namespace: ns, ID: job}, trigger, now)
	e.NodeID = nodeID
	return clientv3.OpPut(s.keys.Eval(ns, job, e.ID), encode(e))
}

// GetNode finds a node by its ID, a unique ID prefix, or its name.
func (s *Store) GetNode(ctx context.Context, idOrName string) (*api.Node, error) {
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Name == idOrName {
			return n, nil
		}
	}
	return byIDPrefix(nodes, idOrName, func(n *api.Node) string { return n.ID })
}

// --- Allocations ---

// AllocFilter selects allocations. Empty fields match everything.
type AllocFilter struct {
	Namespace string
	JobID     string
	NodeID    string
}

// ListAllocs returns the allocations that match the filter, with the status
// their nodes reported.
func (s *Store) ListAllocs(ctx context.Context, f AllocFilter) ([]*api.Allocation, error) {
	if c := s.cache.Load(); c != nil {
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
		allocs, _, err = listAll[api.Allocation](ctx, s, s.keys.Kind(kindAllocs))
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

// jobAllocs reads a job's allocations through the job's index.
func (s *Store) jobAllocs(ctx context.Context, ns, job string) ([]*api.Allocation, error) {
	var keys []string
	prefix := s.keys.JobAllocs(ns, job)
	if _, err := s.List(ctx, prefix, func(key string, value []byte) error {
		keys = append(keys, s.keys.Alloc(string(value), strings.TrimPrefix(key, prefix)))
		return nil
	}); err != nil {
		return nil, err
	}
	var out []*api.Allocation
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		ops := make([]clientv3.Op, 0, end-start)
		for _, k := range keys[start:end] {
			ops = append(ops, clientv3.OpGet(k))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("reading allocations of job %q: %w", job, err)
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				a, err := decode[api.Allocation](string(kv.Key), kv.Value)
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			}
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
	prefix := s.keys.Kind(kindAllocStatus)
	if nodeID != "" {
		prefix += nodeID + "/"
	}
	byID := make(map[string]*api.Allocation, len(allocs))
	for _, a := range allocs {
		byID[a.ID] = a
	}
	_, err := s.List(ctx, prefix, func(key string, value []byte) error {
		seg := lastSegments(key, 1)
		a := byID[seg[0]]
		if a == nil {
			return nil
		}
		st, err := decode[api.AllocStatus](key, value)
		if err != nil {
			return err
		}
		a.Status = st
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
	allocs, _, err := listAll[api.Allocation](ctx, s, s.keys.Kind(kindAllocs))
	if err != nil {
		return nil, err
	}
	a, err := byIDPrefix(allocs, idPrefix, func(a *api.Allocation) string { return a.ID })
	if err != nil {
		return nil, err
	}
	st, _, err := getOne[api.AllocStatus](ctx, s, s.keys.AllocStatus(a.NodeID, a.ID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	a.Status = st
	return a, nil
}

// UpdateAlloc changes an allocation's desired state with a
// read-compare-write loop; extra operations go in the same transaction.
func (s *Store) UpdateAlloc(ctx context.Context, a *api.Allocation, change func(*api.Allocation) []clientv3.Op) (*api.Allocation, error) {
	key := s.keys.Alloc(a.NodeID, a.ID)
	for attempt := 0; attempt < maxRetries; attempt++ {
		cur, rev, err := getOne[api.Allocation](ctx, s, key)
		if err != nil {
			return nil, err
		}
		extra := change(cur)
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(append([]clientv3.Op{clientv3.OpPut(key, encode(cur))}, extra...)...).Commit()
		if err != nil {
			return nil, fmt.Errorf("updating allocation %s: %w", a.ID, err)
		}
		if resp.Succeeded {
			return cur, nil
		}
	}
	return nil, fmt.Errorf("updating allocation %s: %w", a.ID, ErrConflict)
}

// PutAllocStatus writes the observed state of an allocation. Only the node
// agent running the allocation calls it.
func (s *Store) PutAllocStatus(ctx context.Context, nodeID, allocID string, st *api.AllocStatus) error {
	if _, err := s.cli.Put(ctx, s.keys.AllocStatus(nodeID, allocID), encode(st)); err != nil {
		return fmt.Errorf("writing status of allocation %s: %w", allocID, err)
	}
	return nil
}

// GetAllocStatus reads the observed state of an allocation.
func (s *Store) GetAllocStatus(ctx context.Context, nodeID, allocID string) (*api.AllocStatus, error) {
	st, _, err := getOne[api.AllocStatus](ctx, s, s.keys.AllocStatus(nodeID, allocID))
	return st, err
}

// --- Servers ---

// RegisterServer writes a server's membership key under its lease.
func (s *Store) RegisterServer(ctx context.Context, srv *api.Server, lease clientv3.LeaseID) error {
	if _, err := s.cli.Put(ctx, s.keys.Server(srv.Name), encode(srv), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("registering server %s: %w", srv.Name, err)
	}
	return nil
}

// ElectionLeader returns the value the election's leader campaigned with
// (its server name), or "" when there is no leader.
func (s *Store) ElectionLeader(ctx context.Context) (string, error) {
	resp, err := s.cli.Get(ctx, s.keys.Election()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("reading election leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// SchedulerConfig is the cluster-wide scheduler configuration.
type SchedulerConfig struct {
	// Algorithm is binpack (default) or spread.
	Algorithm          string `json:"algorithm"`
	PreemptionDisabled bool   `json:"preemption_disabled,omitempty"`
}

// GetSchedulerConfig reads the scheduler configuration; defaults when unset.
func (s *Store) GetSchedulerConfig(ctx context.Context) (*SchedulerConfig, error) {
	c, _, err := getOne[SchedulerConfig](ctx, s, s.keys.SchedulerConfig())
	if errors.Is(err, ErrNotFound) {
		return &SchedulerConfig{Algorithm: "binpack"}, nil
	}
	return c, err
}

// PutSchedulerConfig writes the scheduler configuration.
func (s *Store) PutSchedulerConfig(ctx context.Context, c *SchedulerConfig) error {
	if _, err := s.cli.Put(ctx, s.keys.SchedulerConfig(), encode(c)); err != nil {
		return fmt.Errorf("writing scheduler configuration: %w", err)
	}
	return nil
}

// PutService writes a service instance under the node's lease.
func (s *Store) PutService(ctx context.Context, r *api.ServiceRegistration, lease clientv3.LeaseID) error {
	if _, err := s.cli.Put(ctx, s.keys.Service(r.Namespace, r.ServiceName, r.ID), encode(r), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("registering service %s: %w", r.ServiceName, err)
	}
	return nil
}

// DeleteService removes a service instance.
func (s *Store) DeleteService(ctx context.Context, ns, name, id string) error {
	_, err := s.cli.Delete(ctx, s.keys.Service(ns, name, id))
	return err
}

// ListServices returns the instances of a service, or of every service of
// the namespace when name is empty (all namespaces when ns is empty too).
func (s *Store) ListServices(ctx context.Context, ns, name string) ([]*api.ServiceRegistration, error) {
	prefix := s.keys.Kind("services")
	if ns != "" {
		prefix = s.keys.Services(ns, name)
	}
	regs, _, err := listAll[api.ServiceRegistration](ctx, s, prefix)
	return regs, err
}

// ListServers returns the live servers.
func (s *Store) ListServers(ctx context.Context) ([]*api.Server, error) {
	servers, _, err := listAll[api.Server](ctx, s, s.keys.Kind(kindServers))
	return servers, err
}
