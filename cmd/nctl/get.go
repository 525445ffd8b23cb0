package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// resource kinds and their accepted names, as kubectl accepts plurals,
// singulars and short names.
var kinds = map[string]string{
	"job": "jobs", "jobs": "jobs",
	"alloc": "allocs", "allocs": "allocs", "allocation": "allocs", "allocations": "allocs",
	"node": "nodes", "nodes": "nodes", "no": "nodes",
	"eval": "evals", "evals": "evals", "evaluation": "evals", "evaluations": "evals",
	"server": "servers", "servers": "servers",
	"service": "services", "services": "services", "svc": "services",
	"deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
	"namespace": "namespaces", "namespaces": "namespaces", "ns": "namespaces",
}

func kindOf(s string) (string, error) {
	k, ok := kinds[strings.ToLower(s)]
	if !ok {
		return "", fmt.Errorf("unknown resource type %q (jobs, allocs, nodes, evals, deployments, services, servers, namespaces)", s)
	}
	return k, nil
}

type getOpts struct {
	watch  bool
	output string
	job    string
	node   string
	status string
}

func newGetCmd(g *globals) *cobra.Command {
	var o getOpts
	cmd := &cobra.Command{
		Use:   "get jobs|allocs|nodes|evals|deployments|services|servers|namespaces [NAME]",
		Short: "List resources, or show one",
		Example: `  nctl get jobs
  nctl get allocs --job example -o wide
  nctl get allocs -o json
  nctl get nodes`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := kindOf(args[0])
			if err != nil {
				return err
			}
			switch o.output {
			case "", "wide", "json", "yaml", "name":
			default:
				return fmt.Errorf("unknown output format %q (wide, json, yaml, name)", o.output)
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			if o.watch {
				return watch(cmd.Context(), g, kind, name, &o)
			}
			objs, err := fetch(g, kind, name, &o)
			if err != nil {
				return err
			}
			return printObjects(g.out, kind, objs, name != "", o.output)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, json, yaml or name")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after the list, print objects again as they change (Ctrl-C stops)")
	cmd.Flags().StringVar(&o.job, "job", "", "only allocations, evaluations or deployments of this job")
	cmd.Flags().StringVar(&o.node, "node", "", "only allocations on this node (ID, prefix or name)")
	cmd.Flags().StringVar(&o.status, "status", "", "only allocations in this client status")
	return cmd
}

// fetch reads the objects to show: a list, or one object when name is set.
func fetch(g *globals, kind, name string, o *getOpts) (any, error) {
	c := g.client()
	ctx, cancel := g.ctx()
	defer cancel()
	switch kind {
	case "jobs":
		if name != "" {
			j, err := c.Job(ctx, g.namespace, name)
			return []*api.Job{j}, err
		}
		return c.Jobs(ctx, g.namespace)
	case "allocs":
		if name != "" {
			a, err := c.Alloc(ctx, name)
			return []*api.Allocation{a}, err
		}
		return c.Allocs(ctx, client.AllocFilter{Namespace: g.namespace, Job: o.job, Node: o.node, Status: o.status})
	case "nodes":
		if name != "" {
			n, err := c.Node(ctx, name)
			return []*api.Node{n}, err
		}
		return c.Nodes(ctx)
	case "evals":
		if name != "" {
			e, err := c.Eval(ctx, name)
			return []*api.Evaluation{e}, err
		}
		ns := ""
		if o.job != "" {
			ns = g.namespace
		}
		return c.Evals(ctx, ns, o.job)
	case "deployments":
		if name != "" {
			d, err := c.Deployment(ctx, name)
			return []*api.Deployment{d}, err
		}
		ns := ""
		if o.job != "" {
			ns = g.namespace
		}
		return c.Deployments(ctx, ns, o.job)
	case "servers":
		return c.Servers(ctx)
	case "namespaces":
		if name != "" {
			n, err := c.Namespace(ctx, name)
			return []*api.Namespace{n}, err
		}
		return c.Namespaces(ctx)
	case "services":
		if name != "" {
			return c.Service(ctx, g.namespace, name, false)
		}
		return c.Services(ctx, "")
	}
	return nil, fmt.Errorf("unknown kind %s", kind)
}

func printObjects(w io.Writer, kind string, objs any, single bool, output string) error {
	switch output {
	case "json", "yaml":
		var v any = objs
		if single {
			v = first(objs)
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if output == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	return printTable(w, objs, output, true)
}

func first(objs any) any {
	switch l := objs.(type) {
	case []*api.Job:
		return l[0]
	case []*api.Allocation:
		return l[0]
	case []*api.Node:
		return l[0]
	case []*api.Evaluation:
		return l[0]
	case []*api.Deployment:
		return l[0]
	case []*api.Namespace:
		return l[0]
	}
	return objs
}
