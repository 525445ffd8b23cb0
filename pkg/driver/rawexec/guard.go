package rawexec

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// RunGuard is the task guard (Driver.Guard): it runs argv in its own
// process group and waits for it, ignoring the signals sent to the group
// (the task gets them itself), until the agent that started it dies — its
// parent is gone — when it kills the whole group. It exits as the task
// did. It is what `nomadic task-guard -- CMD ARGS` runs.
func RunGuard(argv []string) error {
	if len(argv) == 0 {
		return errors.New("task-guard: no command")
	}
	parent := os.Getppid()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("task-guard: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	orphaned := func() bool { return os.Getppid() != parent }
	for {
		select {
		case <-sigs:
			if orphaned() {
				// The agent died: nobody will stop the task.
				_ = syscall.Kill(-syscall.Getpgrp(), syscall.SIGKILL)
			}
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				ws := ee.Sys().(syscall.WaitStatus)
				if ws.Signaled() {
					signal.Reset(ws.Signal())
					_ = syscall.Kill(os.Getpid(), ws.Signal())
				}
				os.Exit(ws.ExitStatus())
			}
			if err != nil {
				return err
			}
			os.Exit(0)
		}
	}
}
