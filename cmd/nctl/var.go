package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
)

func newVarCmd(g *globals) *cobra.Command {
	v := &cobra.Command{Use: "var", Short: "Variables: encrypted key/value items that jobs read from templates"}
	v.AddCommand(newVarPutCmd(g), newVarGetCmd(g), newVarListCmd(g), newVarPurgeCmd(g), newVarLockCmd(g))
	return v
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func checkOutput(o string) error {
	if o != "" && o != "json" {
		return fmt.Errorf("unknown output format %q (json)", o)
	}
	return nil
}

// parseItems reads a variable's items from the arguments after its path:
// @FILE (a JSON file, either {"items": {...}} or a flat object of
// strings), KEY=VALUE, and KEY=@FILE (the file's contents as the value);
// later arguments win.
func parseItems(args []string, stdin io.Reader) (map[string]string, error) {
	items := map[string]string{}
	for _, a := range args {
		if file, ok := strings.CutPrefix(a, "@"); ok {
			b, err := readArgFile(file, stdin)
			if err != nil {
				return nil, err
			}
			var spec struct {
				Items map[string]string `json:"items"`
			}
			if err := json.Unmarshal(b, &spec); err == nil && spec.Items != nil {
				for k, v := range spec.Items {
					items[k] = v
				}
				continue
			}
			var flat map[string]string
			if err := json.Unmarshal(b, &flat); err != nil {
				return nil, fmt.Errorf("%s is neither {\"items\": {...}} nor an object of strings: %w", file, err)
			}
			for k, v := range flat {
				items[k] = v
			}
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE, KEY=@FILE or @FILE", a)
		}
		if file, isFile := strings.CutPrefix(v, "@"); isFile {
			b, err := readArgFile(file, stdin)
			if err != nil {
				return nil, err
			}
			v = string(b)
		}
		items[k] = v
	}
	return items, nil
}

func readArgFile(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, 1<<20))
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

func newVarPutCmd(g *globals) *cobra.Command {
	var checkIndex int64
	var output string
	cmd := &cobra.Command{
		Use:   "put PATH [KEY=VALUE | KEY=@FILE | @FILE]...",
		Short: "Write a variable: its items replace what the path held",
		Example: `  nctl var put nomad/jobs/web password=s3cret user=web
  nctl var put nomad/jobs/web tls_key=@server.key
  nctl var put --check-index 42 nomad/jobs/web @web.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			items, err := parseItems(args[1:], cmd.InOrStdin())
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return errors.New("give the variable at least one item: KEY=VALUE, KEY=@FILE or @FILE")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			cas := int64(-1)
			if cmd.Flags().Changed("check-index") {
				cas = checkIndex
			}
			v, err := g.client().PutVar(ctx, &api.Variable{Namespace: g.namespace, Path: args[0], Items: items}, cas)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, v)
			}
			fmt.Fprintf(g.out, "var/%s written (index %d)\n", v.Path, v.ModifyIndex)
			return nil
		},
	}
	cmd.Flags().Int64Var(&checkIndex, "check-index", 0, "write only if the variable is at this modify index (0: only if it does not exist)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func newVarGetCmd(g *globals) *cobra.Command {
	var output, item string
	cmd := &cobra.Command{
		Use:   "get PATH",
		Short: "Show a variable and its items",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			v, err := g.client().Var(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			if item != "" {
				val, ok := v.Items[item]
				if !ok {
					return fmt.Errorf("variable %q has no item %q", v.Path, item)
				}
				fmt.Fprintln(g.out, val)
				return nil
			}
			if output == "json" {
				return printJSON(g.out, v)
			}
			fmt.Fprintf(g.out, "Namespace:     %s\nPath:          %s\nModify index:  %d\nModified:      %s\n", v.Namespace, v.Path, v.ModifyIndex, v.ModifyTime.Local().Format(time.RFC3339))
			if v.Lock != nil {
				fmt.Fprintf(g.out, "Lock:          held (ttl %v, until %s)\n", v.Lock.TTL.Std(), v.Lock.Expires.Local().Format(time.RFC3339))
			}
			fmt.Fprintln(g.out, "\nItems:")
			keys := make([]string, 0, len(v.Items))
			for k := range v.Items {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			for _, k := range keys {
				fmt.Fprintf(tw, "  %s\t= %s\n", k, v.Items[k])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&item, "item", "", "print only the value of this item")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func newVarListCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List the variables whose path starts with PREFIX (-n '*': of every namespace)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			ctx, cancel := g.ctx()
			defer cancel()
			list, err := g.client().Vars(ctx, g.namespace, prefix)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(g.errOut, "No variables found.")
				return nil
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAMESPACE\tPATH\tMODIFIED\tLOCKED")
			for _, v := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", v.Namespace, v.Path, v.ModifyTime.Local().Format(time.RFC3339), v.Lock != nil)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func newVarPurgeCmd(g *globals) *cobra.Command {
	var checkIndex int64
	cmd := &cobra.Command{
		Use:   "purge PATH",
		Short: "Delete a variable",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			cas := int64(-1)
			if cmd.Flags().Changed("check-index") {
				cas = checkIndex
			}
			if err := g.client().DeleteVar(ctx, g.namespace, args[0], cas); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "var/%s purged\n", args[0])
			return nil
		},
	}
	cmd.Flags().Int64Var(&checkIndex, "check-index", 0, "delete only if the variable is at this modify index")
	return cmd
}

func newVarLockCmd(g *globals) *cobra.Command {
	var ttl, delay time.Duration
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "lock PATH COMMAND [ARG]...",
		Short: "Run a command while holding the lock of a variable (one holder at a time across the cluster)",
		Long: `Acquire the lock of the variable at PATH (creating the variable if it does not exist), run
COMMAND while renewing the lock, and release it when COMMAND exits. If the lock cannot be renewed,
COMMAND is stopped. nctl exits with COMMAND's exit code.`,
		Example: `  nctl var lock locks/backup -- /usr/local/bin/backup.sh`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLocked(cmd.Context(), g, args[0], args[1:], ttl, delay, wait)
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 15*time.Second, "the lock lapses this long after the last renewal")
	cmd.Flags().DurationVar(&delay, "delay", 15*time.Second, "after the lock lapsed, nobody acquires it for this long")
	cmd.Flags().DurationVar(&wait, "wait", 0, "give up if the lock is not acquired within this long (0: wait forever)")
	return cmd
}

