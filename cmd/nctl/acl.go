package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

func newACLCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "acl", Short: "ACL policies and tokens (servers started with -acl; docs/security.md)"}
	c.AddCommand(newACLBootstrapCmd(g), newACLPolicyCmd(g), newACLRoleCmd(g), newACLTokenCmd(g))
	return c
}

func newACLBootstrapCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Make the cluster's first management token (once); its secret is shown only now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			t, err := g.client().ACLBootstrap(ctx)
			if err != nil {
				return err
			}
			return printToken(g, t, output, true)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func printToken(g *globals, t *api.ACLToken, output string, secret bool) error {
	if output == "json" {
		return printJSON(g.out, t)
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Accessor ID\t%s\n", t.AccessorID)
	if secret {
		fmt.Fprintf(tw, "Secret ID\t%s\n", t.SecretID)
	}
	fmt.Fprintf(tw, "Name\t%s\n", t.Name)
	fmt.Fprintf(tw, "Type\t%s\n", t.Type)
	fmt.Fprintf(tw, "Policies\t%s\n", strings.Join(t.Policies, ", "))
	if len(t.Roles) > 0 {
		fmt.Fprintf(tw, "Roles\t%s\n", roleNames(t.Roles))
	}
	if !t.CreateTime.IsZero() {
		fmt.Fprintf(tw, "Created\t%s\n", t.CreateTime.Local().Format(time.RFC3339))
	}
	exp := "never"
	if t.ExpirationTime != nil {
		exp = t.ExpirationTime.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "Expires\t%s\n", exp)
	if err := tw.Flush(); err != nil {
		return err
	}
	if secret {
		fmt.Fprintln(g.out, "\nThe secret is shown only now: keep it (nctl --token, NCTL_TOKEN).")
	}
	return nil
}

func newACLPolicyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "ACL policies"}
	var description, output string
	apply := &cobra.Command{
		Use:   "apply NAME FILE",
		Short: "Create or replace a policy from a file in Nomad's policy syntax (HCL or JSON; - reads stdin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if args[1] == "-" {
				b, err = io.ReadAll(os.Stdin)
			} else {
				b, err = os.ReadFile(args[1])
			}
			if err != nil {
				return err
			}
			if _, err := acl.Parse(args[1], string(b)); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			if _, err := g.client().PutACLPolicy(ctx, &api.ACLPolicy{Name: args[0], Description: description, Rules: string(b)}); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "ACL policy %q applied\n", args[0])
			return nil
		},
	}
	apply.Flags().StringVar(&description, "description", "", "what the policy is for")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			ps, err := g.client().ACLPolicies(ctx)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, ps)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Description)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	info := &cobra.Command{
		Use:   "info NAME",
		Short: "Show a policy and its rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			p, err := g.client().ACLPolicy(ctx, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, p)
			}
			fmt.Fprintf(g.out, "Name         %s\nDescription  %s\nRules\n\n%s\n", p.Name, p.Description, strings.TrimRight(p.Rules, "\n"))
			return nil
		},
	}
	info.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a policy (tokens naming it lose what it granted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			if err := g.client().DeleteACLPolicy(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "ACL policy %q deleted\n", args[0])
			return nil
		},
	}
	c.AddCommand(apply, list, info, del)
	return c
}

func roleNames(links []api.ACLRoleLink) string {
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.Name
	}
	return strings.Join(names, ", ")
}

func roleLinks(names []string) []api.ACLRoleLink {
	var out []api.ACLRoleLink
	for _, n := range names {
		out = append(out, api.ACLRoleLink{Name: n})
	}
	return out
}

func newACLRoleCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "role", Short: "ACL roles: named sets of policies that tokens link to"}
	var (
		name, description, output string
		policies                  []string
	)
	show := func(r *api.ACLRole) error {
		if output == "json" {
			return printJSON(g.out, r)
		}
		fmt.Fprintf(g.out, "ID           %s\nName         %s\nDescription  %s\nPolicies     %s\n", r.ID, r.Name, r.Description, strings.Join(r.Policies, ", "))
		return nil
	}
	create := &cobra.Command{
		Use:   "create --name NAME --policy P[,P]",
		Short: "Make a role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			r, err := g.client().PutACLRole(ctx, &api.ACLRole{Name: name, Description: description, Policies: policies})
			if err != nil {
				return err
			}
			return show(r)
		},
	}
	create.Flags().StringVar(&name, "name", "", "the role's name (tokens link it by name with --role)")
	create.Flags().StringVar(&description, "description", "", "what the role is for")
	create.Flags().StringSliceVar(&policies, "policy", nil, "a policy of the role (repeat, or comma-separate)")
	create.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	update := &cobra.Command{
		Use:   "update NAME [--name NEW] [--policy P[,P]] [--description D]",
		Short: "Change a role; the tokens linking it have its new policies at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			r, err := g.client().ACLRoleByName(ctx, args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				r.Name = name
			}
			if cmd.Flags().Changed("description") {
				r.Description = description
			}
			if cmd.Flags().Changed("policy") {
				r.Policies = policies
			}
			if r, err = g.client().PutACLRole(ctx, r); err != nil {
				return err
			}
			return show(r)
		},
	}
	update.Flags().StringVar(&name, "name", "", "the role's new name")
	update.Flags().StringVar(&description, "description", "", "what the role is for")
	update.Flags().StringSliceVar(&policies, "policy", nil, "the role's policies (replace the old)")
	update.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			rs, err := g.client().ACLRoles(ctx)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, rs)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPOLICIES\tDESCRIPTION")
			for _, r := range rs {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, strings.Join(r.Policies, ","), r.Description)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	info := &cobra.Command{
		Use:   "info NAME",
		Short: "Show a role",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			r, err := g.client().ACLRoleByName(ctx, args[0])
			if err != nil {
				return err
			}
			return show(r)
		},
	}
	info.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a role (tokens linking it lose its policies)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			r, err := g.client().ACLRoleByName(ctx, args[0])
			if err != nil {
				return err
			}
			if err := g.client().DeleteACLRole(ctx, r.ID); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "ACL role %q deleted\n", args[0])
			return nil
		},
	}
	c.AddCommand(create, update, list, info, del)
	return c
}

func newACLTokenCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "ACL tokens"}
	var (
		name, typ, output string
		policies, roles   []string
		ttl               time.Duration
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a token; its secret is shown only now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			t, err := g.client().CreateACLToken(ctx, &api.ACLToken{Name: name, Type: typ, Policies: policies, Roles: roleLinks(roles), ExpirationTTL: api.Duration(ttl)})
			if err != nil {
				return err
			}
			return printToken(g, t, output, true)
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringVar(&typ, "type", api.TokenClient, "client (its policies say what it may do) or management (everything)")
	create.Flags().StringSliceVar(&policies, "policy", nil, "a policy of the token (repeat, or comma-separate)")
	create.Flags().StringSliceVar(&roles, "role", nil, "a role of the token, by name (repeat, or comma-separate)")
	create.Flags().DurationVar(&ttl, "ttl", 0, "the token expires this long after its creation (e.g. 8h; default never)")
	create.Flags().StringVarP(&output, "output", "o", "", "output format: json")

	update := &cobra.Command{
		Use:   "update ACCESSOR",
		Short: "Change a token's name, type or policies (the flags given)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			cur, err := g.client().ACLToken(ctx, args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				cur.Name = name
			}
			if cmd.Flags().Changed("type") {
				cur.Type = typ
				if typ == api.TokenManagement {
					cur.Policies, cur.Roles = nil, nil
				}
			}
			if cmd.Flags().Changed("policy") {
				cur.Policies = policies
			}
			if cmd.Flags().Changed("role") {
				cur.Roles = roleLinks(roles)
			}
			t, err := g.client().UpdateACLToken(ctx, cur)
			if err != nil {
				return err
			}
			return printToken(g, t, output, false)
		},
	}
	update.Flags().StringVar(&name, "name", "", "the token's new name")
	update.Flags().StringVar(&typ, "type", api.TokenClient, "client or management")
	update.Flags().StringSliceVar(&policies, "policy", nil, "the token's policies (replace the old)")
	update.Flags().StringSliceVar(&roles, "role", nil, "the token's roles, by name (replace the old)")
	update.Flags().StringVarP(&output, "output", "o", "", "output format: json")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (without their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			ts, err := g.client().ACLTokens(ctx)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, ts)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "ACCESSOR\tNAME\tTYPE\tPOLICIES\tROLES\tEXPIRES")
			now := time.Now()
			for _, t := range ts {
				exp := "never"
				if t.ExpirationTime != nil {
					exp = t.ExpirationTime.Local().Format(time.RFC3339)
					if t.Expired(now) {
						exp += " (expired)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.AccessorID, t.Name, t.Type, strings.Join(t.Policies, ","), roleNames(t.Roles), exp)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	show := func(use, short string, accessor func([]string) string, nargs cobra.PositionalArgs) *cobra.Command {
		cmd := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  nargs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := checkOutput(output); err != nil {
					return err
				}
				ctx, cancel := g.ctx()
				defer cancel()
				t, err := g.client().ACLToken(ctx, accessor(args))
				if err != nil {
					return err
				}
				return printToken(g, t, output, false)
			},
		}
		cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
		return cmd
	}
	info := show("info ACCESSOR", "Show a token (not its secret)", func(a []string) string { return a[0] }, cobra.ExactArgs(1))
	self := show("self", "Show the token nctl uses", func([]string) string { return "self" }, cobra.NoArgs)
	del := &cobra.Command{
		Use:   "delete ACCESSOR",
		Short: "Delete a token: it is refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("say which token: its accessor ID")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			if err := g.client().DeleteACLToken(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "ACL token %s deleted\n", args[0])
			return nil
		},
	}
	c.AddCommand(create, update, list, info, self, del)
	return c
}
