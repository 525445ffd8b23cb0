package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// GetJob returns a job's current specification and the revision it was
// last written at.
func (s *Store) GetJob(ctx context.Context, ns, id string) (*api.Job, int64, error) {
	return getOne[api.Job](ctx, s, s.keys.Job(ns, id))
}

// ReadsJobs reports whether the store's credentials may read job versions
// and the current jobs (what GetJobVersion reads): a node agent with its
// own confined etcd user may not, and reads the copies in its tree.
func (s *Store) ReadsJobs(ctx context.Context) (bool, error) {
	for _, k := range []Kind{KindJobVersions, KindJobs} {
		_, err := s.cli.Get(ctx, s.keys.Kind(k), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1))
		if errors.Is(err, rpctypes.ErrPermissionDenied) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", s.keys.Kind(k), err)
		}
	}
	return true, nil
}

// A job is stored once per version: the current version in the job's key,
// the versions before it in its history (jobversions/), where each is
// written when a newer version, a stop or a purge replaces it (archive).
// So the history holds every version but, possibly, the current one.

// GetJobVersion returns one version of a job, from its history or, for
// the current version, from the job.
func (s *Store) GetJobVersion(ctx context.Context, ns, id string, version uint64) (*api.Job, error) {
	j, _, err := getOne[api.Job](ctx, s, s.keys.JobVersion(ns, id, version))
	if !errors.Is(err, ErrNotFound) {
		return j, err
	}
	cur, _, cerr := s.GetJob(ctx, ns, id)
	switch {
	case cerr != nil && !errors.Is(cerr, ErrNotFound):
		return nil, cerr
	case cur == nil || cur.Version != version:
		return nil, err
	}
	return asVersion(cur), nil
}

// ListJobVersions returns every version of a job, oldest first.
func (s *Store) ListJobVersions(ctx context.Context, ns, id string) ([]*api.Job, error) {
	versions, _, err := listAll[api.Job](ctx, s, s.keys.JobVersions(ns, id))
	if err != nil {
		return nil, err
	}
	cur, _, err := s.GetJob(ctx, ns, id)
	if errors.Is(err, ErrNotFound) {
		return versions, nil
	} else if err != nil {
		return nil, err
	}
	if n := len(versions); n == 0 || versions[n-1].Version < cur.Version {
		versions = append(versions, asVersion(cur))
	}
	return versions, nil
}

// asVersion is a job's current specification as its version: as it was
// submitted, neither stopped nor with a status.
func asVersion(cur *api.Job) *api.Job {
	v := *cur
	v.Stop, v.Status = false, ""
	return &v
}

// archive writes a job's current version into its history, unless the
// history has it or the job changed since rev (the write that follows
// then fails on the same compare and is retried). Every write that
// replaces or removes the current version archives it first, in a
// transaction of its own, so that no transaction carries a specification
// twice; a crash between the two leaves a version in the history that is
// also the current one, which readers take as the same.
func (s *Store) archive(ctx context.Context, cur *api.Job, rev int64) error {
	key := s.keys.JobVersion(cur.Namespace, cur.ID, cur.Version)
	_, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(s.keys.Job(cur.Namespace, cur.ID)), "=", rev),
		clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
	).Then(clientv3.OpPut(key, encode(asVersion(cur)))).Commit()
	if err != nil {
		return fmt.Errorf("keeping version %d of job %q: %w", cur.Version, cur.ID, err)
	}
	return nil
}

// DeleteJobVersions removes versions of a job with their sources,
// guarded, but not a tagged one: each transaction holds only if no tag of
// the job was applied since the tags were read.
func (s *Store) DeleteJobVersions(ctx context.Context, ns, id string, versions []uint64, g Guard) error {
	tags, _, tagsRev, err := s.jobTags(ctx, ns, id)
	if err != nil {
		return err
	}
	tagged := map[uint64]bool{}
	for _, t := range tags {
		tagged[t.Version] = true
	}
	versions = slices.DeleteFunc(slices.Clone(versions), func(v uint64) bool { return tagged[v] })
	cmps := append([]clientv3.Cmp{s.tagsUnchanged(ns, id, tagsRev)}, g.cmps...)
	for start := 0; start < len(versions); start += maxTxnOps / 2 {
		end := min(start+maxTxnOps/2, len(versions))
		var ops []clientv3.Op
		for _, v := range versions[start:end] {
			ops = append(ops, clientv3.OpDelete(s.keys.JobVersion(ns, id, v)), clientv3.OpDelete(s.keys.JobSource(ns, id, v)))
		}
		if _, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("deleting versions of job %q: %w", id, err)
		}
	}
	return nil
}

