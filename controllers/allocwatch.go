package controllers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// AllocWatcher is a singleton controller that evaluates a job again when
// what its nodes report calls for a scheduling step: an allocation that
// failed (or, for a service, ended) is rescheduled; a replacement that
// started running lets a rolling update or a migration take its next
// step.
type AllocWatcher struct {
	Store *store.Store
	Cache *store.Cache
	Guard store.Guard
	Now   func() time.Time
}

// Run watches allocation statuses until ctx ends.
func (w *AllocWatcher) Run(ctx context.Context) {
	q := newQueue()
	var mu sync.Mutex
	last := newLastStatuses()
	// What is watched: the client status, and whether the allocation was
	// judged healthy (a drain moves on when a replacement is).
	status := func(ch store.Change) string {
		st, err := store.Decode[api.AllocStatus](ch)
		if err != nil {
			return ""
		}
		if st.Health != nil && st.Health.Healthy {
			return st.ClientStatus + "+healthy"
		}
		return st.ClientStatus
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Cache.Subscribe(ctx, store.Subscriber{
			Kinds: []store.Kind{store.KindAllocStatus},
			Resync: func(all []store.Change) {
				mu.Lock()
				defer mu.Unlock()
				last = newLastStatuses()
				for _, ch := range all {
					s := status(ch)
					last.swap(ch.Node, ch.ID, s)
					// After a restart of the leader, failures it may have
					// missed are looked at again.
					if s == api.AllocClientFailed {
						q.add(ch.Node + "/" + ch.ID)
					}
				}
			},
			Changed: func(ch store.Change) {
				mu.Lock()
				defer mu.Unlock()
				if ch.Deleted {
					last.del(ch.Node, ch.ID)
					return
				}
				s := status(ch)
				if last.swap(ch.Node, ch.ID, s) {
					key := ch.Node + "/" + ch.ID
					switch strings.TrimSuffix(s, "+healthy") {
					case api.AllocClientRunning:
						// Running is a step only for a replacement (a
						// rolling update); most allocations are not
						// one, and the cache knows (an allocation's
						// previous one never changes) without the two
						// etcd reads of work.
						if a := w.Cache.CachedAlloc(ch.ID); a != nil && a.PreviousAllocation == "" {
							break
						}
						q.add(key)
					case api.AllocClientFailed, api.AllocClientComplete:
						q.add(key)
					}
				}
			},
		})
	}()
	runWorkers(ctx, q, 2, func(ctx context.Context, key string) error { return w.work(ctx, key) })
	<-done
}

// lastStatuses remembers what each allocation last reported, as a code
// under a 32-byte key (its node's UUID and its own): over a million
// allocations the map holds no pointer for Go's collector to scan, where
// a map of "node/alloc" strings held two an allocation.
type lastStatuses struct {
	byKey map[[32]byte]uint8
	other map[string]uint8 // IDs that are not UUIDs
}

func newLastStatuses() *lastStatuses {
	return &lastStatuses{byKey: map[[32]byte]uint8{}, other: map[string]uint8{}}
}

// statusCodes number the statuses the watcher tells apart; any other is
// 255 (a change between two such is not a step).
var statusCodes = func() map[string]uint8 {
	m := map[string]uint8{}
	for i, s := range []string{"", api.AllocClientPending, api.AllocClientRunning, api.AllocClientComplete,
		api.AllocClientFailed, api.AllocClientLost, api.AllocClientUnknown} {
		m[s] = uint8(2 * i)
		m[s+"+healthy"] = uint8(2*i + 1)
	}
	return m
}()

func statusCode(s string) uint8 {
	if c, ok := statusCodes[s]; ok {
		return c
	}
	return 255
}

func watchKey(node, id string) (k [32]byte, ok bool) {
	n, ok1 := api.UUIDBytes(node)
	a, ok2 := api.UUIDBytes(id)
	copy(k[:16], n[:])
	copy(k[16:], a[:])
	return k, ok1 && ok2
}

// swap records an allocation's status; it reports whether it differs
// from the last one (an allocation never seen differs from any but "").
func (l *lastStatuses) swap(node, id, status string) bool {
	c := statusCode(status)
	if k, ok := watchKey(node, id); ok {
		old := l.byKey[k]
		l.byKey[k] = c
		return old != c
	}
	key := node + "/" + id
	old := l.other[key]
	l.other[key] = c
	return old != c
}

func (l *lastStatuses) del(node, id string) {
	if k, ok := watchKey(node, id); ok {
		delete(l.byKey, k)
		return
	}
	delete(l.other, node+"/"+id)
}

// work looks at one allocation ("node/alloc") and creates an evaluation of
// its job if a step is due and none is pending.
func (w *AllocWatcher) work(ctx context.Context, key string) error {
	nodeID, allocID, ok := strings.Cut(key, "/")
	if !ok {
		return nil
	}
	a, err := w.Store.ReadAlloc(ctx, nodeID, allocID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	st, err := w.Store.GetAllocStatus(ctx, nodeID, allocID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	trigger := ""
	switch st.ClientStatus {
	case api.AllocClientFailed, api.AllocClientComplete:
		if a.DesiredStatus == api.AllocDesiredRun && a.NextAllocation == "" {
			trigger = api.EvalTriggerAllocFailure
		}
	case api.AllocClientRunning:
		if a.PreviousAllocation != "" && a.DesiredStatus == api.AllocDesiredRun {
			trigger = api.EvalTriggerRollingUpdate
		}
	}
	if trigger == "" {
		return nil
	}
	return ensureEval(ctx, w.Store, a.Namespace, a.JobID, trigger, nodeID, w.Now(), w.Guard)
}

// ensureEval creates an evaluation of a job unless one is pending and due.
func ensureEval(ctx context.Context, st *store.Store, ns, job, trigger, nodeID string, now time.Time, guard store.Guard) error {
	evals, err := st.ListEvals(ctx, ns, job)
	if err != nil {
		return err
	}
	for _, e := range evals {
		if e.Status == api.EvalStatusPending && !e.WaitUntil.After(now) {
			return nil
		}
	}
	if _, err := st.CreateEval(ctx, ns, job, trigger, nodeID, now, guard); err != nil {
		return err
	}
	slog.Debug("evaluating job", "job", job, "trigger", trigger)
	return nil
}
