// Package driver defines what the node agent asks of a task driver: start a
// task, wait for it, signal and stop it, and find it again after an agent
// restart. Each driver is a package of its own under this one.
package driver

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// ErrTaskGone is returned by Recover when the task no longer exists: it
// exited while the agent was down.
var ErrTaskGone = errors.New("task is gone")

// TaskConfig is what a driver needs to start one task.
type TaskConfig struct {
	AllocID    string
	JobID      string
	JobVersion uint64
	TaskName   string
	Config     map[string]any
	// Env is the task's own environment: Nomad's runtime variables and
	// the task's env block. raw_exec adds the agent's environment.
	Env       []string
	Resources api.Resources
	User      string
	// Dir is the task's directory inside the allocation directory; its
	// local/ and secrets/ subdirectories and AllocDir (shared by the
	// group's tasks) are mounted into isolated tasks as /local, /secrets
	// and /alloc.
	Dir      string
	AllocDir string
	// StdoutPath and StderrPath are the files the task's output goes to.
	StdoutPath string
	StderrPath string
	// NetNS is the path of the allocation's network namespace, or "" for
	// the host's network.
	NetNS string
}

// ExitResult is how a task ended.
type ExitResult struct {
	ExitCode int
	Signal   int
	// Unknown is set when the exit code could not be observed, as for a
	// task re-attached after an agent restart.
	Unknown bool
	// OOMKilled is set when the kernel killed the task for exceeding its
	// memory limit.
	OOMKilled bool
	Err       error
}

// Successful reports whether the task ended well.
func (r *ExitResult) Successful() bool {
	return r.Err == nil && r.ExitCode == 0 && r.Signal == 0
}

// ExecRequest is a command to run inside a running task, as `nomad alloc
// exec` asks: its streams are the caller's, for as long as it runs.
type ExecRequest struct {
	Cmd []string
	// Env and Dir are the task's environment and directory, for drivers
	// whose tasks run on the host (raw_exec); isolated tasks keep theirs.
	Env []string
	Dir string
	// TTY runs the command on a terminal: its output comes on Stdout,
	// and Resize changes the terminal's size.
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan TerminalSize
}

// TerminalSize is the size of an exec session's terminal.
type TerminalSize struct{ Width, Height uint16 }

// ForwardResizes calls resize with each size of sizes until sizes is
// closed or done is; it returns at once, the forwarding goes on in a
// goroutine.
func ForwardResizes(sizes <-chan TerminalSize, done <-chan struct{}, resize func(TerminalSize)) {
	go func() {
		for {
			select {
			case sz, ok := <-sizes:
				if !ok {
					return
				}
				resize(sz)
			case <-done:
				return
			}
		}
	}()
}

// Execer is a driver that can run commands inside its running tasks. The
// command ends with ctx; the exit code is the command's.
type Execer interface {
	Exec(ctx context.Context, h Handle, req *ExecRequest) (exitCode int, err error)
}

// Handle is a running task.
type Handle interface {
	// PID is the task's main process, or 0 when there is none to show.
	PID() int
	// State is what Recover needs to find the task again; the agent
	// stores it with the allocation's status.
	State() map[string]string
	// Wait blocks until the task exits or ctx ends.
	Wait(ctx context.Context) (*ExitResult, error)
	// Signal sends a signal to the task.
	Signal(sig os.Signal) error
	// Stop sends sig, waits up to timeout for the task to exit, then kills
	// it.
	Stop(ctx context.Context, sig os.Signal, timeout time.Duration) error
}

// Driver runs tasks of one kind.
type Driver interface {
	Name() string
	// Fingerprint says whether the driver can run tasks on this node.
	Fingerprint(ctx context.Context) *api.DriverInfo
	// Validate checks a task's driver configuration.
	Validate(config map[string]any) error
	Start(ctx context.Context, cfg *TaskConfig) (Handle, error)
	// Recover finds a task started before an agent restart.
	Recover(ctx context.Context, state map[string]string) (Handle, error)
}

// Stop is the stop every driver does: signal sig, wait up to timeout for
// done to close, then send SIGKILL and wait up to killWait more. signal
// sends a signal to the task.
func Stop(ctx context.Context, done <-chan struct{}, signal func(os.Signal) error, sig os.Signal, timeout, killWait time.Duration) error {
	select {
	case <-done:
		return nil
	default:
	}
	if err := signal(sig); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	if err := signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(killWait):
		return errors.New("the task did not exit after SIGKILL")
	}
}
