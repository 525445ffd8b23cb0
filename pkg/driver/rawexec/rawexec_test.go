package rawexec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/driver"
)

func taskConfig(t *testing.T, config map[string]any) *driver.TaskConfig {
	dir := t.TempDir()
	return &driver.TaskConfig{AllocID: "a", TaskName: "t", Config: config, Env: append(os.Environ(), "GREETING=hi"), Dir: dir,
		StdoutPath: filepath.Join(dir, "out"), StderrPath: filepath.Join(dir, "err")}
}

func TestRunsACommandToItsExitCodeWithOutputInTheLogs(t *testing.T) {
	d := &Driver{Enabled: true}
	tc := taskConfig(t, map[string]any{"command": "sh", "args": []any{"-c", "echo $GREETING; echo oops >&2; exit 3"}})
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Wait(context.Background())
	if err != nil || res.ExitCode != 3 || res.Successful() {
		t.Fatalf("result %+v, err %v", res, err)
	}
	out, _ := os.ReadFile(tc.StdoutPath)
	errOut, _ := os.ReadFile(tc.StderrPath)
	if strings.TrimSpace(string(out)) != "hi" || strings.TrimSpace(string(errOut)) != "oops" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
}

func TestStopEscalatesToSIGKILLAfterTheTimeout(t *testing.T) {
	d := &Driver{Enabled: true}
	h, err := d.Start(context.Background(), taskConfig(t, map[string]any{"command": "sh", "args": []any{"-c", "trap '' TERM; sleep 30 & wait"}}))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the shell install its trap
	if err := h.Stop(context.Background(), syscall.SIGTERM, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res, _ := h.Wait(context.Background())
	if res.Signal != int(syscall.SIGKILL) {
		t.Fatalf("want SIGKILL, got %+v", res)
	}
}

func TestRecoverFindsARunningTaskAndNotAGoneOne(t *testing.T) {
	d := &Driver{Enabled: true}
	h, err := d.Start(context.Background(), taskConfig(t, map[string]any{"command": "sleep", "args": []any{"30"}}))
	if err != nil {
		t.Fatal(err)
	}
	state := h.State()
	r, err := d.Recover(context.Background(), state)
	if err != nil || r.PID() != h.PID() {
		t.Fatalf("recover: %v %v", r, err)
	}
	if err := h.Stop(context.Background(), syscall.SIGTERM, time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := r.Wait(ctx); err != nil || !res.Unknown {
		t.Fatalf("recovered handle after exit: %+v %v", res, err)
	}
	if _, err := d.Recover(context.Background(), state); err != driver.ErrTaskGone {
		t.Fatalf("recover of an exited task: %v", err)
	}
}

func TestBadConfigAndDisabledDriverAreRefused(t *testing.T) {
	for _, c := range []map[string]any{{}, {"command": 5}, {"command": "x", "args": "no"}, {"command": "x", "image": "y"}} {
		if err := (&Driver{Enabled: true}).Validate(c); err == nil {
			t.Errorf("config %v accepted", c)
		}
	}
	if _, err := (&Driver{}).Start(context.Background(), taskConfig(t, map[string]any{"command": "true"})); err == nil {
		t.Error("a disabled driver started a task")
	}
	if fp := (&Driver{}).Fingerprint(context.Background()); fp.Healthy || fp.Reason == "" {
		t.Errorf("disabled driver fingerprint: %+v", fp)
	}
	if _, err := (&Driver{Enabled: true}).Start(context.Background(), taskConfig(t, map[string]any{"command": "no-such-command-here"})); err == nil {
		t.Error("a missing command started")
	}
}
