package store

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress notifications.
//
// A watch progress notification says that every change up to its revision
// has been sent on the watch stream; the cache relies on it to know it
// holds etcd's current state when nothing under its prefix changed. etcd
// members before 3.4.31 (3.4 line) and 3.5.13 (3.5 line) may send one
// ahead of events still queued for the stream (etcd issues 15220 and
// 17507; Kubernetes reads from its watch cache only on those versions and
// later for the same reason). A reader that trusted it would see a state
// missing changes etcd had committed: a scheduling pass that does not see
// the allocations placed a moment before places their names again.
//
// So the members' versions are checked, and where one of them is older (or
// cannot be asked), progress notifications are not trusted: the cache
// learns how far it is from a write of its own — a put of one key under
// the prefix it watches, whose event comes in order with all others — and
// a watch resumes from the last event it saw rather than from a
// notification's revision.

// progressTrust remembers whether the members' versions make progress
// notifications trustworthy.
type progressTrust struct {
	mu       sync.Mutex
	checked  time.Time // zero: never
	checking bool
	trusted  bool
	forced   *bool // tests
}

// progressRecheck is how often the members' versions are asked again
// (members are upgraded one by one, endpoints change).
const progressRecheck = 5 * time.Minute

// progressTrusted reports whether this store's etcd endpoints send
// progress notifications in order with events. Until the first check has
// answered, they are not trusted; checks run in the background, so a
// caller never waits on one.
func (s *Store) progressTrusted() bool {
	t := &s.progress
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.forced != nil {
		return *t.forced
	}
	if !t.checking && (t.checked.IsZero() || time.Since(t.checked) > progressRecheck) {
		t.checking = true
		go s.checkProgress()
	}
	return t.trusted
}

// checkProgress asks every endpoint its etcd version.
func (s *Store) checkProgress() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps := s.statusEndpoints()
	trusted := true
	var old []string
	for _, ep := range eps {
		resp, err := s.cli.Status(ctx, ep)
		if err != nil {
			trusted = false
			old = append(old, ep+" (unreachable: "+err.Error()+")")
			continue
		}
		if !progressInOrder(resp.Version) {
			trusted = false
			old = append(old, ep+" ("+resp.Version+")")
		}
	}
	t := &s.progress
	t.mu.Lock()
	was, first := t.trusted, t.checked.IsZero()
	t.trusted, t.checked, t.checking = trusted, time.Now(), false
	t.mu.Unlock()
	if !trusted && (first || was) {
		slog.Info("etcd progress notifications not trusted: reads of the cache wait for a write of their own",
			"members", strings.Join(old, ", "))
	}
}

// progressInOrder reports whether an etcd version sends requested progress
// notifications in order with events: 3.4.31 and later in the 3.4 line,
// 3.5.13 and later in the 3.5 line, every release from 3.6 on.
func progressInOrder(version string) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 3 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	digits := strings.IndexFunc(parts[2], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[2])
	}
	patch, err3 := strconv.Atoi(parts[2][:digits]) // "23" of "3.4.23+git"
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	switch {
	case major != 3:
		return major > 3
	case minor == 4:
		return patch >= 31
	case minor == 5:
		return patch >= 13
	default:
		return minor > 5
	}
}

// tickKey is the key a cache puts to see how far its watch has come when
// progress notifications are not trusted. It parses as no kind, so
// nothing but the cache's revision takes notice of it.
func (k Keys) tickKey() string { return k.prefix + "/progress" }
