package logmon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// levels are the levels nomad monitor -log-level names, as Go's log
// levels (trace is debug: nomadic logs nothing below debug).
var levels = map[string]slog.Level{
	"trace": slog.LevelDebug, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "error": slog.LevelError,
}

// ParseLevel reads a level as nomad monitor names it (any case; "" is
// info).
func ParseLevel(name string) (slog.Level, bool) {
	if name == "" {
		return slog.LevelInfo, true
	}
	l, ok := levels[strings.ToLower(name)]
	return l, ok
}

// LevelName is a level as ParseLevel reads it.
func LevelName(l slog.Level) string {
	switch {
	case l <= slog.LevelDebug:
		return "debug"
	case l <= slog.LevelInfo:
		return "info"
	case l <= slog.LevelWarn:
		return "warn"
	}
	return "error"
}

// Pump hands f's lines to send until ctx ends or send fails. Every
// heartbeat it sends a line telling how many lines were dropped since the
// last, if any, or else nil (a heartbeat, for senders that have one).
func (f *Follower) Pump(ctx context.Context, heartbeat time.Duration, send func(line []byte) error) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var line []byte
			if n := f.Dropped(); n > 0 {
				line = fmt.Appendf(nil, "[WARN] monitor: %d log lines dropped: this follower fell behind\n", n)
			}
			if send(line) != nil {
				return
			}
		case line := <-f.Lines():
			if send(line) != nil {
				return
			}
		}
	}
}
