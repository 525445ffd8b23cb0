package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// fakeStore is an in-memory Store for the agent's unit tests. Values go
// through JSON on the way in and out, as they would through etcd, so the
// agent never shares memory with a test. Every write wakes waitFor.
type fakeStore struct {
	mu       sync.Mutex
	rev      int64
	jobs     map[string][]byte            // ns/id/version
	allocs   map[string]map[string][]byte // node, alloc ID
	statuses map[string][]byte            // node/alloc
	// history is every status written, by node/alloc.
	history  map[string][]*api.AllocStatus
	nodes    map[string]*api.Node
	beats    map[string]int64 // heartbeat leases, by node
	services map[string]fakeService
	// identities are the workload identities of allocations, by alloc.
	identities map[string]*api.AllocIdentity
	leases     map[int64]*fakeSession
	watches    []*fakeWatch
	changed    chan struct{}
	// log, when set, records service writes beside the driver's events.
	log *eventLog
}

type fakeService struct {
	reg   *api.ServiceRegistration
	lease int64
}

type fakeWatch struct {
	node   string
	events chan store.Change
	gone   chan struct{}
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		jobs: map[string][]byte{}, allocs: map[string]map[string][]byte{}, statuses: map[string][]byte{},
		history: map[string][]*api.AllocStatus{}, nodes: map[string]*api.Node{}, beats: map[string]int64{},
		services: map[string]fakeService{}, identities: map[string]*api.AllocIdentity{}, leases: map[int64]*fakeSession{}, changed: make(chan struct{}),
	}
}

// wake tells waiters that something changed; f.mu is held.
func (f *fakeStore) wake() {
	f.rev++
	close(f.changed)
	f.changed = make(chan struct{})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func fromJSON[T any](b []byte) *T {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return &v
}

func (f *fakeStore) WatchAllocs(ctx context.Context, nodeID string, sub store.Subscriber) {
	f.mu.Lock()
	var items []store.Change
	for id, v := range f.allocs[nodeID] {
		items = append(items, allocChange(nodeID, id, v, f.rev))
	}
	w := &fakeWatch{node: nodeID, events: make(chan store.Change, 16), gone: make(chan struct{})}
	f.watches = append(f.watches, w)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		close(w.gone)
		for i, x := range f.watches {
			if x == w {
				f.watches = append(f.watches[:i], f.watches[i+1:]...)
				break
			}
		}
	}()
	sub.Resync(items)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-w.events:
			sub.Changed(ev)
		}
	}
}

func allocChange(node, id string, value []byte, rev int64) store.Change {
	return store.Change{Ref: store.Ref{Kind: store.KindAllocs, Node: node, ID: id}, Value: value, Rev: rev}
}

func (f *fakeStore) ReadsJobs(context.Context) (bool, error) { return true, nil }

func (f *fakeStore) GetJobVersion(_ context.Context, _, ns, id string, version uint64) (*api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.jobs[fmt.Sprintf("%s/%s/%d", ns, id, version)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return fromJSON[api.Job](b), nil
}

func (f *fakeStore) OpenSession(ctx context.Context, _ time.Duration) (Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSession{f: f, lease: int64(len(f.leases) + 1), done: make(chan struct{})}
	f.leases[s.lease] = s
	f.wake()
	return s, nil
}

func (f *fakeStore) PutNode(_ context.Context, n *api.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[n.ID] = fromJSON[api.Node](mustJSON(n))
	f.wake()
	return nil
}

func (f *fakeStore) PutHeartbeat(_ context.Context, nodeID string, lease int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.leases[lease]; s == nil || s.isDone() {
		return fmt.Errorf("lease %d not found", lease)
	}
	f.beats[nodeID] = lease
	f.wake()
	return nil
}

func (f *fakeStore) GetAllocStatus(_ context.Context, nodeID, allocID string) (*api.AllocStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.statuses[nodeID+"/"+allocID]
	if !ok {
		return nil, store.ErrNotFound
	}
	return fromJSON[api.AllocStatus](b), nil
}

func (f *fakeStore) PutAllocStatuses(_ context.Context, nodeID string, statuses map[string]*api.AllocStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for allocID, st := range statuses {
		b := mustJSON(st)
		key := nodeID + "/" + allocID
		f.statuses[key] = b
		f.history[key] = append(f.history[key], fromJSON[api.AllocStatus](b))
	}
	f.wake()
	return nil
}

func (f *fakeStore) PutService(_ context.Context, reg *api.ServiceRegistration, lease int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.leases[lease]; s == nil || s.isDone() {
		return fmt.Errorf("lease %d not found", lease)
	}
	f.services[reg.ID] = fakeService{reg: fromJSON[api.ServiceRegistration](mustJSON(reg)), lease: lease}
	if f.log != nil {
		f.log.add("register " + reg.ServiceName)
	}
	f.wake()
	return nil
}

func (f *fakeStore) DeleteService(_ context.Context, _, _, name, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.services, id)
	if f.log != nil {
		f.log.add("deregister " + name)
	}
	f.wake()
	return nil
}

