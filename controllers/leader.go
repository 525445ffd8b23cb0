package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Leader campaigns in the servers' election and, while it leads, runs the
// singleton controllers. An election is not a lock (a paused leader can be
// deposed without noticing), so every write of a singleton controller is a
// transaction that also compares the leader's election key: a deposed
// leader's writes fail.
type Leader struct {
	Session *concurrency.Session
	Prefix  string
	Name    string
	// Run runs the singleton controllers until ctx ends; guard holds
	// while this server leads.
	Singletons func(ctx context.Context, guard clientv3.Cmp)
}

// Run campaigns until ctx ends.
func (l *Leader) Run(ctx context.Context) {
	e := concurrency.NewElection(l.Session, l.Prefix)
	for ctx.Err() == nil {
		if err := e.Campaign(ctx, l.Name); err != nil {
			if ctx.Err() == nil {
				slog.Warn("election campaign failed", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		slog.Info("elected leader", "server", l.Name)
		lctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			// Leadership ends if our key goes (force-leave, lease loss).
			wch := l.Session.Client().Watch(clientv3.WithRequireLeader(lctx), e.Key(), clientv3.WithRev(e.Rev()))
			for resp := range wch {
				if resp.Err() != nil {
					return
				}
				for _, ev := range resp.Events {
					if ev.Type == clientv3.EventTypeDelete {
						return
					}
				}
			}
		}()
		guard := clientv3.Compare(clientv3.CreateRevision(e.Key()), "=", e.Rev())
		l.Singletons(lctx, guard)
		cancel()
		wg.Wait()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = e.Resign(rctx)
		rcancel()
		slog.Info("leadership ended", "server", l.Name)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
