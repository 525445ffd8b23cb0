package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A node reads the job versions its allocations run from copies in its
// own tree (nodejobs/<node>/<ns>/<job>/<version>), never from
// jobversions/, which holds every job's. The leader writes a copy while an
// allocation on the node runs that version and deletes it once none does
// (controllers.NodeCopies).

// NodeJobCopy names one node's copy of one job version.
type NodeJobCopy struct {
	Node, Namespace, Job string
	Version              uint64
}

// maxCopyBytes bounds the job copies one transaction carries, well under
// etcd's request limit (1.5 MiB by default).
const maxCopyBytes = 1 << 20

// JobCopyCache keeps the compressed job versions SyncNodeJobs read, for
// its next calls: a version never changes once written. Its zero value is
// empty; it holds at most a few hundred versions.
type JobCopyCache struct {
	encoded map[jobVersionRef]string
}

type jobVersionRef struct {
	ns, job string
	v       uint64
}

// maxCachedCopies bounds a JobCopyCache: past it, the cache starts over.
const maxCachedCopies = 512

// SyncNodeJobs writes the copies in put and deletes those in del, while g
// holds, in as few transactions as etcd's limits allow (at most
// maxTxnOps operations and about 1 MiB each), reading each job version
// once: a job of 1,000 allocations on 1,000 nodes makes 1,000 copies of
// one version, which one by one cost a read and a raft entry each. It
// returns the copies it wrote or deleted and those whose version is gone
// (a purged job: nothing to copy); on an error, what it returns was done
// before it, and the rest is not.
func (s *Store) SyncNodeJobs(ctx context.Context, put, del []NodeJobCopy, g Guard, cache *JobCopyCache) (done, gone []NodeJobCopy, err error) {
	if cache == nil {
		cache = &JobCopyCache{}
	}
	if cache.encoded == nil || len(cache.encoded) > maxCachedCopies {
		cache.encoded = map[jobVersionRef]string{}
	}
	encoded := cache.encoded
	var ops []clientv3.Op
	var batch []NodeJobCopy
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		tr, err := s.cli.Txn(ctx).If(g.cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("writing %d job copies to nodes: %w", len(ops), err)
		}
		if !tr.Succeeded {
			return ErrConflict
		}
		done = append(done, batch...)
		ops, batch, size = ops[:0], batch[:0], 0
		return nil
	}
	add := func(op clientv3.Op, c NodeJobCopy, n int) error {
		if len(ops) > 0 && (len(ops)+1 > maxTxnOps-len(g.cmps) || size+n > maxCopyBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, op)
		batch = append(batch, c)
		size += n
		return nil
	}
	for _, c := range put {
		if err := ctx.Err(); err != nil {
			return done, gone, err
		}
		k := jobVersionRef{c.Namespace, c.Job, c.Version}
		val, ok := encoded[k]
		if !ok {
			j, err := s.GetJobVersion(ctx, c.Namespace, c.Job, c.Version)
			switch {
			case errors.Is(err, ErrNotFound):
				// Not kept: the version may be written yet.
				gone = append(gone, c)
				continue
			case err != nil:
				return done, gone, fmt.Errorf("reading job %q version %d: %w", c.Job, c.Version, err)
			}
			val = compressedJob(j)
			encoded[k] = val
		}
		key := s.keys.NodeJob(c.Node, c.Namespace, c.Job, c.Version)
		if err := add(clientv3.OpPut(key, val), c, len(key)+len(val)); err != nil {
			return done, gone, err
		}
	}
	for _, c := range del {
		key := s.keys.NodeJob(c.Node, c.Namespace, c.Job, c.Version)
		if err := add(clientv3.OpDelete(key), c, len(key)); err != nil {
			return done, gone, err
		}
	}
	return done, gone, flush()
}

// GetNodeJob reads a node's copy of a job version. Until the leader wrote
// the copy it falls back to the version itself, which a node whose etcd
// role grants only its own tree may not read: ErrNotFound then, and the
// caller waits for the copy.
func (s *Store) GetNodeJob(ctx context.Context, node, ns, job string, version uint64) (*api.Job, error) {
	key := s.keys.NodeJob(node, ns, job, version)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if len(resp.Kvs) > 0 {
		kv := *resp.Kvs[0]
		if kv.Value, err = uncompressedJob(kv.Value); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", key, err)
		}
		return decodeKV[api.Job](&kv)
	}
	j, err := s.GetJobVersion(ctx, ns, job, version)
	if errors.Is(err, rpctypes.ErrPermissionDenied) {
		return nil, fmt.Errorf("job %q version %d is not copied to node %s yet: %w", job, version, node, ErrNotFound)
	}
	return j, err
}

// A node's copy of a job version is its JSON, gzipped: a node has a copy
// of each version its allocations run, so a cluster holds about as many
// copies as allocations when jobs spread over many nodes, and job specs
// compress 5-10x. The value is told from plain JSON by gzip's magic bytes.
func compressedJob(j *api.Job) string {
	var b bytes.Buffer
	zw, _ := gzipWriters.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&b, gzip.BestSpeed)
	} else {
		zw.Reset(&b)
	}
	_, _ = zw.Write([]byte(encode(j)))
	_ = zw.Close()
	gzipWriters.Put(zw)
	return b.String()
}

// gzipWriters are reused: a writer holds some 800 KiB of state.
var gzipWriters sync.Pool

// maxJobCopyBytes bounds a job copy once uncompressed: far above what
// etcd stores for a job (1.5 MiB), so only a corrupt value reaches it.
const maxJobCopyBytes = 64 << 20

func uncompressedJob(v []byte) ([]byte, error) {
	if len(v) < 2 || v[0] != 0x1f || v[1] != 0x8b {
		return v, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(v))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxJobCopyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxJobCopyBytes {
		return nil, fmt.Errorf("job copy is over %d bytes uncompressed", maxJobCopyBytes)
	}
	return out, nil
}
