package store

import (
	"context"
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A service instance is written twice. Its node agent writes it under the
// node's own tree (nodeservices/<node>/...), bound to the node's lease, so
// that a node's etcd role can write that one prefix and no other node's
// instances; the leader mirrors every instance whose allocation runs on
// that node into the index (services/<ns>/<service>/<instance>), which is
// what the APIs and templates read, by namespace and service.

// PutService writes a service instance of the node reg.NodeID under the
// node's lease.
func (s *Store) PutService(ctx context.Context, r *api.ServiceRegistration, lease Lease) error {
	key := s.keys.NodeService(r.NodeID, r.Namespace, r.ServiceName, r.ID)
	if _, err := s.cli.Put(ctx, key, encode(r), clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
		return fmt.Errorf("registering service %s: %w", r.ServiceName, err)
	}
	return nil
}

// DeleteService removes a service instance of a node.
func (s *Store) DeleteService(ctx context.Context, node, ns, name, id string) error {
	_, err := s.cli.Delete(ctx, s.keys.NodeService(node, ns, name, id))
	return err
}

// MirrorService writes a node's service instance, as its node wrote it,
// into the index, while g holds.
func (s *Store) MirrorService(ctx context.Context, ns, name, id string, value []byte, g Guard) error {
	resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpPut(s.keys.Service(ns, name, id), string(value))).Commit()
	if err != nil {
		return fmt.Errorf("indexing service instance %s: %w", id, err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// UnmirrorService removes an instance from the index, while g holds.
func (s *Store) UnmirrorService(ctx context.Context, ns, name, id string, g Guard) error {
	resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpDelete(s.keys.Service(ns, name, id))).Commit()
	if err != nil {
		return fmt.Errorf("unindexing service instance %s: %w", id, err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// ServiceLease reports the lease an index entry is bound to: 0 for what
// the leader mirrored, a node's lease for an instance that a node agent
// older than the per-node layout registered there itself.
func (s *Store) ServiceLease(ctx context.Context, ns, name, id string) (int64, error) {
	resp, err := s.cli.Get(ctx, s.keys.Service(ns, name, id))
	if err != nil {
		return 0, fmt.Errorf("reading service instance %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, ErrNotFound
	}
	return resp.Kvs[0].Lease, nil
}

// ListServices returns the instances of a service, or of every service of
// the namespace when name is empty (all namespaces when ns is empty too),
// from the index.
func (s *Store) ListServices(ctx context.Context, ns, name string) ([]*api.ServiceRegistration, error) {
	prefix := s.keys.Kind(KindServices)
	if ns != "" {
		prefix = s.keys.Services(ns, name)
	}
	regs, _, err := listAll[api.ServiceRegistration](ctx, s, prefix)
	return regs, err
}
