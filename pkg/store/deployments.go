package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ListDeployments returns the deployments of a job, of a namespace when
// job is empty, or of the whole cluster when ns is empty too; oldest
// first.
func (s *Store) ListDeployments(ctx context.Context, ns, job string) ([]*api.Deployment, error) {
	ds, _, err := listAll[api.Deployment](ctx, s, s.keys.Deployments(ns, job))
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].CreateTime.Equal(ds[j].CreateTime) {
			return ds[i].CreateTime.Before(ds[j].CreateTime)
		}
		return ds[i].JobVersion < ds[j].JobVersion
	})
	return ds, nil
}

// LatestDeployment returns the newest deployment of a job, or nil.
func (s *Store) LatestDeployment(ctx context.Context, ns, job string) (*api.Deployment, error) {
	ds, err := s.ListDeployments(ctx, ns, job)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[len(ds)-1], nil
}

// GetDeployment returns a deployment by ID or unique ID prefix, with the
// revision it was last written at.
func (s *Store) GetDeployment(ctx context.Context, idPrefix string) (*api.Deployment, int64, error) {
	ds, err := s.ListDeployments(ctx, "", "")
	if err != nil {
		return nil, 0, err
	}
	d, err := byIDPrefix(ds, idPrefix, func(d *api.Deployment) string { return d.ID })
	if err != nil {
		return nil, 0, err
	}
	return s.ReadDeployment(ctx, d.Namespace, d.JobID, d.ID)
}

// ReadDeployment reads one deployment with its revision.
func (s *Store) ReadDeployment(ctx context.Context, ns, job, id string) (*api.Deployment, int64, error) {
	return getOne[api.Deployment](ctx, s, s.keys.Deployment(ns, job, id))
}

// DeploymentOp writes a deployment; for a plan's first transaction.
func (s *Store) DeploymentOp(d *api.Deployment) clientv3.Op {
	return clientv3.OpPut(s.keys.Deployment(d.Namespace, d.JobID, d.ID), encode(d))
}

// DeploymentChange is one write of a deployment that read it at Rev:
// extra operations and compares go in the same transaction, so that, for
// example, failing a deployment and reverting its job happen together or
// not at all.
type DeploymentChange struct {
	Deployment *api.Deployment
	Rev        int64
	Cmps       []clientv3.Cmp
	Ops        []clientv3.Op
}

// UpdateDeployment writes a deployment if it was not written since it was
// read (ErrConflict otherwise) and the guards hold.
func (s *Store) UpdateDeployment(ctx context.Context, c *DeploymentChange, guards ...clientv3.Cmp) error {
	d := c.Deployment
	key := s.keys.Deployment(d.Namespace, d.JobID, d.ID)
	cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", c.Rev)}, guards...)
	cmps = append(cmps, c.Cmps...)
	ops := append([]clientv3.Op{clientv3.OpPut(key, encode(d))}, c.Ops...)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("writing deployment %s: %w", api.ShortID(d.ID), err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// DeleteDeployments removes deployments, guarded.
func (s *Store) DeleteDeployments(ctx context.Context, ds []*api.Deployment, guards []clientv3.Cmp) error {
	for start := 0; start < len(ds); start += maxTxnOps {
		var ops []clientv3.Op
		for _, d := range ds[start:min(start+maxTxnOps, len(ds))] {
			ops = append(ops, clientv3.OpDelete(s.keys.Deployment(d.Namespace, d.JobID, d.ID)))
		}
		if _, err := s.cli.Txn(ctx).If(guards...).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("deleting deployments: %w", err)
		}
	}
	return nil
}

// RevertOps returns the compares and writes that submit version `to` of a
// job again as its next version, with an evaluation: what auto revert
// adds to the transaction that fails a deployment. It returns the new
// version.
func (s *Store) RevertOps(ctx context.Context, ns, id string, to uint64, now time.Time) ([]clientv3.Cmp, []clientv3.Op, uint64, error) {
	cur, rev, err := s.GetJob(ctx, ns, id)
	if err != nil {
		return nil, nil, 0, err
	}
	old, err := s.GetJobVersion(ctx, ns, id, to)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading version %d of job %q: %w", to, id, err)
	}
	next := *old
	next.Version, next.Stop, next.Stable, next.Status, next.SubmitTime = cur.Version+1, false, false, "", now
	eval := newEval(&next, api.EvalTriggerDeployment, now)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.keys.Job(ns, id)), "=", rev)}
	ops := []clientv3.Op{
		clientv3.OpPut(s.keys.Job(ns, id), encode(&next)),
		clientv3.OpPut(s.keys.JobVersion(ns, id, next.Version), encode(&next)),
		clientv3.OpPut(s.keys.Eval(ns, id, eval.ID), encode(eval)),
	}
	return cmps, ops, next.Version, nil
}

// StableOps returns the writes that mark a version of a job stable, in
// its version key and, when it is still the current version, in the job.
func (s *Store) StableOps(ctx context.Context, ns, id string, version uint64) ([]clientv3.Cmp, []clientv3.Op, error) {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	vkey := s.keys.JobVersion(ns, id, version)
	v, vrev, err := getOne[api.Job](ctx, s, vkey)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	v.Stable = true
	cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(vkey), "=", vrev))
	ops = append(ops, clientv3.OpPut(vkey, encode(v)))
	cur, rev, err := s.GetJob(ctx, ns, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	if cur != nil && cur.Version == version {
		cur.Stable = true
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.keys.Job(ns, id)), "=", rev))
		ops = append(ops, clientv3.OpPut(s.keys.Job(ns, id), encode(cur)))
	}
	return cmps, ops, nil
}

// LatestStable returns the newest stable version of a job older than
// `before`, or nil.
func (s *Store) LatestStable(ctx context.Context, ns, id string, before uint64) (*api.Job, error) {
	versions, err := s.ListJobVersions(ctx, ns, id)
	if err != nil {
		return nil, err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i]; v.Stable && v.Version < before {
			return v, nil
		}
	}
	return nil, nil
}
