package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A node reads the job versions its allocations run from copies in its
// own tree (nodejobs/<node>/<ns>/<job>/<version>), never from
// jobversions/, which holds every job's. The leader writes a copy while an
// allocation on the node runs that version and deletes it once none does
// (controllers.NodeCopies).

// CopyJobToNode copies a job version, as stored, into a node's tree while
// g holds; ErrNotFound when the version is gone.
func (s *Store) CopyJobToNode(ctx context.Context, node, ns, job string, version uint64, g Guard) error {
	j, err := s.GetJobVersion(ctx, ns, job, version)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("job %q version %d: %w", job, version, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("reading job %q version %d: %w", job, version, err)
	}
	put := clientv3.OpPut(s.keys.NodeJob(node, ns, job, version), encode(j))
	tr, err := s.cli.Txn(ctx).If(g.cmps...).Then(put).Commit()
	if err != nil {
		return fmt.Errorf("copying job %q version %d to node %s: %w", job, version, node, err)
	}
	if !tr.Succeeded {
		return ErrConflict
	}
	return nil
}

// DeleteNodeJob deletes a node's copy of a job version while g holds.
func (s *Store) DeleteNodeJob(ctx context.Context, node, ns, job string, version uint64, g Guard) error {
	tr, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpDelete(s.keys.NodeJob(node, ns, job, version))).Commit()
	if err != nil {
		return fmt.Errorf("deleting node %s's copy of job %q: %w", node, job, err)
	}
	if !tr.Succeeded {
		return ErrConflict
	}
	return nil
}

// GetNodeJob reads a node's copy of a job version. Until the leader wrote
// the copy it falls back to the version itself, which a node whose etcd
// role grants only its own tree may not read: ErrNotFound then, and the
// caller waits for the copy.
func (s *Store) GetNodeJob(ctx context.Context, node, ns, job string, version uint64) (*api.Job, error) {
	j, _, err := getOne[api.Job](ctx, s, s.keys.NodeJob(node, ns, job, version))
	if !errors.Is(err, ErrNotFound) {
		return j, err
	}
	j, err = s.GetJobVersion(ctx, ns, job, version)
	if errors.Is(err, rpctypes.ErrPermissionDenied) {
		return nil, fmt.Errorf("job %q version %d is not copied to node %s yet: %w", job, version, node, ErrNotFound)
	}
	return j, err
}
