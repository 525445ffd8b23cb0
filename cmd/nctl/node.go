package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
)

func newNodeCmd(g *globals) *cobra.Command {
	node := &cobra.Command{Use: "node", Short: "Node commands: drain, eligibility, purge"}
	var enable, disable, ignoreSystem, keepIneligible bool
	var deadline time.Duration
	drain := &cobra.Command{
		Use:   "drain NODE --enable [--deadline 1h] [--ignore-system] | --disable [--keep-ineligible]",
		Short: "Move a node's allocations elsewhere, per their migrate policy, and keep new ones away",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if enable == disable {
				return errors.New("say --enable or --disable")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			n, err := g.client().DrainNode(ctx, args[0], &client.DrainRequest{
				Enable: enable, Deadline: api.Duration(deadline), IgnoreSystemJobs: ignoreSystem, KeepIneligible: keepIneligible})
			if err != nil {
				return err
			}
			if enable {
				when := "no deadline"
				if !n.Drain.Deadline.IsZero() {
					when = "deadline " + n.Drain.Deadline.Local().Format(time.RFC3339)
				}
				fmt.Fprintf(g.out, "node/%s draining (%s); it takes no new allocations\n", n.Name, when)
			} else {
				fmt.Fprintf(g.out, "node/%s drain stopped; eligible: %v\n", n.Name, n.Eligible)
			}
			return nil
		},
	}
	drain.Flags().BoolVar(&enable, "enable", false, "start draining")
	drain.Flags().BoolVar(&disable, "disable", false, "stop draining")
	drain.Flags().DurationVar(&deadline, "deadline", time.Hour, "after this, what is left is stopped regardless of migrate policies (0: none)")
	drain.Flags().BoolVar(&ignoreSystem, "ignore-system", false, "leave system jobs' allocations on the node")
	drain.Flags().BoolVar(&keepIneligible, "keep-ineligible", false, "with --disable: leave the node ineligible")
	var elEnable, elDisable bool
	elig := &cobra.Command{
		Use:   "eligibility NODE --enable|--disable",
		Short: "Let a node take new allocations, or not (its running ones stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if elEnable == elDisable {
				return errors.New("say --enable or --disable")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			n, err := g.client().SetNodeEligibility(ctx, args[0], elEnable)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "node/%s eligible: %v\n", n.Name, n.Eligible)
			return nil
		},
	}
	elig.Flags().BoolVar(&elEnable, "enable", false, "eligible for new allocations")
	elig.Flags().BoolVar(&elDisable, "disable", false, "ineligible for new allocations")
	purge := &cobra.Command{
		Use:   "purge NODE",
		Short: "Remove a down node for good: its allocations are replaced, even while a mass outage holds the others'",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			res, err := g.client().PurgeNode(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "node/%s purged; %d job(s) evaluated\n", res.NodeID, len(res.EvalIDs))
			for _, id := range res.EvalIDs {
				fmt.Fprintf(g.out, "eval/%s\n", id)
			}
			return nil
		},
	}
	node.AddCommand(drain, elig, purge)
	return node
}
