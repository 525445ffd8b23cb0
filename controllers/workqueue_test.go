package controllers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestQueueNeverWorksAKeyTwiceAtOnceAndRetriesFailures(t *testing.T) {
	q := newQueue()
	q.baseDelay = time.Millisecond
	var active, maxActive, calls atomic.Int32
	var mu sync.Mutex
	failuresLeft := 3
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runWorkers(ctx, q, 4, func(context.Context, string) error {
			n := active.Add(1)
			defer active.Add(-1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
			calls.Add(1)
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if failuresLeft > 0 {
				failuresLeft--
				return errors.New("transient")
			}
			return nil
		})
	}()
	for range 20 {
		q.add("k")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		left := failuresLeft
		mu.Unlock()
		if left == 0 && active.Load() == 0 && calls.Load() >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retries did not happen: %d calls, %d failures left", calls.Load(), left)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if maxActive.Load() != 1 {
		t.Fatalf("key worked by %d workers at once", maxActive.Load())
	}
	// 20 adds while queued or working merge into few runs: 3 failures
	// plus at most a couple of successful ones.
	if c := calls.Load(); c > 6 {
		t.Fatalf("adds did not merge: %d calls", c)
	}
}
