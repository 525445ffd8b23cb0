package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrCompacted is returned by WatchChanges when the revision to resume
// from is no longer in etcd's history: read the current state again and
// resume from its revision.
var ErrCompacted = errors.New("revision compacted")

// Event is one raw change under a watched prefix.
type Event struct {
	Delete bool
	Key    string
	Value  []byte
	// Rev is the revision of the change; Create the revision the key
	// was created at (0 for a deletion).
	Rev    int64
	Create int64
}

// listed is one key of a list, with its revisions.
type listed struct {
	value       []byte
	create, mod int64
}

// handler receives what listWatch sees: first the whole prefix, then every
// change after it. Replace is called again after a relist (a compacted
// watch, a lost connection), with the complete current contents.
type handler interface {
	Replace(items map[string]listed, rev int64)
	Apply(ev Event)
}

// progressHandler is a handler that also learns which revisions are
// complete: after each watch response (all events of its revisions were
// applied), and when etcd's revision moves without a change under the
// prefix (a progress notification).
type progressHandler interface {
	handler
	Progress(rev int64)
}

// listWatch lists prefix (paged, at one revision), hands the result to h,
// then watches from the next revision on, until ctx ends. A watch that
// breaks resumes from the last revision seen; one whose revision was
// compacted relists, so no change is ever silently lost. Watches require a
// leader, so a partitioned etcd member fails loudly rather than going
// quiet.
func (s *Store) listWatch(ctx context.Context, prefix string, h handler) {
	backoff := 100 * time.Millisecond
	var rev int64
	for ctx.Err() == nil {
		if rev == 0 {
			items := map[string]listed{}
			r, err := s.rangeKVs(ctx, prefix, 0, func(kv *mvccpb.KeyValue) error {
				items[string(kv.Key)] = listed{value: kv.Value, create: kv.CreateRevision, mod: kv.ModRevision}
				return nil
			})
			if err != nil {
				if ctx.Err() == nil {
					slog.Warn("listing failed; retrying", "prefix", prefix, "err", err, "in", backoff)
				}
				loop.Sleep(ctx, backoff)
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			h.Replace(items, r)
			rev = r
		}
		var err error
		rev, err = s.watchFrom(ctx, prefix, rev, h)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			slog.Info("watch revision compacted; relisting", "prefix", prefix)
			rev = 0
			continue
		}
		if err != nil {
			slog.Warn("watch broke; resuming", "prefix", prefix, "err", err, "rev", rev)
		}
		loop.Sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// watchFrom watches prefix from rev+1 and returns the last revision it
// delivered when the watch ends.
func (s *Store) watchFrom(ctx context.Context, prefix string, rev int64, h handler) (int64, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	for resp := range ch {
		if err := resp.Err(); err != nil {
			return rev, err
		}
		for _, ev := range resp.Events {
			h.Apply(Event{
				Delete: ev.Type == clientv3.EventTypeDelete,
				Key:    string(ev.Kv.Key),
				Value:  ev.Kv.Value,
				Rev:    ev.Kv.ModRevision,
				Create: ev.Kv.CreateRevision,
			})
			rev = ev.Kv.ModRevision
		}
		// A notification's revision counts only where etcd sends it in
		// order with events (progress.go): an early one would make a
		// resumed watch skip the events it overtook.
		notified := resp.IsProgressNotify() && s.progressTrusted()
		if notified && resp.Header.Revision > rev {
			rev = resp.Header.Revision
		}
		// etcd never splits a revision's events over two responses, so
		// once a response's events are applied, its last revision is
		// complete: only now may a reader waiting for it go on (a plan
		// of 128 allocations is one revision; a reader let through after
		// its first event saw part of it).
		if p, ok := h.(progressHandler); ok && (len(resp.Events) > 0 || notified) {
			p.Progress(rev)
		}
	}
	return rev, ctx.Err()
}

// subscriberHandler adapts a Subscriber to listWatch.
type subscriberHandler struct {
	s   *Store
	sub Subscriber
}

func (h subscriberHandler) Replace(items map[string]listed, rev int64) {
	if h.sub.Resync == nil {
		return
	}
	all := make([]Change, 0, len(items))
	for k, v := range items {
		if ref, ok := h.s.keys.Parse(k); ok {
			all = append(all, Change{Ref: ref, Value: v.value, Rev: v.mod})
		}
	}
	h.sub.Resync(all)
}

func (h subscriberHandler) Apply(ev Event) {
	if ref, ok := h.s.keys.Parse(ev.Key); ok && h.sub.Changed != nil {
		h.sub.Changed(Change{Ref: ref, Deleted: ev.Delete, Value: ev.Value, Rev: ev.Rev})
	}
}

// WatchNodeAllocs hands a node agent the allocations of its node — only
// its own prefix — until ctx ends: all of them first (and after every
// relist), then each change. sub.Kinds is ignored.
func (s *Store) WatchNodeAllocs(ctx context.Context, nodeID string, sub Subscriber) {
	s.listWatch(ctx, s.keys.NodeAllocs(nodeID), subscriberHandler{s: s, sub: sub})
}

// CompactedError is WatchChanges' ErrCompacted, with the oldest revision
// etcd still holds.
type CompactedError struct{ Oldest int64 }

func (e *CompactedError) Error() string {
	return fmt.Sprintf("%v: the oldest revision kept is %d", ErrCompacted, e.Oldest)
}
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// WatchChanges calls fn for every change in the cluster after revision
// after, in revision order, with the previous value of deleted keys,
// until ctx ends or fn fails. It returns ErrCompacted when after is no
// longer in etcd's history. It is what event streams rest on: unlike the
// cache, it can replay the past.
func (s *Store) WatchChanges(ctx context.Context, after int64, fn func(Change) error) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := s.cli.Watch(wctx, s.keys.Prefix()+"/", clientv3.WithPrefix(), clientv3.WithRev(after+1), clientv3.WithPrevKV())
	for resp := range ch {
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return &CompactedError{Oldest: resp.CompactRevision}
			}
			return err
		}
		for _, ev := range resp.Events {
			ref, ok := s.keys.Parse(string(ev.Kv.Key))
			if !ok {
				continue
			}
			c := Change{Ref: ref, Deleted: ev.Type == clientv3.EventTypeDelete, Rev: ev.Kv.ModRevision,
				Created: ev.IsCreate()}
			if c.Deleted {
				if ev.PrevKv != nil {
					c.Prev = ev.PrevKv.Value
				}
			} else {
				c.Value = ev.Kv.Value
			}
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// Revision is etcd's current revision: the index of the cluster's state.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.keys.Prefix()+"/revision")
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// WaitForChange blocks until an object of one of the kinds changes after
// revision after, or until wait passes or ctx ends. It is what blocking
// queries rest on: a client that read the state at revision after learns
// of the next change without polling. With a cache (UseCache) it waits on
// the cache's watch; otherwise it opens watches of its own.
func (s *Store) WaitForChange(ctx context.Context, kinds []Kind, after int64, wait time.Duration) error {
	if c := s.cache.Load(); c != nil {
		c.waitKinds(ctx, kinds, after, wait)
		return ctx.Err()
	}
	wctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), wait)
	defer cancel()
	changed := make(chan struct{}, len(kinds))
	for _, kind := range kinds {
		ch := s.cli.Watch(wctx, s.keys.Kind(kind), clientv3.WithPrefix(), clientv3.WithRev(after+1))
		go func() {
			for resp := range ch {
				// An error (compaction: the revision is gone) also ends
				// the wait: the client reads again.
				if resp.Err() != nil || len(resp.Events) > 0 {
					changed <- struct{}{}
					return
				}
			}
		}()
	}
	select {
	case <-changed:
	case <-wctx.Done():
	}
	return ctx.Err()
}

// Health reads from etcd, to tell whether the store can be reached.
func (s *Store) Health(ctx context.Context) error {
	_, err := s.cli.Get(ctx, s.keys.Prefix()+"/health")
	return err
}
