package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Leader campaigns in the servers' election and, while it leads, runs the
// singleton controllers. An election is not a lock (a paused leader can be
// deposed without noticing), so every write of a singleton controller
// carries the term's guard: a deposed leader's writes fail.
type Leader struct {
	Session *store.Session
	Name    string
	// Singletons runs the singleton controllers until ctx ends; guard
	// holds while this server leads.
	Singletons func(ctx context.Context, guard store.Guard)
}

// Run campaigns until ctx ends.
func (l *Leader) Run(ctx context.Context) {
	for ctx.Err() == nil {
		term, err := l.Session.Campaign(ctx, l.Name)
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("election campaign failed", "err", err)
				loop.Sleep(ctx, time.Second)
			}
			continue
		}
		slog.Info("elected leader", "server", l.Name)
		lctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Leadership ends if our key goes (force-leave, lease loss).
			select {
			case <-term.Lost():
				cancel()
			case <-lctx.Done():
			}
		}()
		l.Singletons(lctx, term.Guard())
		cancel()
		wg.Wait()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = term.Resign(rctx)
		rcancel()
		slog.Info("leadership ended", "server", l.Name)
	}
}
