package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

func newAllocCmd(g *globals) *cobra.Command {
	alloc := &cobra.Command{Use: "alloc", Short: "Allocation commands: stop, restart, signal, fs, exec, action"}
	alloc.AddCommand(&cobra.Command{
		Use:   "fs ALLOC [PATH]",
		Short: "List a directory of an allocation (alloc/, alloc/logs/, <task>/local, ...), or print one of its files",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/"
			if len(args) == 2 {
				path = args[1]
			}
			ctx, cancel := g.ctx()
			defer cancel()
			fi, err := g.client().StatAllocFile(ctx, args[0], path)
			if err != nil {
				return err
			}
			if !fi.IsDir {
				// A file: its contents, as nomad alloc fs prints them.
				rctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				body, err := g.client().CatAllocFile(rctx, args[0], path)
				if err != nil {
					return err
				}
				defer body.Close()
				_, err = io.Copy(g.out, body)
				return err
			}
			files, err := g.client().ListAllocDir(ctx, args[0], path)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			defer tw.Flush()
			fmt.Fprintln(tw, "MODE\tSIZE\tMODIFIED\tNAME")
			for _, f := range files {
				name := f.Name
				if f.IsDir {
					name += "/"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.Mode, f.Size, f.ModTime.Local().Format(time.RFC3339), name)
			}
			return nil
		},
	})
	alloc.AddCommand(&cobra.Command{
		Use:   "stop ALLOC",
		Short: "Stop an allocation; the scheduler places a replacement if the job wants one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			a, err := g.client().StopAlloc(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "alloc/%s stopping\n", api.ShortID(a.ID))
			return nil
		},
	}, &cobra.Command{
		Use:   "restart ALLOC [TASK]",
		Short: "Restart an allocation's tasks in place, on the same node",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			task := ""
			if len(args) == 2 {
				task = args[1]
			}
			a, err := g.client().RestartAlloc(ctx, args[0], task)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "alloc/%s restart requested\n", api.ShortID(a.ID))
			return nil
		},
	})
	var sig string
	signal := &cobra.Command{
		Use:   "signal ALLOC [TASK] [-s SIGNAL]",
		Short: "Send a signal to an allocation's tasks",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			task := ""
			if len(args) == 2 {
				task = args[1]
			}
			s := strings.ToUpper(sig)
			if !strings.HasPrefix(s, "SIG") {
				s = "SIG" + s
			}
			a, err := g.client().SignalAlloc(ctx, args[0], task, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "alloc/%s %s sent\n", api.ShortID(a.ID), s)
			return nil
		},
	}
	signal.Flags().StringVarP(&sig, "signal", "s", "SIGTERM", "the signal, such as SIGHUP or HUP")
	alloc.AddCommand(signal, newAllocExecCmd(g), newAllocActionCmd(g))
	return alloc
}
