package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"time"

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
			n.Drain, n.LastDrain = a.Drain, a.LastDrain
		}
	}
	return nodes, nil
}

// NodeAdmin is what operators decide about a node — its eligibility and
// drain — kept apart from the record its agent writes.
type NodeAdmin struct {
	Eligible  bool               `json:"eligible"`
	Drain     *api.DrainStrategy `json:"drain,omitempty"`
	LastDrain *api.DrainRecord   `json:"last_drain,omitempty"`
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

// NodeLiveError is why a ready node cannot be purged: its agent still
// heartbeats. It is a conflict (errors.Is(err, ErrConflict)).
type NodeLiveError struct{ ID string }

func (e *NodeLiveError) Error() string {
	return fmt.Sprintf("node %s is ready (its agent heartbeats): stop its agent, or wait until it reads down, before purging it", e.ID)
}

// Is makes a NodeLiveError an ErrConflict.
func (e *NodeLiveError) Is(target error) bool { return target == ErrConflict }

// PurgeNode deletes a down node's record and operator settings, so that
// it is no longer listed and its allocations are lost and replaced however
// many other nodes are down (the node is gone, not away). The writes that
// add adds (evaluations of the node's jobs) commit in the same transaction,
// which fails with a NodeLiveError while the node's heartbeat exists and
// with ErrNotFound when the node is not known.
func (s *Store) PurgeNode(ctx context.Context, nodeID string, g Guard, add func(*Txn)) error {
	key := s.keys.Node(nodeID)
	hb := s.keys.Heartbeat(nodeID)
	for attempt := 0; attempt < maxRetries; attempt++ {
		txn := s.NewTxn(g)
		if add != nil {
			add(txn)
		}
		cmps := append(txn.cmps,
			clientv3.Compare(clientv3.CreateRevision(key), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(hb), "=", 0))
		ops := append(txn.ops, clientv3.OpDelete(key), clientv3.OpDelete(s.keys.NodeAdmin(nodeID)))
		if len(ops) > maxTxnOps {
			return fmt.Errorf("purging node %s: a transaction of %d writes exceeds the limit of %d", nodeID, len(ops), maxTxnOps)
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("purging node %s: %w", nodeID, err)
		}
		if resp.Succeeded {
			if u := s.users.Load(); u != nil {
				// The node is gone: so are its credentials.
				if err := u.Remove(ctx, nodeID); err != nil {
					slog.Warn("purged node keeps its etcd user; remove it by hand", "node", nodeID, "user", s.keys.NodeUser(nodeID), "err", err)
				}
			}
			return nil
		}
		// Which condition failed?
		get, err := s.cli.Txn(ctx).Then(clientv3.OpGet(key, clientv3.WithCountOnly()), clientv3.OpGet(hb, clientv3.WithCountOnly())).Commit()
		if err != nil {
			return fmt.Errorf("purging node %s: %w", nodeID, err)
		}
		switch {
		case get.Responses[0].GetResponseRange().Count == 0:
			return fmt.Errorf("node %s: %w", nodeID, ErrNotFound)
		case get.Responses[1].GetResponseRange().Count > 0:
			return &NodeLiveError{ID: nodeID}
		}
		// The guard failed.
		if len(g.cmps) > 0 {
			return ErrConflict
		}
	}
	return fmt.Errorf("purging node %s: %w", nodeID, ErrConflict)
}

// NodeHold records that so many nodes went down at once that their
// allocations are held rather than replaced (scheduler.HoldDown). The
// leader's liveness controller writes it when the hold starts and deletes
// it a while after most nodes are back, so that nodes still reconnecting
// are not replaced on the way; every scheduling pass reads it.
type NodeHold struct {
	Since time.Time `json:"since"`
	// Down and Nodes are the counts when the hold started.
	Down  int `json:"down"`
	Nodes int `json:"nodes"`
	// Reason says what set it: most nodes down at once, or etcd stalled.
	Reason string `json:"reason,omitempty"`
}

// Ping makes one linearizable read of etcd (it goes through etcd's
// leader), which is how the leader tells a stalled etcd.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.cli.Get(ctx, s.keys.NodeHold(), clientv3.WithCountOnly())
	return err
}

// GetNodeHold returns the hold, or nil when none is set.
func (s *Store) GetNodeHold(ctx context.Context) (*NodeHold, error) {
	h, _, err := getOne[NodeHold](ctx, s, s.keys.NodeHold())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return h, err
}

// PutNodeHold sets the hold while g holds.
func (s *Store) PutNodeHold(ctx context.Context, h *NodeHold, g Guard) error {
	resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpPut(s.keys.NodeHold(), encode(h))).Commit()
	if err != nil {
		return fmt.Errorf("writing the node hold: %w", err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// DeleteNodeHold ends the hold while g holds.
func (s *Store) DeleteNodeHold(ctx context.Context, g Guard) error {
	resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpDelete(s.keys.NodeHold())).Commit()
	if err != nil {
		return fmt.Errorf("deleting the node hold: %w", err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// GetSchedulingState reads, in one request, what every scheduling pass
// needs besides its snapshot: the scheduler configuration and the node
// hold (nil when none is set).
func (s *Store) GetSchedulingState(ctx context.Context) (*api.SchedulerConfig, *NodeHold, error) {
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.keys.SchedulerConfig()), clientv3.OpGet(s.keys.NodeHold())).Commit()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the scheduler configuration: %w", err)
	}
	cfg := &api.SchedulerConfig{Algorithm: "binpack"}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		if cfg, err = decodeKV[api.SchedulerConfig](kvs[0]); err != nil {
			return nil, nil, err
		}
	}
	var hold *NodeHold
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		if hold, err = decodeKV[NodeHold](kvs[0]); err != nil {
			return nil, nil, err
		}
	}
	return cfg, hold, nil
}
