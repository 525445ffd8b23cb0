package main

import (
	"io"
	"os"
	"strings"
)

// noColor is --no-color.
var noColor bool

// ANSI colours of status words.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	reset  = "\x1b[0m"
)

var palette = map[string]string{
	"running": green, "ready": green, "successful": green, "complete": green, "healthy": green, "passing": green, "eligible": green,
	"pending": yellow, "paused": yellow, "warning": yellow, "blocked": yellow, "undecided": yellow,
	"failed": red, "lost": red, "down": red, "unhealthy": red, "cancelled": red, "critical": red, "ineligible": red,
}

// colorOn reports whether output to w is coloured: only on a terminal,
// and neither --no-color nor NO_COLOR (https://no-color.org) is set.
func colorOn(w io.Writer) bool {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// colorColumns colours the status words of an aligned table in the named
// columns. Colour codes go in after alignment, so they cannot shift it.
func colorColumns(table string, columns ...string) string {
	lines := strings.Split(table, "\n")
	if len(lines) < 2 {
		return table
	}
	var starts []int
	for _, c := range columns {
		if i := strings.Index(lines[0], c); i >= 0 && (i == 0 || lines[0][i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	for n := 1; n < len(lines); n++ {
		line := lines[n]
		// Right to left, so earlier offsets stay valid.
		for k := len(starts) - 1; k >= 0; k-- {
			i := starts[k]
			if i >= len(line) || (i > 0 && line[i-1] != ' ') {
				continue
			}
			end := strings.IndexByte(line[i:], ' ')
			if end < 0 {
				end = len(line) - i
			}
			word := line[i : i+end]
			if c := palette[word]; c != "" {
				line = line[:i] + c + word + reset + line[i+end:]
			}
		}
		lines[n] = line
	}
	return strings.Join(lines, "\n")
}