// watchAll hands sub everything list returns at every write, as a
// Resync: the fake's stand-in for a watch, which the agent must take as
// the complete contents.
func (f *fakeStore) watchAll(ctx context.Context, sub store.Subscriber, list func() []store.Change) {
	for {
		f.mu.Lock()
		items := list()
		ch := f.changed
		f.mu.Unlock()
		sub.Resync(items)
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

func (f *fakeStore) WatchIdentities(ctx context.Context, nodeID string, sub store.Subscriber) {
	f.watchAll(ctx, sub, func() []store.Change {
		var out []store.Change
		for id, ident := range f.identities {
			if ident.NodeID == nodeID {
				out = append(out, store.Change{Ref: store.Ref{Kind: store.KindIdentities, Node: nodeID, ID: id}, Value: mustJSON(ident), Rev: f.rev})
			}
		}
		return out
	})
}

func (f *fakeStore) WatchServices(ctx context.Context, ns string, sub store.Subscriber) {
	f.watchAll(ctx, sub, func() []store.Change {
		var out []store.Change
		for id, svc := range f.services {
			if svc.reg.Namespace == ns {
				out = append(out, store.Change{Ref: store.Ref{Kind: store.KindServices, Namespace: ns, Name: svc.reg.ServiceName, ID: id},
					Value: mustJSON(svc.reg), Rev: f.rev})
			}
		}
		return out
	})
}

// putIdentity writes the identities of an allocation, as the leader
// would.
func (f *fakeStore) putIdentity(id *api.AllocIdentity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identities[id.AllocID] = fromJSON[api.AllocIdentity](mustJSON(id))
	f.wake()
}

// putServiceInstance writes a service instance of another allocation.
func (f *fakeStore) putServiceInstance(reg *api.ServiceRegistration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[reg.ID] = fakeService{reg: fromJSON[api.ServiceRegistration](mustJSON(reg))}
	f.wake()
}

// fakeSession is a lease of the fake store. It lives until revoked or
// expired by the test; an orphaned one lives on, as an etcd lease would
// until its TTL.
type fakeSession struct {
	f     *fakeStore
	lease int64
	done  chan struct{}
	once  sync.Once
}

func (s *fakeSession) Lease() int64          { return s.lease }
func (s *fakeSession) Done() <-chan struct{} { return s.done }
func (s *fakeSession) Orphan()               {}

func (s *fakeSession) Revoke(context.Context) error {
	s.f.expire(s.lease)
	return nil
}

func (s *fakeSession) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// expire ends a lease and removes the keys bound to it, as etcd does when
// a lease's TTL passes.
func (f *fakeStore) expire(lease int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.leases[lease]
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.done) })
	for node, l := range f.beats {
		if l == lease {
			delete(f.beats, node)
		}
	}
	for id, svc := range f.services {
		if svc.lease == lease {
			delete(f.services, id)
		}
	}
	f.wake()
}

// --- What tests do and look at ---

func (f *fakeStore) putJob(j *api.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[fmt.Sprintf("%s/%s/%d", j.Namespace, j.ID, j.Version)] = mustJSON(j)
	f.wake()
}

// putAlloc writes an allocation and hands it to the watches of its node.
func (f *fakeStore) putAlloc(a *api.Allocation) {
	b := mustJSON(a)
	f.mu.Lock()
	if f.allocs[a.NodeID] == nil {
		f.allocs[a.NodeID] = map[string][]byte{}
	}
	f.allocs[a.NodeID][a.ID] = b
	f.wake()
	ev := allocChange(a.NodeID, a.ID, b, f.rev)
	var watches []*fakeWatch
	for _, w := range f.watches {
		if w.node == a.NodeID {
			watches = append(watches, w)
		}
	}
	f.mu.Unlock()
	for _, w := range watches {
		select {
		case w.events <- ev:
		case <-w.gone:
		}
	}
}

func (f *fakeStore) status(nodeID, allocID string) *api.AllocStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.statuses[nodeID+"/"+allocID]
	if !ok {
		return nil
	}
	return fromJSON[api.AllocStatus](b)
}

// clientStatuses are the client statuses written for an allocation, in
// order, each once.
func (f *fakeStore) clientStatuses(nodeID, allocID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, st := range f.history[nodeID+"/"+allocID] {
		if len(out) == 0 || out[len(out)-1] != st.ClientStatus {
			out = append(out, st.ClientStatus)
		}
	}
	return out
}

func (f *fakeStore) serviceList() []fakeService {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeService
	for _, s := range f.services {
		out = append(out, s)
	}
	return out
}

func (f *fakeStore) heartbeat(nodeID string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beats[nodeID]
}

// changes returns a channel closed at the next write.
func (f *fakeStore) changes() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
