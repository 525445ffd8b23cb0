package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Guard is a condition that every write of its holder must pass, such as
// "this server still leads" or "this server still holds its claim on the
// job". It is opaque: guards come from the store (ClaimGuard, a
// Leadership's Guard) and are combined with And. The zero Guard always
// holds.
type Guard struct {
	cmps []clientv3.Cmp
}

// And returns a guard that holds while g and every other guard hold.
func (g Guard) And(others ...Guard) Guard {
	out := Guard{cmps: append([]clientv3.Cmp(nil), g.cmps...)}
	for _, o := range others {
		out.cmps = append(out.cmps, o.cmps...)
	}
	return out
}

// Txn collects writes that are committed together, or not at all: they
// all go in one etcd transaction whose conditions are the guard it was
// opened with and the revisions its writes were read at. A Txn is used
// once and by one goroutine.
type Txn struct {
	s    *Store
	cmps []clientv3.Cmp
	ops  []clientv3.Op
}

// NewTxn opens a transaction whose writes happen only while g holds.
func (s *Store) NewTxn(g Guard) *Txn {
	return &Txn{s: s, cmps: append([]clientv3.Cmp(nil), g.cmps...)}
}

// Len is how many writes the transaction holds.
func (t *Txn) Len() int { return len(t.ops) }

// CreateEval adds a new pending evaluation of a job, triggered for a node
// when nodeID is set, and returns it.
func (t *Txn) CreateEval(ns, job, trigger, nodeID string, now time.Time) *api.Evaluation {
	e := newEval(&api.Job{Namespace: ns, ID: job}, trigger, now)
	e.NodeID = nodeID
	t.putEval(e)
	return e
}

func (t *Txn) putEval(e *api.Evaluation) {
	t.ops = append(t.ops, clientv3.OpPut(t.s.keys.Eval(e.Namespace, e.JobID, e.ID), encode(e)))
}

// PutDeployment adds a write of a deployment that was read at revision
// rev (0: it must not exist yet); the transaction fails if it was written
// since.
func (t *Txn) PutDeployment(d *api.Deployment, rev int64) {
	key := t.s.keys.Deployment(d.Namespace, d.JobID, d.ID)
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	t.ops = append(t.ops, clientv3.OpPut(key, encode(d)))
}

// putAt adds a write of key that was read at revision rev.
func (t *Txn) putAt(key string, rev int64, v any) {
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	t.ops = append(t.ops, clientv3.OpPut(key, encode(v)))
}

// Commit writes everything the transaction holds. It returns ErrConflict
// when a guard failed or an object was written since it was read.
func (t *Txn) Commit(ctx context.Context) error {
	if len(t.ops) > maxTxnOps {
		return fmt.Errorf("transaction of %d writes exceeds the limit of %d", len(t.ops), maxTxnOps)
	}
	resp, err := t.s.cli.Txn(ctx).If(t.cmps...).Then(t.ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}
