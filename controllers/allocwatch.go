package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AllocWatcher is a singleton controller that evaluates a job again when
// what its nodes report calls for a scheduling step: an allocation that
// failed (or, for a service, ended) is rescheduled; a replacement that
// started running lets a rolling update or a migration take its next
// step.
type AllocWatcher struct {
	Store *store.Store
	Guard clientv3.Cmp
	Now   func() time.Time
}

// Run watches allocation statuses until ctx ends.
func (w *AllocWatcher) Run(ctx context.Context) {
	q := newQueue()
	prefix := w.Store.Keys().Kind("allocstatus")
	var mu sync.Mutex
	last := map[string]string{}
	// What is watched: the client status, and whether the allocation was
	// judged healthy (a drain moves on when a replacement is).
	status := func(v []byte) string {
		var st api.AllocStatus
		if json.Unmarshal(v, &st) != nil {
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
		w.Store.ListWatch(ctx, prefix, handlerFuncs{
			replace: func(items map[string][]byte, _ int64) {
				mu.Lock()
				defer mu.Unlock()
				last = map[string]string{}
				for k, v := range items {
					s := status(v)
					last[k] = s
					// After a restart of the leader, failures it may have
					// missed are looked at again.
					if s == api.AllocClientFailed {
						q.add(strings.TrimPrefix(k, prefix))
					}
				}
			},
			apply: func(ev store.Event) {
				mu.Lock()
				defer mu.Unlock()
				if ev.Delete {
					delete(last, ev.Key)
					return
				}
				s := status(ev.Value)
				if s != last[ev.Key] {
					last[ev.Key] = s
					switch strings.TrimSuffix(s, "+healthy") {
					case api.AllocClientFailed, api.AllocClientComplete, api.AllocClientRunning:
						q.add(strings.TrimPrefix(ev.Key, prefix))
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
	resp, err := w.Store.Client().Get(ctx, w.Store.Keys().Alloc(nodeID, allocID))
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	var a api.Allocation
	if err := json.Unmarshal(resp.Kvs[0].Value, &a); err != nil {
		return nil
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
func ensureEval(ctx context.Context, st *store.Store, ns, job, trigger, nodeID string, now time.Time, guard clientv3.Cmp) error {
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
