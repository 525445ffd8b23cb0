// Package rawexec runs a task as a plain process of the host, with no
// isolation, as Nomad's raw_exec driver does. Like Nomad's, it is off unless
// the agent enables it (dev mode does).
package rawexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
)

// Name is the driver's name in job files.
const Name = "raw_exec"

// Driver is the raw_exec driver.
type Driver struct {
	// Enabled is false unless the agent's configuration enables the
	// driver; a disabled driver is reported as such.
	Enabled bool
	// Guard, when set, is the command line (such as ["nomadic",
	// "task-guard", "--"]) each task is started under: a guard that kills
	// the task's whole process group when the agent dies, so that a dev
	// agent's tasks die with it however it ends.
	Guard []string
}

// Name returns "raw_exec".
func (d *Driver) Name() string { return Name }

// Fingerprint reports the driver healthy when it is enabled.
func (d *Driver) Fingerprint(context.Context) *api.DriverInfo {
	if !d.Enabled {
		return &api.DriverInfo{Detected: true, Healthy: false, Reason: "disabled: start the agent with -enable-raw-exec (or -dev)"}
	}
	return &api.DriverInfo{Detected: true, Healthy: true}
}

type config struct {
	Command string
	Args    []string
}

func parseConfig(c map[string]any) (*config, error) {
	v, err := drivercfg.RawExec.Decode(c)
	if err != nil {
		return nil, err
	}
	return &config{Command: v.String("command"), Args: v.Strings("args")}, nil
}

// Validate checks a raw_exec configuration.
func (d *Driver) Validate(c map[string]any) error { return drivercfg.RawExec.Validate(c) }

// Start starts the task's command in a process group of its own, so that
// stopping it stops its children too, and so that it outlives an agent
// restart.
func (d *Driver) Start(_ context.Context, tc *driver.TaskConfig) (driver.Handle, error) {
	if !d.Enabled {
		return nil, errors.New("the raw_exec driver is disabled on this node")
	}
	c, err := parseConfig(tc.Config)
	if err != nil {
		return nil, err
	}
	path := c.Command
	if !strings.Contains(path, "/") {
		if path, err = lookPath(c.Command, append(os.Environ(), tc.Env...)); err != nil {
			return nil, err
		}
	}
	stdout, err := os.OpenFile(tc.StdoutPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening stdout log: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(tc.StderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening stderr log: %w", err)
	}
	defer stderr.Close()
	argv := append([]string{path}, c.Args...)
	attr := &syscall.SysProcAttr{Setpgid: true}
	if len(d.Guard) > 0 {
		argv = append(append([]string(nil), d.Guard...), argv...)
		// The guard learns of the agent's death by this signal.
		attr.Pdeathsig = syscall.SIGTERM
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), tc.Env...)
	cmd.Dir = tc.Dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.Command, err)
	}
	h := &handle{pid: cmd.Process.Pid, done: make(chan struct{})}
	h.startTime, _ = procStartTime(h.pid)
	go func() {
		err := cmd.Wait()
		res := &driver.ExitResult{}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			ws := ee.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				res.Signal = int(ws.Signal())
				res.ExitCode = 128 + res.Signal
			} else {
				res.ExitCode = ws.ExitStatus()
			}
		default:
			res.Err = err
			res.ExitCode = -1
		}
		h.finish(res)
	}()
	return h, nil
}

func lookPath(cmd string, env []string) (string, error) {
	pathEnv := os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			continue
		}
		p := dir + "/" + cmd
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH", cmd)
}

// Recover finds a process started before an agent restart, by its PID and
// start time (so a recycled PID is not mistaken for it). Its exit code
// cannot be observed: it is no child of this agent any more.
func (d *Driver) Recover(_ context.Context, state map[string]string) (driver.Handle, error) {
	pid, err := strconv.Atoi(state["pid"])
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("raw_exec handle has no pid: %w", driver.ErrTaskGone)
	}
	start, err := procStartTime(pid)
	if err != nil || strconv.FormatUint(start, 10) != state["start_time"] {
		return nil, driver.ErrTaskGone
	}
	h := &handle{pid: pid, startTime: start, done: make(chan struct{})}
	go h.poll()
	return h, nil
}

type handle struct {
	pid       int
	startTime uint64
	once      sync.Once
	done      chan struct{}
	result    *driver.ExitResult
}

func (h *handle) PID() int { return h.pid }

func (h *handle) State() map[string]string {
	return map[string]string{"pid": strconv.Itoa(h.pid), "start_time": strconv.FormatUint(h.startTime, 10)}
}

func (h *handle) finish(r *driver.ExitResult) {
	h.once.Do(func() {
		h.result = r
		close(h.done)
	})
}

// poll watches a re-attached process until it is gone.
func (h *handle) poll() {
	for {
		if st, err := procStartTime(h.pid); err != nil || st != h.startTime || isZombie(h.pid) {
			h.finish(&driver.ExitResult{Unknown: true})
			return
		}
		select {
		case <-h.done:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (h *handle) Wait(ctx context.Context) (*driver.ExitResult, error) {
	select {
	case <-h.done:
		return h.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *handle) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	if err := syscall.Kill(-h.pid, s); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func (h *handle) Stop(ctx context.Context, sig os.Signal, timeout time.Duration) error {
	return driver.Stop(ctx, h.done, h.Signal, sig, timeout, 5*time.Second)
}

// procStartTime reads a process's start time (in clock ticks since boot)
// from /proc.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	fields := strings.Fields(s[i+1:])
	// After the command name: state is field 3, starttime is field 22.
	if len(fields) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
