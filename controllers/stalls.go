package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// StallWatch probes etcd twice a second for the server's whole life,
// leader or not, and remembers the last stall: a stretch in which reads
// failed or took longer than After. Node leases that expire during or
// just after a stall were starved by the control plane, not lost by
// their nodes, so the leader's liveness controller holds their
// allocations (NodeLiveness.hold) — a leader elected because of the
// stall included, since it has watched etcd all along.
type StallWatch struct {
	Store *store.Store
	// After is how slow a read must be, or how long reads must keep
	// failing, to count as a stall (default 2 s).
	After time.Duration

	mu      sync.Mutex
	length  time.Duration
	ended   time.Time // zero: no stall seen
	current time.Time // when the stall under way began; zero: none
}

// Run probes etcd until ctx ends.
func (w *StallWatch) Run(ctx context.Context) {
	after := w.after()
	var since time.Time // when the current stall began; zero while healthy
	for ctx.Err() == nil {
		began := time.Now()
		pctx, cancel := context.WithTimeout(ctx, after)
		err := w.Store.Ping(pctx)
		cancel()
		took := time.Since(began)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || took >= after:
			if since.IsZero() {
				since = began
				w.mu.Lock()
				w.current = began
				w.mu.Unlock()
			}
		case !since.IsZero():
			if d := time.Since(since); d >= after {
				w.record(d, time.Now())
				slog.Warn("etcd stalled", "for", d.Round(100*time.Millisecond))
			} else {
				w.mu.Lock()
				w.current = time.Time{}
				w.mu.Unlock()
			}
			since = time.Time{}
		}
		loop.Sleep(ctx, 500*time.Millisecond-min(took, 500*time.Millisecond))
	}
}

func (w *StallWatch) after() time.Duration {
	if w.After > 0 {
		return w.After
	}
	return 2 * time.Second
}

func (w *StallWatch) record(length time.Duration, ended time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.length, w.ended, w.current = length, ended, time.Time{}
}

// Stalling reports whether etcd is stalled now (the last reads failed or
// were slow).
func (w *StallWatch) Stalling() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.current.IsZero()
}

// Last returns the last stall's length and when it ended (zero: none).
func (w *StallWatch) Last() (time.Duration, time.Time) {
	if w == nil {
		return 0, time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.length, w.ended
}
