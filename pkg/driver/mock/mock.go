// Package mock is a driver that runs no process: a task "runs" for a
// configured time and ends with a configured exit code. It serves tests
// and simulated nodes, where thousands of tasks must cost nothing.
package mock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
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
	var out config
	for k, v := range c {
		switch k {
		case "run_for":
			s, ok := v.(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil || d < 0 {
				return nil, fmt.Errorf("config.run_for must be a duration such as \"10s\"")
			}
			out.runFor = d
		case "exit_code":
			n, ok := v.(float64)
			if !ok || n < 0 || n > 255 || n != float64(int(n)) {
				return nil, fmt.Errorf("config.exit_code must be a whole number from 0 to 255")
			}
			out.exitCode = int(n)
		case "start_error":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("config.start_error must be a string")
			}
			out.startError = s
		case "stdout_string":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("config.stdout_string must be a string")
			}
			out.stdout = s
		default:
			return nil, fmt.Errorf("config.%s is not an option of the mock driver (run_for, exit_code, start_error, stdout_string)", k)
		}
	}
	return &out, nil
}

// Validate checks a mock configuration.
func (d *Driver) Validate(c map[string]any) error {
	_, err := parseConfig(c)
	return err
}

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
