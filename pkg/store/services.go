package store

import (
	"context"
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// PutService writes a service instance under the node's lease.
func (s *Store) PutService(ctx context.Context, r *api.ServiceRegistration, lease Lease) error {
	if _, err := s.cli.Put(ctx, s.keys.Service(r.Namespace, r.ServiceName, r.ID), encode(r), clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
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
	prefix := s.keys.Kind(KindServices)
	if ns != "" {
		prefix = s.keys.Services(ns, name)
	}
	regs, _, err := listAll[api.ServiceRegistration](ctx, s, prefix)
	return regs, err
}
