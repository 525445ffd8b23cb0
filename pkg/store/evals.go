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

func newEval(job *api.Job, trigger string, now time.Time) *api.Evaluation {
	return &api.Evaluation{
		ID: api.NewID(), Namespace: job.Namespace, JobID: job.ID, TriggeredBy: trigger,
		Status: api.EvalStatusPending, CreateTime: now, ModifyTime: now,
	}
}

// CreateEval stores a new pending evaluation of a job, if g holds.
func (s *Store) CreateEval(ctx context.Context, ns, job, trigger, nodeID string, now time.Time, g Guard) (*api.Evaluation, error) {
	return s.CreateEvalAt(ctx, ns, job, trigger, nodeID, now, time.Time{}, g)
}

// CreateEvalAt stores a new pending evaluation that waits until a given
// time (zero: none), if g holds.
func (s *Store) CreateEvalAt(ctx context.Context, ns, job, trigger, nodeID string, now, waitUntil time.Time, g Guard) (*api.Evaluation, error) {
	e := newEval(&api.Job{Namespace: ns, ID: job}, trigger, now)
	e.NodeID = nodeID
	e.WaitUntil = waitUntil
	txn := s.NewTxn(g)
	txn.putEval(e)
	if err := txn.Commit(ctx); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("creating evaluation for job %q: %w", job, err)
	}
	return e, nil
}

// ListEvals returns the evaluations of one job, or of all jobs when job is
// empty, oldest first.
func (s *Store) ListEvals(ctx context.Context, ns, job string) ([]*api.Evaluation, error) {
	prefix := s.keys.Kind(KindEvals)
	if job != "" {
		prefix = s.keys.JobEvals(ns, job)
	}
	evals, _, err := listAll[api.Evaluation](ctx, s, prefix)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(evals, func(i, j int) bool {
		return createdBefore(evals[i].CreateIndex, evals[j].CreateIndex, evals[i].CreateTime, evals[j].CreateTime)
	})
	return evals, nil
}

// GetEval finds an evaluation by its ID or a unique prefix of it.
func (s *Store) GetEval(ctx context.Context, idPrefix string) (*api.Evaluation, error) {
	evals, err := s.ListEvals(ctx, "", "")
	if err != nil {
		return nil, err
	}
	return byIDPrefix(evals, idPrefix, func(e *api.Evaluation) string { return e.ID })
}

// UpdateEvals writes evaluations (their new status), guarded.
func (s *Store) UpdateEvals(ctx context.Context, evals []*api.Evaluation, g Guard) error {
	for start := 0; start < len(evals); start += maxTxnOps {
		end := min(start+maxTxnOps, len(evals))
		var ops []clientv3.Op
		for _, e := range evals[start:end] {
			ops = append(ops, clientv3.OpPut(s.keys.Eval(e.Namespace, e.JobID, e.ID), encode(e)))
		}
		resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("updating evaluations: %w", err)
		}
		if !resp.Succeeded {
			return ErrConflict
		}
	}
	return nil
}

// DeleteEvals removes evaluations, guarded.
func (s *Store) DeleteEvals(ctx context.Context, evals []*api.Evaluation, g Guard) error {
	for start := 0; start < len(evals); start += maxTxnOps {
		end := min(start+maxTxnOps, len(evals))
		var ops []clientv3.Op
		for _, e := range evals[start:end] {
			ops = append(ops, clientv3.OpDelete(s.keys.Eval(e.Namespace, e.JobID, e.ID)))
		}
		if _, err := s.cli.Txn(ctx).If(g.cmps...).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("deleting evaluations: %w", err)
		}
	}
	return nil
}

// ClaimJob takes the claim on working a job's evaluations for the holder
// of lease. It returns false if another server holds it. The claim vanishes
// with the lease, so a dead server's work is taken over.
func (s *Store) ClaimJob(ctx context.Context, ns, job, server string, lease Lease) (bool, error) {
	key := s.keys.EvalClaim(ns, job)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, server, clientv3.WithLease(clientv3.LeaseID(lease)))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return false, fmt.Errorf("claiming job %q: %w", job, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && kvs[0].Lease == int64(lease), nil
}

// ClaimGuard is the comparison that holds while the lease holder's claim
// on a job stands.
func (s *Store) ClaimGuard(ns, job string, lease Lease) Guard {
	return Guard{cmps: []clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(s.keys.EvalClaim(ns, job)), "=", int64(lease))}}
}

// ReleaseJob gives up a claim on a job.
func (s *Store) ReleaseJob(ctx context.Context, ns, job string, lease Lease) error {
	key := s.keys.EvalClaim(ns, job)
	_, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(key), "=", int64(lease))).
		Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return fmt.Errorf("releasing job %q: %w", job, err)
	}
	return nil
}
