package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/nomadic-project/nomadic/pkg/driver"
)

// Exec runs a command inside a running task's container (the containerd,
// docker and exec drivers' tasks): in its namespaces, root and cgroup,
// with its process's environment, user and working directory, as `nomad
// alloc exec` does with Docker's.
func (d *Driver) Exec(ctx context.Context, h driver.Handle, req *driver.ExecRequest) (int, error) {
	hh, ok := h.(*handle)
	if !ok {
		return 0, errors.New("not a task of this driver")
	}
	if len(req.Cmd) == 0 {
		return 0, errors.New("exec needs a command")
	}
	ctx = d.ns(ctx)
	spec, err := hh.container.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the task's container: %w", err)
	}
	if spec.Process == nil {
		return 0, errors.New("the task's container has no process")
	}
	p := *spec.Process
	p.Args = req.Cmd
	p.Terminal = req.TTY
	p.ConsoleSize = nil
	var id [6]byte
	_, _ = rand.Read(id[:])
	streams := []cio.Opt{cio.WithStreams(req.Stdin, req.Stdout, req.Stderr)}
	if req.TTY {
		streams = append(streams, cio.WithTerminal)
	}
	proc, err := hh.task.Exec(ctx, "exec-"+hex.EncodeToString(id[:]), &p, cio.NewCreator(streams...))
	if err != nil {
		return 0, fmt.Errorf("exec in the task: %w", err)
	}
	// Deleted with a context of its own: the caller's may be over.
	defer func() { _, _ = proc.Delete(d.ns(context.WithoutCancel(ctx)), containerd.WithProcessKill) }()
	statusC, err := proc.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("starting %s in the task: %w", req.Cmd[0], err)
	}
	done := make(chan struct{})
	defer close(done)
	driver.ForwardResizes(req.Resize, done, func(sz driver.TerminalSize) {
		_ = proc.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
	})
	select {
	case st := <-statusC:
		// The output the command wrote before it ended is copied out
		// before its exit is reported.
		if pio := proc.IO(); pio != nil {
			pio.Wait()
		}
		code, _, err := st.Result()
		return int(code), err
	case <-ctx.Done():
		_ = proc.Kill(d.ns(context.WithoutCancel(ctx)), 9)
		return 0, ctx.Err()
	}
}
