package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

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
func (s *Store) PutHeartbeat(ctx context.Context, nodeID string, lease Lease) error {
	if _, err := s.cli.Put(ctx, s.keys.Heartbeat(nodeID), "", clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
		return fmt.Errorf("writing heartbeat of node %s: %w", nodeID, err)
	}
	return nil
}

// LiveNodes returns the IDs of the nodes whose heartbeat exists.
func (s *Store) LiveNodes(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	prefix := s.keys.Kind(KindHeartbeats)
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
	nodes, _, err := listAll[api.Node](ctx, s, s.keys.Kind(KindNodes))
	if err != nil {
		return nil, err
	}
	live, err := s.LiveNodes(ctx)
	if err != nil {
		return nil, err
	}
	admin := map[string]*NodeAdmin{}
	prefix := s.keys.Kind(KindNodeAdmin)
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
// read-compare-write loop while g holds; change may add other writes
// (evaluations to create) to the same transaction.
func (s *Store) UpdateNodeAdmin(ctx context.Context, nodeID string, g Guard, change func(*NodeAdmin, *Txn)) error {
	key := s.keys.NodeAdmin(nodeID)
	for attempt := 0; attempt < maxRetries; attempt++ {
		a, rev, err := s.GetNodeAdmin(ctx, nodeID)
		if err != nil {
			return err
		}
		txn := s.NewTxn(g)
		change(a, txn)
		txn.putAt(key, rev, a)
		err = txn.Commit(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("updating node %s: %w", nodeID, err)
		}
	}
	return fmt.Errorf("updating node %s: %w", nodeID, ErrConflict)
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
