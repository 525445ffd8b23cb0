package main

import (
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "delete job NAME [--purge]",
		Short: "Stop a job (its allocations stop); --purge also removes it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := kindOf(args[0])
			if err != nil {
				return err
			}
			if kind != "jobs" {
				return fmt.Errorf("only jobs can be deleted; nodes leave by stopping their agent")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			evalID, err := g.client().StopJob(ctx, g.namespace, args[1], purge)
			if err != nil {
				return err
			}
			verb := "stopped"
			if purge {
				verb = "purged"
			}
			if evalID == "" {
				fmt.Fprintf(g.out, "job/%s was already stopped\n", args[1])
				return nil
			}
			fmt.Fprintf(g.out, "job/%s %s (evaluation %s)\n", args[1], verb, api.ShortID(evalID))
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "remove the job and its history once its allocations stopped")
	return cmd
}
