package main

import (
	"fmt"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

func newNamespaceCmd(g *globals) *cobra.Command {
	ns := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"ns"},
		Short:   "Namespaces: apply, delete (list them with nctl get namespaces)",
	}
	var description string
	var meta []string
	apply := &cobra.Command{
		Use:   "apply NAME [--description TEXT] [--meta key=value]...",
		Short: "Create a namespace, or update its description and meta (a management token when ACLs are on)",
		Example: `  nctl namespace apply prod --description "production services" --meta team=infra
  nctl apply -n prod -f web.hcl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := &api.Namespace{Name: args[0], Description: description}
			for _, m := range meta {
				k, v, ok := strings.Cut(m, "=")
				if !ok || k == "" {
					return fmt.Errorf("--meta %q: want key=value", m)
				}
				if n.Meta == nil {
					n.Meta = map[string]string{}
				}
				n.Meta[k] = v
			}
			if err := n.Validate(); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			if _, err := g.client().PutNamespace(ctx, n); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "namespace/%s applied\n", n.Name)
			return nil
		},
	}
	apply.Flags().StringVar(&description, "description", "", "what the namespace is for")
	apply.Flags().StringArrayVar(&meta, "meta", nil, "a meta value: key=value (repeatable)")
	ns.AddCommand(apply, &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a namespace created with apply; one with jobs is refused (purge them first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			if err := g.client().DeleteNamespace(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "namespace/%s deleted\n", args[0])
			return nil
		},
	})
	return ns
}
