package controllers

import (
	"context"
	"sync"
	"time"
)

// queue is a work queue of keys in the manner of client-go's: a key waits
// in the queue at most once, is never worked by two workers at once (a key
// added while it is being worked is worked again afterwards), and a key
// whose work failed comes back after a per-key exponential backoff.
type queue struct {
	mu        sync.Mutex
	cond      *sync.Cond
	order     []string
	queued    map[string]bool
	working   map[string]bool
	dirty     map[string]bool
	failures  map[string]int
	shutdown  bool
	baseDelay time.Duration
	maxDelay  time.Duration
	timers    map[string]*time.Timer
	due       map[string]time.Time // when each timer fires
}

func newQueue() *queue {
	q := &queue{
		queued:    map[string]bool{},
		working:   map[string]bool{},
		dirty:     map[string]bool{},
		failures:  map[string]int{},
		timers:    map[string]*time.Timer{},
		due:       map[string]time.Time{},
		baseDelay: 50 * time.Millisecond,
		maxDelay:  30 * time.Second,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues a key to be worked.
func (q *queue) add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	if q.working[key] {
		q.dirty[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.order = append(q.order, key)
	q.cond.Signal()
}

// addAfter queues a key once d has passed, unless it is already due
// sooner (a periodic addAfter of a key does not keep postponing it).
func (q *queue) addAfter(key string, d time.Duration) {
	if d <= 0 {
		q.add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if t := q.timers[key]; t != nil {
		if !q.due[key].After(at) {
			return
		}
		t.Stop()
	}
	q.timeLocked(key, d, at)
}

// timeLocked arms the key's timer.
func (q *queue) timeLocked(key string, d time.Duration, at time.Time) {
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.timers[key] == t {
			delete(q.timers, key)
			delete(q.due, key)
		}
		q.addLocked(key)
	})
	q.timers[key], q.due[key] = t, at
}

// get blocks until a key is ready and marks it as being worked. It returns
// false when the queue shut down.
func (q *queue) get() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key := q.order[0]
	q.order = q.order[1:]
	delete(q.queued, key)
	q.working[key] = true
	return key, true
}

// done ends the work on a key. With err nil the key's failure count is
// reset; otherwise the key comes back after its backoff.
func (q *queue) done(key string, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.working, key)
	if err != nil {
		q.failures[key]++
		delay := q.baseDelay << min(q.failures[key]-1, 20)
		delay = min(delay, q.maxDelay)
		if t := q.timers[key]; t != nil {
			t.Stop()
		}
		q.timeLocked(key, delay, time.Now().Add(delay))
	} else {
		delete(q.failures, key)
	}
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// close wakes every waiting worker and drops pending retries.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for _, t := range q.timers {
		t.Stop()
	}
	q.cond.Broadcast()
}

// runWorkers runs n workers over the queue until ctx ends, and waits for
// them to return.
func runWorkers(ctx context.Context, q *queue, n int, work func(ctx context.Context, key string) error) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, ok := q.get()
				if !ok {
					return
				}
				q.done(key, work(ctx, key))
			}
		}()
	}
	<-ctx.Done()
	q.close()
	wg.Wait()
}
