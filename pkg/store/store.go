// Package store is nomadic's only door to etcd. It owns the key layout
// (keys.go), encodes the API objects, and makes every write that depends
// on a read a transaction that compares the revisions it read. Nothing of
// etcd's client shows in its surface:
//
//   - Store reads and writes objects by kind (jobs.go, evals.go, nodes.go,
//     allocs.go, deployments.go, services.go, servers.go) and commits plans
//     (plan.go).
//   - Guard is an opaque condition a holder's writes must pass (a claim on
//     a job, a leader's term); Txn collects writes that commit together or
//     not at all.
//   - Session is a lease kept alive (servers, node agents); Leadership is a
//     term in the servers' election (session.go).
//   - Cache is a server's informer: one list and one watch of the cluster
//     prefix that serves scheduling snapshots, API reads, blocking queries
//     and typed subscriptions of every controller (subscribe.go).
//   - WatchNodeAllocs is a node agent's watch of its own prefix;
//     WatchChanges replays the cluster's history for event streams.
//   - Compactor takes a server's turns at compacting etcd's history.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a transaction lost a race with another
// writer; the caller reads again and retries.
var ErrConflict = errors.New("conflicting write")

// ErrAmbiguous is returned when a short ID matches several objects.
var ErrAmbiguous = errors.New("ambiguous id")

// pageSize is how many keys one range request returns when listing.
const pageSize = 1000

// maxRetries bounds the read-compare-write loops of the store.
const maxRetries = 10

// Store reads and writes one cluster's state in etcd.
type Store struct {
	cli   *clientv3.Client
	keys  Keys
	cache atomic.Pointer[Cache]
	users atomic.Pointer[NodeUsers]
	// progress: whether etcd's progress notifications can be trusted
	// (progress.go).
	progress progressTrust
	// memberConns: the sessions' connections to each etcd member
	// (leasekeep.go).
	memberConns memberConns
}

// UseNodeUsers makes PurgeNode also remove the purged node's etcd user
// and role (nil: it does not).
func (s *Store) UseNodeUsers(u *NodeUsers) { s.users.Store(u) }

// NodeUsers returns the node user manager UseNodeUsers set, or nil.
func (s *Store) NodeUsers() *NodeUsers { return s.users.Load() }

// UseCache makes ReadSnapshot read from a running cache of this store's
// cluster (nil: from etcd again).
func (s *Store) UseCache(c *Cache) { s.cache.Store(c) }

// KnowsNode reports whether the store's cache holds a record of the node;
// ok is false when the store reads etcd without a cache.
func (s *Store) KnowsNode(id string) (known, ok bool) {
	c := s.cache.Load()
	if c == nil {
		return false, false
	}
	return c.HasNode(id), true
}

// DropCache stops reading from c, if the store still uses it (several
// servers in one process may share a store, each with its own cache).
func (s *Store) DropCache(c *Cache) { s.cache.CompareAndSwap(c, nil) }

// New returns a store for the cluster under prefix.
func New(cli *clientv3.Client, prefix string) *Store {
	s := &Store{cli: cli, keys: NewKeys(prefix)}
	s.memberConns.cli = cli
	return s
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own API types are encoded; they always marshal.
		panic(fmt.Sprintf("encoding %T: %v", v, err))
	}
	return string(b)
}

func decode[T any](key string, b []byte) (*T, error) {
	v := fastDecode[T](b, nil)
	if v == nil {
		v = new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", key, err)
		}
	}
	afterDecode(v)
	return v, nil
}

// Keys are the store's key names.
func (s *Store) Keys() Keys { return s.keys }

// List calls fn for every key under prefix, in key order, reading pages of
// pageSize keys at one revision so the result is a consistent snapshot. It
// returns that revision.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, value []byte) error) (int64, error) {
	return s.listAt(ctx, prefix, 0, fn)
}

