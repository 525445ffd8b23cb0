package loop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffDoublesUpToItsMaximumAndResets(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 5 * time.Second}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Fatalf("after reset %v", d)
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("a cancelled sleep reported that it slept")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a short sleep did not pass")
	}
}

type fakeSession struct {
	done              chan struct{}
	revoked, orphaned atomic.Bool
}

func (s *fakeSession) Done() <-chan struct{}           { return s.done }
func (s *fakeSession) Revoke(context.Context) error    { s.revoked.Store(true); return nil }
func (s *fakeSession) Orphan()                         { s.orphaned.Store(true) }
func newFake() *fakeSession                            { return &fakeSession{done: make(chan struct{})} }
func (s *fakeSession) lose()                           { close(s.done) }
func (s *fakeSession) state() (revoked, orphaned bool) { return s.revoked.Load(), s.orphaned.Load() }

func TestKeepSessionOpensANewSessionWhenTheLeaseIsLost(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sessions := make(chan *fakeSession, 4)
	failures := 1
	open := func(context.Context) (*fakeSession, error) {
		if failures > 0 {
			failures--
			return nil, errors.New("etcd is away")
		}
		s := newFake()
		sessions <- s
		return s, nil
	}
	runs := make(chan *fakeSession, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		KeepSession(ctx, "test", open, func(ctx context.Context, s *fakeSession) bool {
			runs <- s
			<-ctx.Done()
			return false
		})
	}()
	first := <-runs
	first.lose()
	second := <-runs
	if second == first {
		t.Fatal("the lost session was used again")
	}
	if _, orphaned := first.state(); !orphaned {
		t.Fatal("the lost session was not let go")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("KeepSession did not end with its context")
	}
	if revoked, orphaned := second.state(); revoked || !orphaned {
		t.Fatalf("a session run asked to keep was revoked=%v orphaned=%v", revoked, orphaned)
	}
}

func TestKeepSessionRevokesWhenRunSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := newFake()
	done := make(chan struct{})
	go func() {
		defer close(done)
		KeepSession(ctx, "test", func(context.Context) (*fakeSession, error) { return s, nil }, func(ctx context.Context, _ *fakeSession) bool {
			cancel()
			<-ctx.Done()
			return true
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("KeepSession did not end")
	}
	if revoked, _ := s.state(); !revoked {
		t.Fatal("not revoked")
	}
}

func TestWithStopEndsWithEither(t *testing.T) {
	stop := make(chan struct{})
	ctx, cancel := WithStop(context.Background(), stop)
	defer cancel()
	select {
	case <-ctx.Done():
		t.Fatal("ended before either")
	case <-time.After(20 * time.Millisecond):
	}
	close(stop)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not end when stop closed")
	}
	parent, pcancel := context.WithCancel(context.Background())
	ctx2, cancel2 := WithStop(parent, nil)
	defer cancel2()
	pcancel()
	select {
	case <-ctx2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not end with its parent")
	}
}
