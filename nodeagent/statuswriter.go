package nodeagent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
)

// statusWindow is how long the status writer gathers writes before it
// sends them: transitions of many allocations, or several of one (pending
// then running), within it cost one transaction.
const statusWindow = 5 * time.Millisecond

// statusWriter coalesces the agent's status writes: runners hand it their
// newest status and wait; one goroutine sends what is pending, the newest
// status of each allocation, in as few transactions as etcd allows. A
// burst of placements on a node costs a transaction or two instead of a
// write per transition.
type statusWriter struct {
	a *Agent

	mu      sync.Mutex
	running bool
	pending map[string]*api.AllocStatus
	waiters []chan error
	kick    chan struct{}
	// relayOff is until when (unix nanoseconds) writes skip the relay
	// after it failed.
	relayOff atomic.Int64
}

// relayTimeout bounds one relay request: longer than a server's own
// bound on its transaction, so that the server answers first.
const relayTimeout = 10 * time.Second

// relayPause is how long the agent writes to etcd itself after the relay
// failed, and relayRefusedPause after the servers refused it for good
// (a node they do not know the password of, servers without a relay):
// asking again at every write would double its writes and fill the log.
const (
	relayPause        = 30 * time.Second
	relayRefusedPause = 10 * time.Minute
)

func newStatusWriter(a *Agent) *statusWriter {
	return &statusWriter{a: a, pending: map[string]*api.AllocStatus{}, kick: make(chan struct{}, 1)}
}

// write records an allocation's status and waits until it is written (or
// given up on after retries), or ctx ends.
func (w *statusWriter) write(ctx context.Context, allocID string, st *api.AllocStatus) error {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		return w.send(ctx, map[string]*api.AllocStatus{allocID: st})
	}
	w.pending[allocID] = st
	done := make(chan error, 1)
	w.waiters = append(w.waiters, done)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run sends pending statuses until ctx ends, then hands what is left to
// direct writes.
func (w *statusWriter) run(ctx context.Context) {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
		w.flush(context.Background())
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		loop.Sleep(ctx, statusWindow)
		w.flush(ctx)
	}
}

func (w *statusWriter) flush(ctx context.Context) {
	w.mu.Lock()
	batch, waiters := w.pending, w.waiters
	w.pending, w.waiters = map[string]*api.AllocStatus{}, nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := w.send(context.WithoutCancel(ctx), batch)
	for _, done := range waiters {
		done <- err
	}
}

// send writes a batch through the relay, or else to etcd, retrying a few
// times.
func (w *statusWriter) send(ctx context.Context, batch map[string]*api.AllocStatus) error {
	if relay := w.a.cfg.StatusRelay; relay != nil && time.Now().UnixNano() >= w.relayOff.Load() {
		c, cancel := context.WithTimeout(ctx, relayTimeout)
		err := relay.PutAllocStatuses(c, w.a.cfg.NodeID, batch)
		cancel()
		if err == nil {
			metricStatusWrites.Add(float64(len(batch)))
			metricStatusRelayed.Add(float64(len(batch)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pause := relayPause
		var refused interface{ Permanent() bool }
		if errors.As(err, &refused) && refused.Permanent() {
			pause = relayRefusedPause
		}
		w.relayOff.Store(time.Now().Add(pause).UnixNano())
		slog.Warn("status relay failed: writing statuses to etcd, and so for a while", "pause", pause, "err", err)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = w.a.store.PutAllocStatuses(c, w.a.cfg.NodeID, batch)
		cancel()
		if err == nil {
			metricStatusWrites.Add(float64(len(batch)))
			return nil
		}
		slog.Warn("writing allocation statuses", "count", len(batch), "err", err)
		if !loop.Sleep(ctx, time.Duration(attempt+1)*200*time.Millisecond) {
			break
		}
	}
	return err
}
