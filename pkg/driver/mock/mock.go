// Package mock is a driver that runs no process: a task "runs" for a
// configured time and ends with a configured exit code. It serves tests
// and simulated nodes, where thousands of tasks must cost nothing.
package mock

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
)

// Name is the driver's name in job files.
const Name = "mock"

// Driver is the mock driver. Tasks it started are remembered by ID, so
// Recover finds them as long as the driver lives (a simulated agent
// restart in the same process).
type Driver struct {
	mu    sync.Mutex
	tasks map[string]*handle
	seq   int
}

// Name returns "mock".
func (d *Driver) Name() string { return Name }

// Fingerprint reports the mock driver healthy.
func (d *Driver) Fingerprint(context.Context) *api.DriverInfo {
	return &api.DriverInfo{Detected: true, Healthy: true}
}

type config struct {
	runFor     time.Duration // 0: until stopped
	exitCode   int
	startError string
	stdout     string
}

func parseConfig(c map[string]any) (*config, error) {
	v, err := drivercfg.Mock.Decode(c)
	if err != nil {
		return nil, err
	}
	return &config{runFor: v.Duration("run_for"), exitCode: v.Int("exit_code"),
		startError: v.String("start_error"), stdout: v.String("stdout_string")}, nil
}

// Validate checks a mock configuration.
func (d *Driver) Validate(c map[string]any) error { return drivercfg.Mock.Validate(c) }

// Start "starts" a task.
func (d *Driver) Start(_ context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	cfg, err := parseConfig(tc.Config)
	if err != nil {
		return nil, err
	}
	if cfg.startError != "" {
		return nil, errors.New(cfg.startError)
	}
	if cfg.stdout != "" && tc.StdoutPath != "" {
		if err := os.WriteFile(tc.StdoutPath, []byte(cfg.stdout), 0o640); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tasks == nil {
		d.tasks = map[string]*handle{}
	}
	d.seq++
	h := &handle{id: tc.AllocID + "/" + tc.TaskName + "/" + strconv.Itoa(d.seq), done: make(chan struct{})}
	d.tasks[h.id] = h
	if cfg.runFor > 0 {
		h.mu.Lock()
		h.timer = time.AfterFunc(cfg.runFor, func() { h.finish(&driver.ExitResult{ExitCode: cfg.exitCode}) })
		h.mu.Unlock()
	}
	return h, nil
}

// Recover finds a task this driver started.
func (d *Driver) Recover(_ context.Context, state map[string]string) (driver.Handle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.tasks[state["id"]]
	if h == nil {
		return nil, driver.ErrTaskGone
	}
	select {
	case <-h.done:
		return nil, driver.ErrTaskGone
	default:
	}
	return h, nil
}

type handle struct {
	id     string
	mu     sync.Mutex
	timer  *time.Timer
	once   sync.Once
	done   chan struct{}
	result *driver.ExitResult
}

func (h *handle) finish(r *driver.ExitResult) {
	h.once.Do(func() {
		h.result = r
		close(h.done)
	})
}

func (h *handle) PID() int                 { return 0 }
func (h *handle) State() map[string]string { return map[string]string{"id": h.id} }

func (h *handle) Wait(ctx context.Context) (*driver.ExitResult, error) {
	select {
	case <-h.done:
		return h.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Signal ends the task as if it died of the signal.
func (h *handle) Signal(sig os.Signal) error {
	h.mu.Lock()
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	s, _ := sig.(syscall.Signal)
	h.finish(&driver.ExitResult{ExitCode: 128 + int(s), Signal: int(s)})
	return nil
}

func (h *handle) Stop(_ context.Context, sig os.Signal, _ time.Duration) error { return h.Signal(sig) }
