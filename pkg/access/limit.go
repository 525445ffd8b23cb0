package access

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits the request rate of each token (of each client address
// for requests without one) with a token bucket: Rate requests a second,
// Burst at once.
type Limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets bounds the limiter's memory; past it, buckets idle for a
// minute are dropped.
const maxBuckets = 10000

// NewLimiter limits each key to perSecond requests a second, burst at
// once.
func NewLimiter(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*bucket{}, now: time.Now}
}

// ParseRate reads a rate such as "100/s", "6000/m" or "100".
func ParseRate(s string) (float64, error) {
	n, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("rate %q: want requests per second, such as 100/s or 6000/m", s)
	}
	switch unit {
	case "", "s":
		return v, nil
	case "m":
		return v / 60, nil
	case "h":
		return v / 3600, nil
	}
	return 0, fmt.Errorf("rate %q: the unit is s, m or h", s)
}

func (l *Limiter) String() string {
	return fmt.Sprintf("%g requests a second, %d at once", float64(l.rate), l.burst)
}

// Allow takes a request from key's bucket; when there is none, it says
// how long until there is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			for k, ob := range l.buckets {
				if now.Sub(ob.seen) > time.Minute {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= maxBuckets {
				// A flood of distinct tokens: start over rather than
				// grow without bound.
				clear(l.buckets)
			}
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
