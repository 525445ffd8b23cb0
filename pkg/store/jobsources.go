package store

import (
	"context"
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// JobSource is the job file a version of a job was submitted from, as
// Nomad keeps a job's submission: what nomad job inspect -hcl prints.
// The variables given with it (-var flags, var-file contents) can hold
// secrets, so they are kept only sealed under a keyring key.
type JobSource struct {
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	Version   uint64 `json:"version"`
	// Source is the file as submitted; Format what it is (hcl2, json).
	Source string `json:"source"`
	Format string `json:"format"`
	// KeyID names the keyring key SealedVariables are sealed under;
	// both empty when the submission had no variables.
	KeyID           string `json:"key_id,omitempty"`
	SealedVariables []byte `json:"sealed_variables,omitempty"`
	// VariablesNotKept is set when the submission had variables that
	// could not be sealed (a server without a keyring): the file alone
	// does not give the job.
	VariablesNotKept bool `json:"variables_not_kept,omitempty"`
}

// size is about what the source takes in a transaction: its encoding
// (JSON escapes <, > and & in six bytes each), its key and more.
func (src *JobSource) size() int {
	return len(encode(src)) + 512
}

// jobSourceOp writes src as the source of version v of its job.
func (s *Store) jobSourceOp(src *JobSource, v *api.Job) clientv3.Op {
	c := *src
	c.Namespace, c.JobID, c.Version = v.Namespace, v.ID, v.Version
	return clientv3.OpPut(s.keys.JobSource(c.Namespace, c.JobID, c.Version), encode(&c))
}

// putJobSource writes src as the source of the job's current version cur,
// if the job is still at revision rev (a job changed since keeps the
// source of its own version).
func (s *Store) putJobSource(ctx context.Context, src *JobSource, cur *api.Job, rev int64) error {
	_, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.keys.Job(cur.Namespace, cur.ID)), "=", rev)).
		Then(s.jobSourceOp(src, cur)).Commit()
	if err != nil {
		return fmt.Errorf("keeping the source of job %q: %w", cur.ID, err)
	}
	return nil
}

// GetJobSource reads the source version of a job was submitted from;
// ErrNotFound when none was kept (submitted without one, or too large).
func (s *Store) GetJobSource(ctx context.Context, ns, id string, version uint64) (*JobSource, error) {
	src, _, err := getOne[JobSource](ctx, s, s.keys.JobSource(ns, id, version))
	return src, err
}
