package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newAllocExecCmd(g *globals) *cobra.Command {
	var task string
	var interactive, tty bool
	cmd := &cobra.Command{
		Use:   "exec ALLOC [--task TASK] [-i] [-t] -- COMMAND [ARGS...]",
		Short: "Run a command inside a running task of an allocation, as nomad alloc exec does",
		Long: "Run a command inside a running task: in its container for the containerd, docker and exec drivers, on the node " +
			"with the task's environment and directory for raw_exec (which needs alloc-node-exec). stdin is passed on (-i, " +
			"the default); a terminal is used when stdin is one (-t to force). nctl exits with the command's exit code.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdinTerm := term.IsTerminal(int(os.Stdin.Fd()))
			if !cmd.Flags().Changed("tty") {
				tty = interactive && stdinTerm
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			o := client.ExecOptions{TTY: tty, Stdout: g.out, Stderr: g.errOut}
			if interactive {
				o.Stdin = os.Stdin
			}
			if tty && stdinTerm {
				// Keys go to the command as they are typed, Ctrl-C included.
				old, err := term.MakeRaw(int(os.Stdin.Fd()))
				if err != nil {
					return fmt.Errorf("putting the terminal in raw mode: %w", err)
				}
				defer func() { _ = term.Restore(int(os.Stdin.Fd()), old) }()
				resize := make(chan client.TerminalSize, 1)
				o.Resize = resize
				sizes := make(chan os.Signal, 1)
				signal.Notify(sizes, syscall.SIGWINCH)
				defer signal.Stop(sizes)
				sendSize := func() {
					if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
						select {
						case resize <- client.TerminalSize{Width: w, Height: h}:
						default:
						}
					}
				}
				sendSize()
				go func() {
					for range sizes {
						sendSize()
					}
				}()
			}
			code, err := g.client().Exec(ctx, args[0], task, args[1:], o)
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code: code} // the command's, printing nothing more
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "", "the task to run the command in (default: the allocation's only task)")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", true, "pass stdin on to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "run the command on a terminal (default: when stdin is one)")
	return cmd
}

func newAllocActionCmd(g *globals) *cobra.Command {
	var task string
	cmd := &cobra.Command{
		Use:   "action ALLOC NAME [--task TASK]",
		Short: "Run one of a task's action blocks in an allocation, as nomad action does",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			a, err := g.client().Alloc(ctx, args[0])
			if err != nil {
				cancel()
				return err
			}
			versions, err := g.client().JobVersions(ctx, a.Namespace, a.JobID)
			cancel()
			if err != nil {
				return err
			}
			var job *api.Job
			for _, v := range versions {
				if v.Version == a.JobVersion {
					job = v
				}
			}
			if job == nil {
				return fmt.Errorf("version %d of job %q, which allocation %s runs, is no longer kept", a.JobVersion, a.JobID, api.ShortID(a.ID))
			}
			g0 := job.LookupGroup(a.TaskGroup)
			var found *api.Action
			var names []string
			for _, t := range g0.Tasks {
				if task != "" && t.Name != task {
					continue
				}
				for _, x := range t.Actions {
					names = append(names, t.Name+"/"+x.Name)
					if x.Name == args[1] {
						if found != nil && task == "" {
							return fmt.Errorf("several tasks have an action %q: name the task with --task", args[1])
						}
						found, task = x, t.Name
					}
				}
			}
			if found == nil {
				return fmt.Errorf("allocation %s has no action %q (it has: %s)", api.ShortID(a.ID), args[1], strings.Join(names, ", "))
			}
			rctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			code, err := g.client().Exec(rctx, a.ID, task, append([]string{found.Command}, found.Args...), client.ExecOptions{Stdout: g.out, Stderr: g.errOut})
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "", "the task whose action it is (default: the one task that has it)")
	return cmd
}
