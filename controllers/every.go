package controllers

import (
	"context"
	"log/slog"
	"time"
)

// every calls fn once per interval until ctx ends, logging failures
// that are not caused by ctx ending under the message what.
func every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				slog.Warn(what, "err", err)
			}
		}
	}
}