// VersionedJobs names every job that has stored versions (Namespace and
// Job set), whether or not the job itself still exists: what the garbage
// collector looks at for the history of purged jobs.
func (s *Store) VersionedJobs(ctx context.Context) ([]Ref, error) {
	var out []Ref
	seen := map[Ref]bool{}
	_, err := s.List(ctx, s.keys.Kind(KindJobVersions), func(key string, _ []byte) error {
		if ref, ok := s.keys.Parse(key); ok {
			job := Ref{Namespace: ref.Namespace, Job: ref.Job}
			if !seen[job] {
				seen[job] = true
				out = append(out, job)
			}
		}
		return nil
	})
	return out, err
}

// ListJobs returns the jobs of a namespace, or of all namespaces when ns is
// empty.
func (s *Store) ListJobs(ctx context.Context, ns string) ([]*api.Job, error) {
	prefix := s.keys.Kind(KindJobs)
	if ns != "" {
		prefix += ns + "/"
	}
	jobs, _, err := listAll[api.Job](ctx, s, prefix)
	return jobs, err
}

// SameSpec reports whether two jobs have the same user-given
// specification.
func SameSpec(a, b *api.Job) bool { return sameSpec(a, b) }

// sameSpec reports whether two jobs have the same user-given specification.
func sameSpec(a, b *api.Job) bool {
	ca, cb := *a, *b
	for _, c := range []*api.Job{&ca, &cb} {
		c.Version, c.SubmitTime, c.Status, c.Stop, c.Stable = 0, time.Time{}, "", false, false
		c.Indexes = api.Indexes{}
	}
	// Compare through JSON so that nil and empty maps count as the same.
	return encode(&ca) == encode(&cb)
}

// RegisterJob creates or updates a job and, in the same transaction, an
// evaluation for it, so a submitted job is never left without one. A job
// whose specification did not change (and that is not stopped) is left as it
// is and gets no evaluation.
func (s *Store) RegisterJob(ctx context.Context, job *api.Job, now time.Time) (*api.RegisterResponse, error) {
	return s.register(ctx, job, now, -1, nil)
}

// RegisterJobFrom is RegisterJob (rev < 0) or RegisterJobAt (rev >= 0)
// that also keeps src, the job file it was submitted from, as the source
// of the version it registers — in the same transaction, or beside the
// version for a job that did not change. src's Namespace, JobID and
// Version are set here.
//
// A source that would not fit in etcd's request with the job is not
// kept; the answer's Warnings say so.
func (s *Store) RegisterJobFrom(ctx context.Context, job *api.Job, now time.Time, rev int64, src *JobSource) (*api.RegisterResponse, error) {
	if src != nil && len(encode(job))+txnOverhead+src.size() > MaxRequestBytes {
		// The source is what gives way: the job is what was asked for.
		resp, err := s.register(ctx, job, now, rev, nil)
		if err == nil {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("The job's source was not kept: with the job it would take %d bytes in etcd, over its request limit of %d bytes.",
				len(encode(job))+txnOverhead+src.size(), MaxRequestBytes))
		}
		return resp, err
	}
	return s.register(ctx, job, now, rev, src)
}

// IndexError says that a job was not at the revision a write expected.
type IndexError struct {
	// Expected is the revision asked for; Current the job's (0: the job
	// does not exist).
	Expected, Current int64
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("job is at revision %d, not %d", e.Current, e.Expected)
}

// RegisterJobAt is RegisterJob for a job that must still be at revision
// rev (0: must not exist), the check-and-set of Nomad's -check-index; an
// *IndexError says it is not.
func (s *Store) RegisterJobAt(ctx context.Context, job *api.Job, now time.Time, rev int64) (*api.RegisterResponse, error) {
	return s.register(ctx, job, now, rev, nil)
}

// MaxRequestBytes is the most one etcd request may carry: etcd's default
// --max-request-bytes (1.5 MiB), which a user's cluster keeps.
const MaxRequestBytes = 3 << 19

// TooLargeError says that what a write would send to etcd is over its
// request limit; nothing was written.
type TooLargeError struct {
	What        string
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s would take %d bytes in etcd, over its request limit of %d bytes", e.What, e.Size, e.Limit)
}

// txnOverhead is what a transaction adds to the values it writes: keys,
// the evaluation, compares.
const txnOverhead = 4 << 10

