package nodeagent

import (
	"context"
	"log/slog"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
)

// stopAfterLoop stops the allocations of groups with disconnect.stop_after
// once the node has been cut off from etcd (its lease lost) for that long:
// the servers may have replaced them elsewhere meanwhile, and the group
// asked not to run twice.
func (a *Agent) stopAfterLoop(ctx context.Context) {
	loop.Every(ctx, 500*time.Millisecond, "stop_after", func(context.Context) error {
		since := a.lostAt.Load()
		if since == 0 {
			return nil
		}
		away := time.Since(time.Unix(0, since))
		for _, r := range a.runnerList() {
			r.mu.Lock()
			g := r.group
			r.mu.Unlock()
			if g == nil || g.Disconnect == nil || g.Disconnect.StopAfter <= 0 || away < g.Disconnect.StopAfter.Std() || r.stopping() {
				continue
			}
			slog.Warn("stopping an allocation: its node was disconnected longer than disconnect.stop_after",
				"alloc", api.ShortID(r.current().ID), "away", away.Round(time.Second), "stop_after", g.Disconnect.StopAfter.Std())
			r.mu.Lock()
			r.stopWhy = "stopped: its node was disconnected longer than disconnect.stop_after"
			r.mu.Unlock()
			r.stop()
		}
		return nil
	})
}

// rewriteStatuses writes every allocation's status again.
func (a *Agent) rewriteStatuses(ctx context.Context) {
	for _, r := range a.runnerList() {
		r.writeStatus(ctx)
	}
}

func (a *Agent) runnerList() []*allocRunner {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*allocRunner, 0, len(a.runners))
	for _, r := range a.runners {
		out = append(out, r)
	}
	return out
}
