package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newServerCmd(g *globals) *cobra.Command {
	server := &cobra.Command{Use: "server", Short: "Server commands: members, force-leave"}
	server.AddCommand(&cobra.Command{
		Use:   "force-leave NAME",
		Short: "Remove a dead server: its membership (claims and leadership pass to the live servers) and its embedded etcd member",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			res, err := g.client().ForceLeave(ctx, args[0])
			if err != nil {
				return err
			}
			what := []string{}
			if res.Registration {
				what = append(what, "membership")
			}
			if res.EtcdMember != "" {
				what = append(what, "etcd member "+res.EtcdMember)
			}
			if len(what) == 0 {
				what = append(what, "nothing left to remove")
			}
			fmt.Fprintf(g.out, "server/%s removed: %s\n", args[0], strings.Join(what, ", "))
			return nil
		},
	})
	server.AddCommand(&cobra.Command{
		Use:   "members",
		Short: "List the live servers and which one leads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs, err := fetch(g, "servers", "", &getOpts{})
			if err != nil {
				return err
			}
			return printObjects(g.out, "servers", objs, false, "")
		},
	})
	return server
}
