package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// NodePool is a node pool an operator created (nomad node pool apply):
// a description and meta for a name nodes join with -node-pool. A pool a
// node names exists without one.
type NodePool struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	api.Indexes `json:"-"`
}

// BuiltinNodePools are the pools that always exist: all, which no
// operator may change, and default.
var BuiltinNodePools = map[string]string{
	api.DefaultNodePool: "Default node pool.",
	"all":               "Node pool with all nodes in the cluster.",
}

var poolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// ErrNodePoolInUse is why a pool with nodes or jobs is not deleted.
var ErrNodePoolInUse = errors.New("node pool is in use")

// ErrInvalidNodePool is why a pool is not written: a bad name, or all.
var ErrInvalidNodePool = errors.New("invalid node pool")

// ValidNodePoolName says what is wrong with a pool's name, nil when
// nothing: as Nomad's, letters, digits, '-' and '_', up to 128.
func ValidNodePoolName(name string) error {
	if !poolName.MatchString(name) {
		return fmt.Errorf("invalid node pool name %q: only letters, digits, '-' and '_', 1 to 128 of them", name)
	}
	return nil
}

// PutNodePool creates or updates a node pool.
func (s *Store) PutNodePool(ctx context.Context, p *NodePool) error {
	if err := ValidNodePoolName(p.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidNodePool, err)
	}
	if p.Name == "all" {
		return fmt.Errorf(`%w: node pool "all" is built in and cannot be changed`, ErrInvalidNodePool)
	}
	c := *p
	c.Indexes = api.Indexes{}
	if _, err := s.cli.Put(ctx, s.keys.NodePool(p.Name), encode(&c)); err != nil {
		return fmt.Errorf("writing node pool %s: %w", p.Name, err)
	}
	return nil
}

// ListNodePools lists the node pools operators created.
func (s *Store) ListNodePools(ctx context.Context) ([]*NodePool, error) {
	list, _, err := listAll[NodePool](ctx, s, s.keys.Kind(KindNodePools))
	return list, err
}

// DeleteNodePool removes a node pool an operator created, unless it is
// built in or nodes or jobs that are not stopped are in it
// (ErrNodePoolInUse, a conflict); ErrNotFound when nobody created it.
func (s *Store) DeleteNodePool(ctx context.Context, name string) error {
	if _, ok := BuiltinNodePools[name]; ok {
		return fmt.Errorf("%w: node pool %q is built in and cannot be deleted", ErrNodePoolInUse, name)
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, node := range nodes {
		if node.NodePool == name {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%w: %d nodes are in node pool %q", ErrNodePoolInUse, n, name)
	}
	jobs, err := s.ListJobs(ctx, "")
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.NodePool == name && !j.Stop {
			return fmt.Errorf("%w: job %q (namespace %s) runs in node pool %q", ErrNodePoolInUse, j.ID, j.Namespace, name)
		}
	}
	resp, err := s.cli.Delete(ctx, s.keys.NodePool(name))
	if err != nil {
		return fmt.Errorf("deleting node pool %s: %w", name, err)
	}
	if resp.Deleted == 0 {
		return ErrNotFound
	}
	return nil
}