func (s *Store) register(ctx context.Context, job *api.Job, now time.Time, expect int64, src *JobSource) (*api.RegisterResponse, error) {
	// Refuse a job that cannot fit in etcd's request before etcd is asked.
	if size := len(encode(job)) + txnOverhead; size > MaxRequestBytes {
		return nil, &TooLargeError{What: fmt.Sprintf("job %q (%d bytes, stored with its evaluation)", job.ID, len(encode(job))), Size: size, Limit: MaxRequestBytes}
	}
	if src != nil && len(encode(job))+txnOverhead+src.size() > MaxRequestBytes {
		src = nil // RegisterJobFrom said so
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		old, rev, err := s.GetJob(ctx, job.Namespace, job.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if expect >= 0 && rev != expect {
			return nil, &IndexError{Expected: expect, Current: rev}
		}
		next := *job
		next.Indexes = api.Indexes{}
		next.Status = ""
		next.Stop = false
		next.Stable = false
		next.SubmitTime = now
		result := "created"
		if old != nil {
			if !old.Stop && sameSpec(old, job) {
				if src != nil {
					// The same job from another file (comments, layout,
					// variables that did not change it): the version's
					// source is the latest submitted.
					if err := s.putJobSource(ctx, src, old, rev); err != nil {
						return nil, err
					}
				}
				return &api.RegisterResponse{Result: "unchanged", JobID: job.ID, Namespace: job.Namespace, JobVersion: old.Version}, nil
			}
			next.Version = old.Version + 1
			result = "updated"
			if err := s.archive(ctx, old, rev); err != nil {
				return nil, err
			}
		} else {
			next.Version = 0
		}
		eval := newEval(&next, api.EvalTriggerJobRegister, now)
		ops := []clientv3.Op{
			clientv3.OpPut(s.keys.Job(job.Namespace, job.ID), encode(&next)),
			clientv3.OpPut(s.keys.Eval(eval.Namespace, eval.JobID, eval.ID), encode(eval)),
		}
		if old == nil {
			// A new job takes no tag of a purged one of its name.
			ops = append(ops, clientv3.OpDelete(s.keys.JobTags(job.Namespace, job.ID), clientv3.WithPrefix()))
		}
		if src != nil {
			ops = append(ops, s.jobSourceOp(src, &next))
		} else {
			// No source for this version: none left from a version of
			// the same number (a job purged and submitted again).
			ops = append(ops, clientv3.OpDelete(s.keys.JobSource(next.Namespace, next.ID, next.Version)))
		}
		txn := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.keys.Job(job.Namespace, job.ID)), "=", rev)).Then(ops...)
		resp, err := txn.Commit()
		if err != nil && !s.appliedDespite(ctx, err, s.keys.Eval(eval.Namespace, eval.JobID, eval.ID)) {
			return nil, fmt.Errorf("registering job %q: %w", job.ID, err)
		}
		if err != nil || resp.Succeeded {
			return &api.RegisterResponse{Result: result, JobID: job.ID, Namespace: job.Namespace, JobVersion: next.Version, EvalID: eval.ID}, nil
		}
	}
	return nil, fmt.Errorf("registering job %q: %w", job.ID, ErrConflict)
}

// StopJob marks a job stopped, or with purge deletes it, and creates the
// evaluation that stops its allocations, in one transaction.
func (s *Store) StopJob(ctx context.Context, ns, id string, purge bool, now time.Time) (string, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		old, rev, err := s.GetJob(ctx, ns, id)
		if err != nil {
			return "", err
		}
		key := s.keys.Job(ns, id)
		eval := newEval(old, api.EvalTriggerJobDeregister, now)
		if err := s.archive(ctx, old, rev); err != nil {
			return "", err
		}
		ops := []clientv3.Op{clientv3.OpPut(s.keys.Eval(ns, id, eval.ID), encode(eval))}
		if purge {
			// Its tags and sources go with it: a job registered again
			// under its name before the collector takes the rest of its
			// history must not show them.
			ops = append(ops, clientv3.OpDelete(key),
				clientv3.OpDelete(s.keys.JobTags(ns, id), clientv3.WithPrefix()),
				clientv3.OpDelete(s.keys.JobSources(ns, id), clientv3.WithPrefix()))
		} else {
			if old.Stop {
				return "", nil
			}
			stopped := *old
			stopped.Stop = true
			stopped.Status = ""
			ops = append(ops, clientv3.OpPut(key, encode(&stopped)))
		}
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(ops...).Commit()
		if err != nil && !s.appliedDespite(ctx, err, s.keys.Eval(ns, id, eval.ID)) {
			return "", fmt.Errorf("stopping job %q: %w", id, err)
		}
		if err != nil || resp.Succeeded {
			return eval.ID, nil
		}
	}
	return "", fmt.Errorf("stopping job %q: %w", id, ErrConflict)
}

// PurgeJobHistory deletes what is left of a purged job: its versions,
// evaluations and deployments. It does nothing if the job exists again.
func (s *Store) PurgeJobHistory(ctx context.Context, ns, job string, g Guard) error {
	cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.keys.Job(ns, job)), "=", 0)}, g.cmps...)
	_, err := s.cli.Txn(ctx).If(cmps...).Then(
		clientv3.OpDelete(s.keys.JobVersions(ns, job), clientv3.WithPrefix()),
		clientv3.OpDelete(s.keys.JobSources(ns, job), clientv3.WithPrefix()),
		clientv3.OpDelete(s.keys.JobTags(ns, job), clientv3.WithPrefix()),
		clientv3.OpDelete(s.keys.JobEvals(ns, job), clientv3.WithPrefix()),
		clientv3.OpDelete(s.keys.Deployments(ns, job), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return fmt.Errorf("purging history of job %q: %w", job, err)
	}
	return nil
}
