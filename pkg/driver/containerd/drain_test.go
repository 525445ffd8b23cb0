package containerd

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogDrainSeesTheWriterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var dw drainWatch
	defer dw.close()
	d := dw.watch(path)
	if d == nil {
		t.Fatal("no inotify watch")
	}
	// A reader's close is not the writer's.
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Fatal(b, err)
	}
	if _, err := w.WriteString("last line\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
		t.Fatal("drained before the writer closed")
	case <-time.After(100 * time.Millisecond):
	}
	w.Close()
	if !d.wait(10 * time.Second) {
		t.Fatal("the writer's close was not seen")
	}
}

func TestLogDrainWaitIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w drainWatch
	defer w.close()
	// Two tasks' watches share one inotify instance; each is released
	// after its wait.
	other := filepath.Join(t.TempDir(), "other")
	ow, err := os.Create(other)
	if err != nil {
		t.Fatal(err)
	}
	d, d2 := w.watch(path), w.watch(other)
	if d == nil || d2 == nil {
		t.Fatal("no inotify watch")
	}
	if d.wait(50 * time.Millisecond) {
		t.Fatal("drained with the writer still open")
	}
	ow.Close()
	if !d2.wait(10 * time.Second) {
		t.Fatal("the second file's close was not seen")
	}
	w.mu.Lock()
	left := len(w.watches)
	w.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d watches left after their waits", left)
	}
	if w.watch(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Fatal("a watch on a missing file")
	}
	// A closed instance ends the waits still pending.
	w2 := &drainWatch{}
	d3 := w2.watch(path)
	w2.close()
	if d3 == nil || !d3.wait(10*time.Second) {
		t.Fatal("a wait outlived its instance")
	}
	var none *logDrain
	none.close()
	if none.wait(time.Hour) {
		t.Fatal("a nil drain drained")
	}
}

// The exit is reported only once the shim has written all of the task's
// output: 4 MiB on each stream right before the exit are all in the log
// when Wait returns (containerd 1.6 gives the copy 2 s after the task's
// deletion, and the deletion came with the exit).
func TestExitIsReportedAfterTheLastOutput(t *testing.T) {
	d := newDriver(t)
	tc := taskConfig(t, 64, "-c", `head -c 4194304 /dev/zero; head -c 4194304 /dev/zero >&2; exit 3`)
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	res := wait(t, h, 60*time.Second)
	if res.ExitCode != 3 {
		t.Fatalf("result %+v", res)
	}
	if !h.(*handle).drained {
		t.Fatal("the task was deleted without the shim's close of its log")
	}
	fi, err := os.Stat(tc.StdoutPath)
	if err != nil || fi.Size() != 8<<20 {
		t.Fatalf("log at the exit: %v bytes (%v), want %d", fi.Size(), err, 8<<20)
	}
}
