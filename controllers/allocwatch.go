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
	last := map[string]string{}
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
				last = map[string]string{}
				for _, ch := range all {
					key := ch.Node + "/" + ch.ID
					s := status(ch)
					last[key] = s
					// After a restart of the leader, failures it may have
					// missed are looked at again.
					if s == api.AllocClientFailed {
						q.add(key)
					}
				}
			},
			Changed: func(ch store.Change) {
				mu.Lock()
				defer mu.Unlock()
				key := ch.Node + "/" + ch.ID
				if ch.Deleted {
					delete(last, key)
					return
				}
				s := status(ch)
				if s != last[key] {
					last[key] = s
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
