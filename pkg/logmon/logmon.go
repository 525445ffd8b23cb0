// Package logmon hands an agent's log lines to whoever follows them (the
// Nomad API's /v1/agent/monitor, nomad monitor), each at the level it
// asks for, which may be lower than the level the agent logs at.
package logmon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// MaxFollowers bounds how many follow an agent's log at once.
const MaxFollowers = 32

// followerBuffer is how many lines a follower may fall behind before
// lines are dropped for it (and it is told how many).
const followerBuffer = 512

// Hub fans log records out to followers. Its zero value is not usable;
// get one from NewHub.
type Hub struct {
	mu        sync.Mutex
	followers map[*Follower]bool
	// minText and minJSON are the lowest level any follower of each
	// format asks for (a level above every one while nobody follows):
	// what Enabled reads on every log call without the lock.
	minText, minJSON atomic.Int64

	// fmtMu serialises formatting: the sinks below carry the record
	// being formatted to its followers.
	fmtMu sync.Mutex
	text  *sink
	json  *sink
}

const nobody = int64(slog.LevelError + 1000)

// NewHub returns a hub nobody follows yet.
func NewHub() *Hub {
	h := &Hub{followers: map[*Follower]bool{}}
	h.text, h.json = &sink{hub: h}, &sink{hub: h, json: true}
	h.minText.Store(nobody)
	h.minJSON.Store(nobody)
	return h
}

// Follower receives the lines of the records at its level or above.
type Follower struct {
	hub     *Hub
	level   slog.Level
	json    bool
	lines   chan []byte
	dropped atomic.Int64
}

// Lines are the formatted lines, each ending in a newline.
func (f *Follower) Lines() <-chan []byte { return f.lines }

// Dropped returns and resets how many lines were dropped because the
// follower fell behind.
func (f *Follower) Dropped() int64 { return f.dropped.Swap(0) }

// Close stops the lines.
func (f *Follower) Close() {
	h := f.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.followers, f)
	h.recompute()
}

// Follow starts following at level, lines as JSON objects when json is
// set, else as text; ok is false when MaxFollowers already follow.
func (h *Hub) Follow(level slog.Level, json bool) (*Follower, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.followers) >= MaxFollowers {
		return nil, false
	}
	f := &Follower{hub: h, level: level, json: json, lines: make(chan []byte, followerBuffer)}
	h.followers[f] = true
	h.recompute()
	return f, true
}

func (h *Hub) recompute() {
	text, json := nobody, nobody
	for f := range h.followers {
		if f.json {
			json = min(json, int64(f.level))
		} else {
			text = min(text, int64(f.level))
		}
	}
	h.minText.Store(text)
	h.minJSON.Store(json)
}

// wants says whether a record at level has a follower of text lines and
// one of JSON lines.
func (h *Hub) wants(level slog.Level) (text, json bool) {
	return int64(level) >= h.minText.Load(), int64(level) >= h.minJSON.Load()
}

// sink is where the formatting handlers write; it hands each line to the
// followers of its format whose level the record has. level is the
// record's, set under fmtMu.
type sink struct {
	hub   *Hub
	json  bool
	level slog.Level
}

func (s *sink) Write(p []byte) (int, error) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var line []byte
	for f := range h.followers {
		if f.json != s.json || s.level < f.level {
			continue
		}
		if line == nil {
			line = append([]byte(nil), p...)
		}
		select {
		case f.lines <- line:
		default:
			f.dropped.Add(1)
		}
	}
	return len(p), nil
}

// Handler wraps inner, the agent's own log handler: records go to inner
// as before (at its level) and to the hub's followers (at theirs).
func (h *Hub) Handler(inner slog.Handler) slog.Handler {
	opts := &slog.HandlerOptions{Level: slog.Level(-100)}
	return &handler{inner: inner, hub: h, text: newTextHandler(h.text), json: slog.NewJSONHandler(h.json, opts)}
}

type handler struct {
	inner      slog.Handler
	hub        *Hub
	text, json slog.Handler
}

func (l *handler) Enabled(ctx context.Context, level slog.Level) bool {
	if l.inner.Enabled(ctx, level) {
		return true
	}
	text, json := l.hub.wants(level)
	return text || json
}

func (l *handler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if l.inner.Enabled(ctx, r.Level) {
		err = l.inner.Handle(ctx, r)
	}
	if text, json := l.hub.wants(r.Level); text || json {
		h := l.hub
		h.fmtMu.Lock()
		h.text.level, h.json.level = r.Level, r.Level
		if text {
			_ = l.text.Handle(ctx, r)
		}
		if json {
			_ = l.json.Handle(ctx, r)
		}
		h.fmtMu.Unlock()
	}
	return err
}

func (l *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{inner: l.inner.WithAttrs(as), hub: l.hub, text: l.text.WithAttrs(as), json: l.json.WithAttrs(as)}
}

func (l *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: l.inner.WithGroup(name), hub: l.hub, text: l.text.WithGroup(name), json: l.json.WithGroup(name)}
}
