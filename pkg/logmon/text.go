package logmon

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// textHandler writes records as Nomad's agents write their log lines, the
// form nomad monitor users read: a time, the level in brackets, the
// message, then the attributes as key=value:
//
//	2026-12-08T03:20:00.123Z [DEBUG] placing allocations: job=web count=3
type textHandler struct {
	w      io.Writer
	attrs  string // preformatted, each with a leading space
	prefix string // the open groups, "a.b."
}

func newTextHandler(w io.Writer) *textHandler { return &textHandler{w: w} }

func (h *textHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString(" [")
	b.WriteString(levelWord(r.Level))
	b.WriteString("] ")
	b.WriteString(r.Message)
	attrs := h.attrs
	if r.NumAttrs() > 0 {
		var a strings.Builder
		r.Attrs(func(at slog.Attr) bool {
			writeAttr(&a, h.prefix, at)
			return true
		})
		attrs += a.String()
	}
	if attrs != "" {
		b.WriteString(":")
		b.WriteString(attrs)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var a strings.Builder
	for _, at := range as {
		writeAttr(&a, h.prefix, at)
	}
	return &textHandler{w: h.w, attrs: h.attrs + a.String(), prefix: h.prefix}
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &textHandler{w: h.w, attrs: h.attrs, prefix: h.prefix + name + "."}
}

// writeAttr writes " key=value", a group's attributes each under its
// name, a value with spaces, quotes or = quoted.
func writeAttr(b *strings.Builder, prefix string, at slog.Attr) {
	v := at.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if at.Key != "" {
			p += at.Key + "."
		}
		for _, g := range v.Group() {
			writeAttr(b, p, g)
		}
		return
	}
	if at.Key == "" {
		return
	}
	s := v.String()
	if v.Kind() == slog.KindTime {
		s = v.Time().UTC().Format(time.RFC3339Nano)
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = strconv.Quote(s)
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(at.Key)
	b.WriteByte('=')
	b.WriteString(s)
}

func levelWord(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	}
	return "ERROR"
}
