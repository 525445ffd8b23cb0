package nodeagent

import (
	"context"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Store is what the node agent needs of the cluster's state: its own
// allocations to watch, the job versions they refer to, and the keys it
// writes (its node record and heartbeat, allocation statuses, service
// instances). It is declared here, where it is used, so that the agent
// can be tested without etcd; etcdStore implements it over *store.Store.
type Store interface {
	// WatchAllocs hands sub the node's allocations, then every change
	// to them, until ctx ends.
	WatchAllocs(ctx context.Context, nodeID string, sub store.Subscriber)
	// GetJobVersion reads the node's copy of one version of a job;
	// store.ErrNotFound when there is none (yet: the leader copies the
	// versions a node's allocations run into its tree).
	GetJobVersion(ctx context.Context, nodeID, ns, id string, version uint64) (*api.Job, error)
	// ReadsJobs reports whether the agent's credentials read job
	// versions themselves, so that it needs no copies (api.Node.ReadsJobs).
	ReadsJobs(ctx context.Context) (bool, error)

	// OpenSession grants a lease of the given TTL and keeps it alive
	// until the session is done.
	OpenSession(ctx context.Context, ttl time.Duration) (Session, error)
	// PutNode writes the node's record.
	PutNode(ctx context.Context, n *api.Node) error
	// PutHeartbeat writes the node's heartbeat key under a session's
	// lease.
	PutHeartbeat(ctx context.Context, nodeID string, lease int64) error

	// GetAllocStatus reads what the agent last reported of an
	// allocation; store.ErrNotFound before its first report.
	GetAllocStatus(ctx context.Context, nodeID, allocID string) (*api.AllocStatus, error)
	// PutAllocStatuses writes the observed states of allocations of the
	// node, by allocation ID, in as few transactions as it can.
	PutAllocStatuses(ctx context.Context, nodeID string, statuses map[string]*api.AllocStatus) error

	// PutService writes a service instance under a session's lease.
	PutService(ctx context.Context, reg *api.ServiceRegistration, lease int64) error
	// DeleteService removes a service instance of the node.
	DeleteService(ctx context.Context, nodeID, ns, name, id string) error

	// WatchIdentities hands sub the workload identities the servers
	// issued for the node's allocations, then every change, until ctx
	// ends: only the node's own prefix.
	WatchIdentities(ctx context.Context, nodeID string, sub store.Subscriber)
	// WatchServices hands sub the service instances of a namespace, then
	// every change, until ctx ends (what templates render from).
	WatchServices(ctx context.Context, ns string, sub store.Subscriber)
}

// Session is a lease kept alive for as long as the agent is in touch with
// the cluster: the node's heartbeat and its service instances are bound
// to it, and vanish with it.
type Session interface {
	// Lease identifies the session's lease to PutHeartbeat and
	// PutService.
	Lease() int64
	// Done is closed when the lease is lost or the session ends.
	Done() <-chan struct{}
	// Revoke ends the lease now, removing the keys bound to it.
	Revoke(ctx context.Context) error
	// Orphan stops keeping the lease alive and leaves it to expire after
	// its TTL.
	Orphan()
}

// etcdStore is the agent's Store over the cluster's store.
type etcdStore struct{ st *store.Store }

func (s etcdStore) WatchAllocs(ctx context.Context, nodeID string, sub store.Subscriber) {
	s.st.WatchNodeAllocs(ctx, nodeID, sub)
}

func (s etcdStore) GetJobVersion(ctx context.Context, nodeID, ns, id string, version uint64) (*api.Job, error) {
	return s.st.GetNodeJob(ctx, nodeID, ns, id, version)
}

func (s etcdStore) ReadsJobs(ctx context.Context) (bool, error) { return s.st.ReadsJobs(ctx) }

func (s etcdStore) OpenSession(ctx context.Context, ttl time.Duration) (Session, error) {
	sess, err := s.st.NewSession(ctx, ttl)
	if err != nil {
		return nil, err
	}
	return etcdSession{sess}, nil
}

func (s etcdStore) PutNode(ctx context.Context, n *api.Node) error { return s.st.PutNode(ctx, n) }

func (s etcdStore) PutHeartbeat(ctx context.Context, nodeID string, lease int64) error {
	return s.st.PutHeartbeat(ctx, nodeID, store.Lease(lease))
}

func (s etcdStore) GetAllocStatus(ctx context.Context, nodeID, allocID string) (*api.AllocStatus, error) {
	return s.st.GetAllocStatus(ctx, nodeID, allocID)
}

func (s etcdStore) PutAllocStatuses(ctx context.Context, nodeID string, statuses map[string]*api.AllocStatus) error {
	return s.st.PutAllocStatuses(ctx, nodeID, statuses)
}

func (s etcdStore) PutService(ctx context.Context, reg *api.ServiceRegistration, lease int64) error {
	return s.st.PutService(ctx, reg, store.Lease(lease))
}

func (s etcdStore) DeleteService(ctx context.Context, nodeID, ns, name, id string) error {
	return s.st.DeleteService(ctx, nodeID, ns, name, id)
}

func (s etcdStore) WatchIdentities(ctx context.Context, nodeID string, sub store.Subscriber) {
	s.st.WatchNodeIdentities(ctx, nodeID, sub)
}

func (s etcdStore) WatchServices(ctx context.Context, ns string, sub store.Subscriber) {
	s.st.WatchServices(ctx, ns, sub)
}

// etcdSession is a Session over a store.Session.
type etcdSession struct{ *store.Session }

func (s etcdSession) Lease() int64 { return int64(s.Session.Lease()) }
