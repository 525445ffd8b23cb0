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
	// In the order etcd created them, not by the clocks of the servers
	// that did: a deployment made by a server whose clock is behind is
	// still the newest (with skewed clocks, the newest deployment read as
	// an old one, and each server started another for the same version).
	sort.SliceStable(ds, func(i, j int) bool {
		return createdBefore(ds[i].CreateIndex, ds[j].CreateIndex, ds[i].CreateTime, ds[j].CreateTime)
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

// DeleteDeployments removes deployments, if g holds.
func (s *Store) DeleteDeployments(ctx context.Context, ds []*api.Deployment, g Guard) error {
	for start := 0; start < len(ds); start += maxTxnOps {
		var ops []clientv3.Op
		for _, d := range ds[start:min(start+maxTxnOps, len(ds))] {
			ops = append(ops, clientv3.OpDelete(s.keys.Deployment(d.Namespace, d.JobID, d.ID)))
		}
		if _, err := s.cli.Txn(ctx).If(g.cmps...).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("deleting deployments: %w", err)
		}
	}
	return nil
}

// RevertJob adds to txn the writes that submit version `to` of a job
// again as its next version, with an evaluation — what auto revert adds
// to the transaction that fails a deployment — and returns the new
// version. The transaction fails if the job changed since this read it.
func (s *Store) RevertJob(ctx context.Context, txn *Txn, ns, id string, to uint64, now time.Time) (uint64, error) {
	cur, rev, err := s.GetJob(ctx, ns, id)
	if err != nil {
		return 0, err
	}
	old, err := s.GetJobVersion(ctx, ns, id, to)
	if err != nil {
		return 0, fmt.Errorf("reading version %d of job %q: %w", to, id, err)
	}
	if err := s.archive(ctx, cur, rev); err != nil {
		return 0, err
	}
	next := *old
	next.Version, next.Stop, next.Stable, next.Status, next.SubmitTime = cur.Version+1, false, false, "", now
	txn.putAt(s.keys.Job(ns, id), rev, &next)
	txn.putEval(newEval(&next, api.EvalTriggerDeployment, now))
	return next.Version, nil
}

// MarkStable adds to txn the writes that mark a version of a job stable,
// in its version key and, when it is still the current version, in the
// job. A version that is gone is left alone.
func (s *Store) MarkStable(ctx context.Context, txn *Txn, ns, id string, version uint64) error {
	vkey := s.keys.JobVersion(ns, id, version)
	v, vrev, err := getOne[api.Job](ctx, s, vkey)
	switch {
	case err == nil:
		v.Stable = true
		txn.putAt(vkey, vrev, v)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	// (Not in the history: the current version, or one that is gone.)
	cur, rev, err := s.GetJob(ctx, ns, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if cur != nil && cur.Version == version {
		cur.Stable = true
		txn.putAt(s.keys.Job(ns, id), rev, cur)
	}
	return nil
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
