package logmon

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestLinesReadAsNomadsAgentsWriteThem(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newTextHandler(&b)).With("server", "s1").WithGroup("http")
	r := slog.NewRecord(time.Date(2026, 12, 8, 3, 20, 0, 123e6, time.UTC), slog.LevelWarn, "request complete", 0)
	r.AddAttrs(slog.String("path", "/v1/jobs"), slog.String("err", "a b"), slog.Group("d", slog.Int("ms", 12)))
	if err := log.Handler().Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := `2026-12-08T03:20:00.123Z [WARN] request complete: server=s1 http.path=/v1/jobs http.err="a b" http.d.ms=12` + "\n"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	slog.New(newTextHandler(&b)).Debug("no attributes")
	if got := b.String(); len(got) < 30 || got[24:] != " [DEBUG] no attributes\n" {
		t.Fatalf("got %q", got)
	}
}