// runLocked acquires a variable's lock, runs a command while renewing it,
// and releases it.
func runLocked(ctx context.Context, g *globals, path string, command []string, ttl, delay, wait time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := g.client()
	want := &api.Variable{Namespace: g.namespace, Path: path, Lock: &api.VariableLock{TTL: api.Duration(ttl), LockDelay: api.Duration(delay)}}
	var deadline time.Time
	if wait > 0 {
		deadline = time.Now().Add(wait)
	}
	var held *api.Variable
	for backoff := 500 * time.Millisecond; ; backoff = min(backoff*2, ttl) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, err := c.LockVar(rctx, client.LockAcquire, want)
		cancel()
		if err == nil {
			held = v
			break
		}
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 409 {
			return err
		}
		if !deadline.IsZero() && time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("lock of %q not acquired within %v: %w", path, wait, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	lock := &api.Variable{Namespace: g.namespace, Path: path, Lock: &api.VariableLock{ID: held.Lock.ID}}
	release := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.LockVar(rctx, client.LockRelease, lock); err != nil {
			fmt.Fprintln(g.errOut, "releasing the lock:", err)
		}
	}
	defer release()

	child := exec.Command(command[0], command[1:]...)
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, g.out, g.errOut
	child.Env = append(os.Environ(), "NOMADIC_VAR_LOCK_PATH="+path)
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	renew := time.NewTicker(max(ttl/2, 500*time.Millisecond))
	defer renew.Stop()
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitCode()}
			}
			return err
		case <-renew.C:
			rctx, cancel := context.WithTimeout(ctx, ttl/2)
			_, err := c.LockVar(rctx, client.LockRenew, lock)
			cancel()
			if err != nil {
				fmt.Fprintln(g.errOut, "the lock could not be renewed; stopping the command:", err)
				_ = child.Process.Signal(syscall.SIGTERM)
				<-exited
				return &exitError{code: 1, err: errors.New("lost the lock of " + path)}
			}
		case <-ctx.Done():
			_ = child.Process.Signal(syscall.SIGTERM)
			<-exited
			return &exitError{code: 130}
		}
	}
}
