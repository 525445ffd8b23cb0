package nodeagent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func TestLogsRotateAndReadInOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "alloc", "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cur := logPath(dir, "t", "stdout", 0)
	cfg := &api.LogConfig{MaxFiles: 3, MaxFileSizeMB: 1}
	chunk := strings.Repeat("x", 1<<20) + "\n"
	// Four generations of just over 1 MiB: only three files are kept.
	for gen := 0; gen < 4; gen++ {
		f, err := os.OpenFile(cur, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(string(rune('a'+gen)) + chunk); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := rotateLogs(dir, "t", cfg); err != nil {
			t.Fatal(err)
		}
	}
	if fi, _ := os.Stat(cur); fi.Size() != 0 {
		t.Fatalf("current file not truncated: %d bytes", fi.Size())
	}
	if fileExists(logPath(dir, "t", "stdout", 3)) {
		t.Fatal("more files kept than max_files")
	}
	if err := os.WriteFile(cur, []byte("now\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := readLogs(context.Background(), &buf, dir, "t", "stdout", 0, false, 3); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Oldest kept first: generation c (file 2), d (file 1), then "now".
	if !strings.HasPrefix(out, "c") || !strings.Contains(out, "\nd") || !strings.HasSuffix(out, "now\n") {
		t.Fatalf("order of logs: starts %q, ends %q", out[:1], out[len(out)-8:])
	}
	buf.Reset()
	if err := readLogs(context.Background(), &buf, dir, "t", "stdout", 4, false, 3); err != nil || buf.String() != "now\n" {
		t.Fatalf("tail: %q %v", buf.String(), err)
	}
}

func TestFollowedLogsSeeAppendsAndRotations(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "alloc", "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cur := logPath(dir, "t", "stdout", 0)
	if err := os.WriteFile(cur, []byte("one\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	done := make(chan error, 1)
	go func() { done <- readLogs(ctx, pw, dir, "t", "stdout", 0, true, 2); pw.Close() }()
	var got []byte
	// readUntil reads the follower's output until it has want.
	readUntil := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		buf := make([]byte, 100)
		for !strings.HasSuffix(string(got), want) {
			if time.Now().After(deadline) {
				t.Fatalf("followed output %q, waiting for %q", got, want)
			}
			_ = pr.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := pr.Read(buf)
			got = append(got, buf[:n]...)
		}
	}
	readUntil("one\n")
	f, _ := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("two\n")
	f.Close()
	readUntil("two\n")
	// Rotation: the file starts over with something shorter.
	os.Truncate(cur, 0)
	os.WriteFile(cur, []byte("3\n"), 0o640)
	readUntil("3\n")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(got) != "one\ntwo\n3\n" {
		t.Fatalf("followed: %q", got)
	}
}
