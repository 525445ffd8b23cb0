// Package loop holds the timing helpers of nomadic's long-running parts:
// waiting that ends with its context, running something at an interval,
// retrying with backoff, and keeping a session (a lease) through etcd
// outages. Servers and node agents share them, so that they behave alike.
package loop

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Sleep waits for d, or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Every calls fn once per interval until ctx ends, logging failures that
// are not caused by ctx ending under the message what.
func Every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
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

// Backoff is a retry delay that doubles from Min up to Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the delay to wait now and doubles the next one.
func (b *Backoff) Next() time.Duration {
	if b.cur < b.Min {
		b.cur = b.Min
	}
	d := b.cur
	b.cur = min(b.cur*2, b.Max)
	return d
}

// Reset starts over from Min.
func (b *Backoff) Reset() { b.cur = b.Min }

// Session is a lease kept alive in the background: Done is closed when
// it is lost.
type Session interface {
	Done() <-chan struct{}
	Revoke(ctx context.Context) error
	Orphan()
}

// KeepSession runs run with a session opened by open, and with a new one
// each time the lease is lost, until ctx ends: the way a process stays
// registered through etcd outages. run's context ends when the lease is
// lost (or ctx ends); once run returns, the session is revoked (its keys
// vanish at once) when run says so, and orphaned otherwise (its keys stay
// until the TTL runs out). Opening is retried with backoff; what names
// the session in logs.
func KeepSession[S Session](ctx context.Context, what string, open func(context.Context) (S, error), run func(context.Context, S) (revoke bool)) {
	backoff := Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		sess, err := open(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d := backoff.Next()
				slog.Warn("cannot open "+what+" session; retrying", "err", err, "in", d)
				Sleep(ctx, d)
			}
			continue
		}
		backoff.Reset()
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-sess.Done():
				cancel()
			case <-sctx.Done():
			}
		}()
		revoke := run(sctx, sess)
		cancel()
		wg.Wait()
		if revoke {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = sess.Revoke(rctx)
			rcancel()
		}
		sess.Orphan()
	}
}

// WithStop returns a context that ends with ctx or when stop is closed
// (never for a nil stop): what a long request (a stream, a blocking
// query's wait) runs under on a server that ends them as it begins to
// shut down.
func WithStop(ctx context.Context, stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}
