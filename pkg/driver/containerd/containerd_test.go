package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/testutil/ctrtest"
)

var (
	ctrd    *ctrtest.Containerd
	archive string
)

func TestMain(m *testing.M) {
	if why := ctrtest.Available(); why != "" {
		if os.Getenv("NOMADIC_REQUIRE_CONTAINERD") != "" {
			fmt.Fprintln(os.Stderr, "containerd tests cannot run:", why)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping containerd tests:", why)
		os.Exit(0)
	}
	var err error
	ctrd, err = ctrtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	archive = filepath.Join(ctrd.Dir, "busybox.tar")
	if err := ctrtest.BuildImage(archive); err != nil {
		ctrd.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	ctrd.Stop()
	os.Exit(code)
}

func newDriver(t *testing.T) *Driver {
	d := &Driver{Address: ctrd.Address, Namespace: "nomadic-test"}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

var seq int

func taskConfig(t *testing.T, mem int, args ...string) *driver.TaskConfig {
	seq++
	dir := t.TempDir()
	for _, sub := range []string{"alloc", "task/local", "task/secrets"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &driver.TaskConfig{
		AllocID: fmt.Sprintf("alloc-%d-%d", os.Getpid(), seq), TaskName: "t", JobID: "j",
		Config:    map[string]any{"image": ctrtest.ImageRef, "image_archive": archive, "command": "sh", "args": toAny(args)},
		Env:       []string{"GREETING=hi", "NOMAD_ALLOC_DIR=/host/path/alloc"},
		Resources: api.Resources{CPU: 100, MemoryMB: mem},
		Dir:       filepath.Join(dir, "task"), AllocDir: filepath.Join(dir, "alloc"),
		StdoutPath: filepath.Join(dir, "alloc", "t.stdout.0"), StderrPath: filepath.Join(dir, "alloc", "t.stderr.0"),
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func wait(t *testing.T, h driver.Handle, d time.Duration) *driver.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res, err := h.Wait(ctx)
	if err != nil {
		t.Fatalf("task did not end within %v", d)
	}
	return res
}

func TestRunsToCompletionWithExitCodeLogsEnvAndMounts(t *testing.T) {
	d := newDriver(t)
	// stderr is written first: containerd's shim (1.6 and 1.7,
	// pkg/process/io.go copyPipes) gives the stdout copy the log file
	// itself rather than the counted closer it gives stderr, so the file
	// is closed when stdout ends and stderr still in its pipe then is
	// lost (seen once in a full suite). docs/drivers.md says so.
	tc := taskConfig(t, 64, "-c", `echo oops >&2; echo "$GREETING from $NOMAD_ALLOC_DIR"; echo data > /alloc/out; exit 7`)
	h, err := d.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	res := wait(t, h, 60*time.Second)
	if res.ExitCode != 7 || res.OOMKilled {
		t.Fatalf("result %+v", res)
	}
	// The exit is reported once the shim has written all of the output.
	out, _ := os.ReadFile(tc.StdoutPath)
	if !strings.Contains(string(out), "hi from /alloc") || !strings.Contains(string(out), "oops") {
		t.Fatalf("log: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(tc.AllocDir, "out")); strings.TrimSpace(string(b)) != "data" {
		t.Fatalf("/alloc is not the allocation directory: %q", b)
	}
}

func TestMemoryLimitIsEnforcedAndOOMReported(t *testing.T) {
	d := newDriver(t)
	// The string doubles until the 16 MiB limit kills the shell.
	h, err := d.Start(context.Background(), taskConfig(t, 16, "-c", `x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done`))
	if err != nil {
		t.Fatal(err)
	}
	res := wait(t, h, 60*time.Second)
	if !res.OOMKilled || res.ExitCode != 137 {
		t.Fatalf("want an OOM kill, got %+v", res)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	d := newDriver(t)
	h, err := d.Start(context.Background(), taskConfig(t, 32, "-c", `trap '' TERM; while true; do sleep 1; done`))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := h.Stop(context.Background(), syscall.SIGTERM, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	res := wait(t, h, 10*time.Second)
	if res.Signal != int(syscall.SIGKILL) || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("want SIGKILL after the timeout, got %+v after %v", res, time.Since(start))
	}
}

func TestRecoverReattachesAfterADriverRestart(t *testing.T) {
	d := newDriver(t)
	h, err := d.Start(context.Background(), taskConfig(t, 32, "-c", "sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	state := h.State()
	// A new driver, as after an agent restart.
	d2 := &Driver{Address: ctrd.Address, Namespace: "nomadic-test"}
	defer d2.Close()
	r, err := d2.Recover(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	if r.PID() != h.PID() || r.PID() == 0 {
		t.Fatalf("recovered pid %d, started %d", r.PID(), h.PID())
	}
	if err := r.Stop(context.Background(), syscall.SIGTERM, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// The shell is PID 1 of its container, which ignores SIGTERM: the
	// stop ends in SIGKILL.
	if res := wait(t, r, 10*time.Second); res.Signal == 0 {
		t.Fatalf("recovered task ended with %+v", res)
	}
	if _, err := d2.Recover(context.Background(), state); err != driver.ErrTaskGone {
		t.Fatalf("recover of a removed container: %v", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	d := &Driver{}
	for _, c := range []map[string]any{{}, {"image": 3}, {"image": "x", "args": "y"}, {"image": "x", "volumes": []any{}}} {
		if err := d.Validate(c); err == nil {
			t.Errorf("config %v accepted", c)
		}
	}
	if err := d.Validate(map[string]any{"image": "redis:7", "args": []any{"--port", 6379.0}}); err != nil {
		t.Errorf("good config refused: %v", err)
	}
	if fp := (&Driver{Address: "/nonexistent.sock"}).Fingerprint(context.Background()); fp.Healthy || fp.Reason == "" {
		t.Errorf("fingerprint without containerd: %+v", fp)
	}
}

func TestExecRunsAHostCommandIsolated(t *testing.T) {
	e := &ExecDriver{Driver: newDriver(t)}
	tc := taskConfig(t, 64)
	tc.Config = map[string]any{"command": "/bin/sh", "args": []any{"-c",
		`echo "pid $$"; touch /usr/nomadic-test 2>/dev/null && echo "usr writable" || echo "usr read-only"; echo ok > /alloc/exec; pwd; exit 4`}}
	h, err := e.Start(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	res := wait(t, h, 60*time.Second)
	out, _ := os.ReadFile(tc.StdoutPath)
	if res.ExitCode != 4 || !strings.Contains(string(out), "pid 1\n") || !strings.Contains(string(out), "usr read-only") ||
		!strings.Contains(string(out), "/local") {
		t.Fatalf("exit %+v, output %q", res, out)
	}
	if b, _ := os.ReadFile(filepath.Join(tc.AllocDir, "exec")); strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("alloc dir not shared: %q", b)
	}
	if _, err := os.Stat("/usr/nomadic-test"); err == nil {
		os.Remove("/usr/nomadic-test")
		t.Fatal("the task wrote into the host's /usr")
	}
}
