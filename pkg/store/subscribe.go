package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
)

// Change is one object of a watched kind, as a list or a watch saw it:
// what its key names, its value (nil when deleted) and the revision it
// was written at.
type Change struct {
	Ref
	Deleted bool
	Value   []byte
	// Prev is the value before a deletion, when the watch asked for it
	// (WatchChanges).
	Prev []byte
	Rev  int64
	// Created is set when the change created the key (WatchChanges).
	Created bool
	// object is the value as the cache decoded it, if it did: shared,
	// never to be changed.
	object any
}

// Decode decodes the value of a change into an API type. A change the
// cache handed out comes decoded already (allocations, their statuses,
// nodes): the object is shared and must not be changed.
func Decode[T any](c Change) (*T, error) {
	if v, ok := c.object.(*T); ok {
		return v, nil
	}
	var v T
	if err := json.Unmarshal(c.Value, &v); err != nil {
		return nil, fmt.Errorf("decoding %s %s: %w", c.Kind, c.ID, err)
	}
	afterDecode(&v)
	return &v, nil
}

// Subscriber receives the objects of some kinds. Its functions run on the
// watch's goroutine, one call at a time and in revision order: they must
// be quick and must not wait on the store (queue a key, update a map).
type Subscriber struct {
	Kinds []Kind
	// Resync receives every object of the kinds: when the subscription
	// starts, and again after each relist of the watch (a compacted
	// revision, a lost connection). May be nil.
	Resync func(all []Change)
	// Changed receives every change after the last Resync.
	Changed func(Change)
}

type subscription struct {
	sub   Subscriber
	kinds map[Kind]bool
	// from is the revision the subscriber's view starts after.
	from int64
}

func newSubscription(sub Subscriber) *subscription {
	s := &subscription{sub: sub, kinds: map[Kind]bool{}}
	for _, k := range sub.Kinds {
		s.kinds[k] = true
	}
	return s
}

// Subscribe hands the changes of the subscriber's kinds to it, from the
// cache's one watch, until ctx ends. If the cache holds the cluster
// already, the subscriber first gets the current objects of its kinds,
// listed from etcd at one revision; otherwise it gets them with the
// cache's first list.
func (c *Cache) Subscribe(ctx context.Context, sub Subscriber) {
	s := newSubscription(sub)
	if err := c.join(ctx, s); err != nil {
		return
	}
	<-ctx.Done()
	c.dispatch.Lock()
	delete(c.subs, s)
	c.dispatch.Unlock()
}

// join registers a subscription, listing what it starts from when the
// cache is synced. The dispatch lock is held meanwhile, so no change is
// handed out between the list and the registration.
func (c *Cache) join(ctx context.Context, s *subscription) error {
	backoff := 100 * time.Millisecond
	for {
		c.dispatch.Lock()
		c.mu.Lock()
		synced := c.synced
		c.mu.Unlock()
		if !synced {
			c.subs[s] = true
			c.dispatch.Unlock()
			return nil
		}
		all, rev, err := c.s.listKinds(ctx, s.sub.Kinds)
		if err == nil {
			s.from = rev
			if s.sub.Resync != nil {
				s.sub.Resync(all)
			}
			c.subs[s] = true
			c.dispatch.Unlock()
			return nil
		}
		c.dispatch.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		slog.Warn("subscription: listing failed; retrying", "kinds", s.sub.Kinds, "err", err, "in", backoff)
		loop.Sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// resyncAll gives every subscriber the objects of its kinds after a
// (re)list at rev; c.dispatch is held.
func (c *Cache) resyncAll(items map[string]listed, rev int64) {
	if len(c.subs) == 0 {
		return
	}
	byKind := map[Kind][]Change{}
	for k, v := range items {
		if ref, ok := c.s.keys.Parse(k); ok {
			byKind[ref.Kind] = append(byKind[ref.Kind], Change{Ref: ref, Value: v.value, Rev: v.mod})
		}
	}
	for s := range c.subs {
		s.from = rev
		if s.sub.Resync == nil {
			continue
		}
		var all []Change
		for _, k := range s.sub.Kinds {
			all = append(all, byKind[k]...)
		}
		s.sub.Resync(all)
	}
}

// deliver hands one change to the subscribers of its kind; c.dispatch is
// held.
func (c *Cache) deliver(ev Event, obj any) {
	if len(c.subs) == 0 {
		return
	}
	ref, ok := c.s.keys.Parse(ev.Key)
	if !ok {
		return
	}
	ch := Change{Ref: ref, Deleted: ev.Delete, Value: ev.Value, Rev: ev.Rev, object: obj}
	for s := range c.subs {
		if s.kinds[ref.Kind] && ev.Rev > s.from && s.sub.Changed != nil {
			s.sub.Changed(ch)
		}
	}
}

// waitKinds waits until a key of one of the kinds changed after revision
// after, or until wait passed or ctx ended.
func (c *Cache) waitKinds(ctx context.Context, kinds []Kind, after int64, wait time.Duration) {
	deadline := time.Now().Add(wait)
	wake := func() {
		c.mu.Lock()
		c.moved.Broadcast()
		c.mu.Unlock()
	}
	t := time.AfterFunc(wait, wake)
	defer t.Stop()
	stop := context.AfterFunc(ctx, wake)
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		for _, k := range kinds {
			if c.kindRev[k] > after {
				return
			}
		}
		c.moved.Wait()
	}
}

// listKinds lists every object of the kinds at one revision, which it
// returns.
func (s *Store) listKinds(ctx context.Context, kinds []Kind) ([]Change, int64, error) {
	var all []Change
	var rev int64
	for _, k := range kinds {
		r, err := s.listAt(ctx, s.keys.Kind(k), rev, func(key string, value []byte) error {
			if ref, ok := s.keys.Parse(key); ok {
				all = append(all, Change{Ref: ref, Value: value})
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		rev = r
	}
	if rev == 0 {
		r, err := s.Revision(ctx)
		if err != nil {
			return nil, 0, err
		}
		rev = r
	}
	for i := range all {
		all[i].Rev = rev
	}
	return all, rev, nil
}
