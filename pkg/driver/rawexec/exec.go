package rawexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/nomadic-project/nomadic/pkg/driver"
)

// Exec runs a command beside a raw_exec task: on the host, as the agent's
// user, with the task's environment and in its directory, as Nomad's
// raw_exec does. With a TTY the command runs on a pseudo-terminal.
func (d *Driver) Exec(ctx context.Context, _ driver.Handle, req *driver.ExecRequest) (int, error) {
	if !d.Enabled {
		return 0, errors.New("the raw_exec driver is disabled on this node")
	}
	if len(req.Cmd) == 0 {
		return 0, errors.New("exec needs a command")
	}
	env := append(os.Environ(), req.Env...)
	path := req.Cmd[0]
	if !strings.Contains(path, "/") {
		p, err := lookPath(path, env)
		if err != nil {
			return 0, err
		}
		path = p
	}
	cmd := exec.Command(path, req.Cmd[1:]...)
	cmd.Env, cmd.Dir = env, req.Dir
	// What the command leaves running with its output open does not hold
	// its end for long.
	cmd.WaitDelay = 2 * time.Second
	if req.TTY {
		return runOnPTY(ctx, cmd, req)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = req.Stdout, req.Stderr
	// A process group of its own: the end of ctx kills what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", req.Cmd[0], err)
	}
	// The caller's stdin is copied by a goroutine of ours, which Wait does
	// not wait for: a session that never closes its stdin does not hold
	// the command's end.
	go func() {
		_, _ = io.Copy(stdin, req.Stdin)
		stdin.Close()
	}()
	return wait(ctx, cmd)
}

// runOnPTY runs cmd with a pseudo-terminal as its stdin, stdout and
// stderr, resized as req asks.
func runOnPTY(ctx context.Context, cmd *exec.Cmd, req *driver.ExecRequest) (int, error) {
	ptmx, err := pty.Start(cmd)
	if err != nil {
		return 0, fmt.Errorf("starting %s on a terminal: %w", req.Cmd[0], err)
	}
	defer ptmx.Close()
	var copies sync.WaitGroup
	copies.Go(func() { _, _ = io.Copy(req.Stdout, ptmx) }) // ends with EIO once the command is gone
	go func() { _, _ = io.Copy(ptmx, req.Stdin) }()
	done := make(chan struct{})
	defer close(done)
	driver.ForwardResizes(req.Resize, done, func(sz driver.TerminalSize) {
		_ = pty.Setsize(ptmx, &pty.Winsize{Cols: sz.Width, Rows: sz.Height})
	})
	code, err := wait(ctx, cmd)
	// The output the command left in the terminal is read to its end
	// (the read fails once no process holds the terminal), for at most a
	// moment: something it left running may hold it.
	drained := make(chan struct{})
	go func() {
		copies.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	ptmx.Close()
	<-drained
	return code, err
}

// wait waits for cmd, killing its process group when ctx ends; the exit
// code of a command killed by a signal is 128 and the signal.
func wait(ctx context.Context, cmd *exec.Cmd) (int, error) {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-exited
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
	return 0, err
}