// listAt is List at a given revision (0: the current one).
func (s *Store) listAt(ctx context.Context, prefix string, rev int64, fn func(key string, value []byte) error) (int64, error) {
	return s.rangeKVs(ctx, prefix, rev, func(kv *mvccpb.KeyValue) error { return fn(string(kv.Key), kv.Value) })
}

// rangeKVs is listAt handing out the keys with their revisions; more are
// further options of each page's range (clientv3.WithKeysOnly).
func (s *Store) rangeKVs(ctx context.Context, prefix string, rev int64, fn func(kv *mvccpb.KeyValue) error, more ...clientv3.OpOption) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	key := prefix
	for {
		opts := append([]clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}, more...)
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("listing %s: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return 0, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// indexed is an object that records the revisions it was read at.
type indexed interface{ SetIndexes(create, modify int64) }

// decodeKV decodes a key's value and records its revisions in objects
// that keep them.
func decodeKV[T any](kv *mvccpb.KeyValue) (*T, error) {
	v, err := decode[T](string(kv.Key), kv.Value)
	if err != nil {
		return nil, err
	}
	if ix, ok := any(v).(indexed); ok {
		ix.SetIndexes(kv.CreateRevision, kv.ModRevision)
	}
	return v, nil
}

func listAll[T any](ctx context.Context, s *Store, prefix string) ([]*T, int64, error) {
	var out []*T
	rev, err := s.rangeKVs(ctx, prefix, 0, func(kv *mvccpb.KeyValue) error {
		v, err := decodeKV[T](kv)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, rev, err
}

func getOne[T any](ctx context.Context, s *Store, key string) (*T, int64, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrNotFound
	}
	v, err := decodeKV[T](resp.Kvs[0])
	if err != nil {
		return nil, 0, err
	}
	return v, resp.Kvs[0].ModRevision, nil
}

func byIDPrefix[T any](items []*T, prefix string, id func(*T) string) (*T, error) {
	var found *T
	n := 0
	for _, it := range items {
		if id(it) == prefix {
			return it, nil
		}
		if prefix != "" && strings.HasPrefix(id(it), prefix) {
			found = it
			n++
		}
	}
	switch n {
	case 0:
		return nil, ErrNotFound
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%w: %q matches %d objects", ErrAmbiguous, prefix, n)
}

// NoSpace reports whether err is etcd refusing writes because its
// database reached its quota (the NOSPACE alarm): nothing is written
// until an operator compacts, defragments and disarms it
// (docs/operations.md).
func NoSpace(err error) bool {
	return errors.Is(err, rpctypes.ErrNoSpace) || errors.Is(err, rpctypes.ErrGRPCNoSpace) ||
		(err != nil && strings.Contains(err.Error(), rpctypes.ErrGRPCNoSpace.Error()))
}

// appliedDespite reports whether a write that failed with err was applied
// all the same: etcd applies the write that crosses its quota and answers
// it with NOSPACE (the alarm it raises refuses the writes after it). key
// is a key the write created and nothing else does, such as its
// evaluation's; reads still work under the alarm.
func (s *Store) appliedDespite(ctx context.Context, err error, key string) bool {
	if !NoSpace(err) {
		return false
	}
	resp, gerr := s.cli.Get(ctx, key, clientv3.WithCountOnly())
	return gerr == nil && resp.Count > 0
}

// TooLarge reports whether err is etcd refusing a request over its size
// limit, or the store refusing one before it was sent (*TooLargeError).
func TooLarge(err error) bool {
	var tl *TooLargeError
	return errors.As(err, &tl) || errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) ||
		(err != nil && strings.Contains(err.Error(), rpctypes.ErrGRPCRequestTooLarge.Error()))
}

// createdBefore orders two objects by the etcd revision that created them,
// which every server agrees on, and by their creation times only when a
// revision is missing (an object not read from etcd).
func createdBefore(ci, cj uint64, ti, tj time.Time) bool {
	if ci > 0 && cj > 0 {
		return ci < cj
	}
	return ti.Before(tj)
}
