package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
)

func newLogsCmd(g *globals) *cobra.Command {
	var follow, stderr bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs ALLOC [TASK]",
		Short: "Print a task's logs (the only task of the allocation when none is named)",
		Example: `  nctl logs 1a2b3c4d
  nctl logs 1a2b3c4d server --stderr --tail 20
  nctl logs 1a2b3c4d -f`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			task := ""
			if len(args) == 2 {
				task = args[1]
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			var tailBytes int64
			if tail > 0 {
				tailBytes = int64(max(tail*512, 64<<10))
			}
			body, err := g.client().Logs(ctx, args[0], task, stderr, follow, tailBytes)
			if err != nil {
				return err
			}
			defer body.Close()
			if tail > 0 {
				return copyTail(ctx, g.out, body, tail, follow)
			}
			_, err = io.Copy(g.out, body)
			if ctx.Err() != nil {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the task writes")
	cmd.Flags().BoolVar(&stderr, "stderr", false, "the standard error stream instead of standard output")
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last N lines")
	return cmd
}

// copyTail prints the last n lines of what is there now, then, with
// follow, everything after.
func copyTail(ctx context.Context, w io.Writer, r io.Reader, n int, follow bool) error {
	if !follow {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		_, err = w.Write(lastLines(b, n))
		return err
	}
	// The first read holds what the file had; later reads are new.
	buf := make([]byte, 256<<10)
	k, err := r.Read(buf)
	if k > 0 {
		if _, werr := w.Write(lastLines(buf[:k], n)); werr != nil {
			return werr
		}
	}
	if err != nil {
		return nil
	}
	_, err = io.Copy(w, r)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return append(b[i+1:], '\n')
			}
		}
	}
	if len(b) == 0 {
		return b
	}
	return append(b, '\n')
}
