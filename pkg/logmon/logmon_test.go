package logmon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestFollowersGetTheLinesOfTheirLevelBelowTheAgents(t *testing.T) {
	var out bytes.Buffer
	h := NewHub()
	log := slog.New(h.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))).With("agent", "a1")
	log.Info("before anyone follows")

	debug, _ := h.Follow(slog.LevelDebug, false)
	warn, _ := h.Follow(slog.LevelWarn, true)
	log.Debug("a debug line", "n", 1)
	log.WithGroup("g").Warn("a warning", "n", 2)

	if got := out.String(); strings.Contains(got, "debug") || !strings.Contains(got, "a warning") || strings.Contains(got, "before") {
		t.Fatalf("the agent's own log: %q", got)
	}
	lines := func(f *Follower) []string {
		var got []string
		for {
			select {
			case l := <-f.Lines():
				got = append(got, string(l))
			default:
				return got
			}
		}
	}
	d := lines(debug)
	if len(d) != 2 || !strings.Contains(d[0], "a debug line") || !strings.Contains(d[0], "agent=a1") || !strings.Contains(d[1], "g.n=2") {
		t.Fatalf("the debug follower's lines: %q", d)
	}
	w := lines(warn)
	var rec map[string]any
	if len(w) != 1 || json.Unmarshal([]byte(w[0]), &rec) != nil || rec["msg"] != "a warning" || rec["agent"] != "a1" {
		t.Fatalf("the JSON warn follower's lines: %q", w)
	}
	debug.Close()
	warn.Close()
	if text, json := h.wants(slog.LevelError); text || json {
		t.Fatal("the hub still formats records after its followers left")
	}
	if log.Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("info is enabled with nobody following")
	}
}

func TestASlowFollowerLosesLinesNotTheAgent(t *testing.T) {
	h := NewHub()
	log := slog.New(h.Handler(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	f, _ := h.Follow(slog.LevelInfo, false)
	defer f.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range followerBuffer {
				log.Info("x")
			}
		})
	}
	wg.Wait()
	if len(f.Lines()) != followerBuffer || f.Dropped() != 3*followerBuffer || f.Dropped() != 0 {
		t.Fatalf("%d lines buffered", len(f.Lines()))
	}
	var many []*Follower
	for {
		g, ok := h.Follow(slog.LevelInfo, false)
		if !ok {
			break
		}
		many = append(many, g)
	}
	if len(many) != MaxFollowers-1 {
		t.Fatalf("%d more followers taken", len(many))
	}
}
