package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

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
}

func kindOf(s string) (string, error) {
	k, ok := kinds[strings.ToLower(s)]
	if !ok {
		return "", fmt.Errorf("unknown resource type %q (jobs, allocs, nodes, evals, deployments, services, servers)", s)
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
		Use:   "get jobs|allocs|nodes|evals|deployments|services|servers [NAME]",
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

// printTable prints objects as a table (or names), with or without the
// header line.
func printTable(w io.Writer, objs any, output string, header bool) error {
	if header && output != "name" && colorOn(w) {
		var b strings.Builder
		if err := printTable(&b, objs, output, header); err != nil {
			return err
		}
		_, err := io.WriteString(w, colorColumns(b.String(), "STATUS", "ELIGIBLE", "HEALTH"))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	wide := output == "wide"
	names := output == "name"
	now := nowFunc()
	row := func(cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")) }
	head := func(cols ...string) {
		if header {
			row(cols...)
		}
	}
	switch list := objs.(type) {
	case []*api.Job:
		if names {
			for _, j := range list {
				fmt.Fprintln(w, "job/"+j.ID)
			}
			return nil
		}
		hdr := []string{"NAME", "TYPE", "STATUS", "VERSION", "AGE"}
		if wide {
			hdr = append(hdr, "NAMESPACE", "PRIORITY", "DATACENTERS", "GROUPS")
		}
		head(hdr...)
		for _, j := range list {
			cols := []string{j.ID, j.Type, j.Status, fmt.Sprint(j.Version), age(now, j.SubmitTime)}
			if wide {
				var groups []string
				for _, gr := range j.Groups {
					groups = append(groups, fmt.Sprintf("%s×%d", gr.Name, gr.Count))
				}
				cols = append(cols, j.Namespace, fmt.Sprint(j.Priority), strings.Join(j.Datacenters, ","), strings.Join(groups, ","))
			}
			row(cols...)
		}
	case []*api.Allocation:
		if names {
			for _, a := range list {
				fmt.Fprintln(w, "alloc/"+a.ID)
			}
			return nil
		}
		hdr := []string{"ID", "NAME", "NODE", "DESIRED", "STATUS", "VERSION", "AGE"}
		if wide {
			hdr = append(hdr, "JOB", "GROUP", "CPU", "MEMORY", "DESCRIPTION")
		}
		head(hdr...)
		for _, a := range list {
			cols := []string{api.ShortID(a.ID), a.Name, api.ShortID(a.NodeID), a.DesiredStatus, a.ClientStatusOf(), fmt.Sprint(a.JobVersion), age(now, a.CreateTime)}
			if wide {
				desc := a.DesiredDescription
				if a.Status != nil && desc == "" {
					desc = a.Status.Description
				}
				cols = append(cols, a.JobID, a.TaskGroup, fmt.Sprint(a.Resources.CPU), fmt.Sprintf("%dMiB", a.Resources.MemoryMB), desc)
			}
			row(cols...)
		}
	case []*api.Node:
		if names {
			for _, n := range list {
				fmt.Fprintln(w, "node/"+n.ID)
			}
			return nil
		}
		hdr := []string{"ID", "NAME", "DATACENTER", "STATUS", "ELIGIBLE", "DRIVERS", "AGE"}
		if wide {
			hdr = append(hdr, "CPU", "MEMORY", "POOL", "ADDRESS")
		}
		head(hdr...)
		for _, n := range list {
			var drivers []string
			for name, d := range n.Drivers {
				if d.Healthy {
					drivers = append(drivers, name)
				}
			}
			sort.Strings(drivers)
			eligible := "eligible"
			if !n.Eligible {
				eligible = "ineligible"
			}
			cols := []string{api.ShortID(n.ID), n.Name, n.Datacenter, n.Status, eligible, strings.Join(drivers, ","), age(now, n.RegisterTime)}
			if wide {
				cols = append(cols, fmt.Sprintf("%dMHz", n.Resources.CPU), fmt.Sprintf("%dMiB", n.Resources.MemoryMB), n.NodePool, n.Attributes["unique.hostname"])
			}
			row(cols...)
		}
	case []*api.Evaluation:
		if names {
			for _, e := range list {
				fmt.Fprintln(w, "eval/"+e.ID)
			}
			return nil
		}
		hdr := []string{"ID", "JOB", "TRIGGERED BY", "STATUS", "PLACED", "STOPPED", "AGE"}
		if wide {
			hdr = append(hdr, "NODE", "DESCRIPTION")
		}
		head(hdr...)
		for _, e := range list {
			cols := []string{api.ShortID(e.ID), e.JobID, e.TriggeredBy, e.Status, fmt.Sprint(e.PlacedAllocs), fmt.Sprint(e.StoppedAllocs), age(now, e.CreateTime)}
			if wide {
				cols = append(cols, api.ShortID(e.NodeID), e.StatusDescription)
			}
			row(cols...)
		}
	case []*api.Deployment:
		if names {
			for _, d := range list {
				fmt.Fprintln(w, "deployment/"+d.ID)
			}
			return nil
		}
		hdr := []string{"ID", "JOB", "VERSION", "STATUS", "HEALTHY", "AGE"}
		if wide {
			hdr = append(hdr, "CANARIES", "DESCRIPTION")
		}
		head(hdr...)
		for _, d := range list {
			desired, healthy, canaries, promoted := 0, 0, 0, true
			for _, gr := range d.Groups {
				desired += gr.DesiredTotal
				healthy += gr.HealthyAllocs
				canaries += gr.DesiredCanaries
				promoted = promoted && !gr.RequiresPromotion()
			}
			cols := []string{api.ShortID(d.ID), d.JobID, fmt.Sprint(d.JobVersion), d.Status, fmt.Sprintf("%d/%d", healthy, desired), age(now, d.CreateTime)}
			if wide {
				c := "-"
				if canaries > 0 {
					c = fmt.Sprintf("%d (promoted: %v)", canaries, promoted)
				}
				cols = append(cols, c, d.StatusDescription)
			}
			row(cols...)
		}
	case []*api.Server:
		if names {
			for _, s := range list {
				fmt.Fprintln(w, "server/"+s.Name)
			}
			return nil
		}
		head("NAME", "ADDRESS", "LEADER", "VERSION", "AGE")
		for _, s := range list {
			row(s.Name, s.HTTPAddr, fmt.Sprint(s.Leader), s.Version, age(now, s.StartTime))
		}
	case []*client.ServiceSummary:
		if names {
			for _, s := range list {
				fmt.Fprintln(w, "service/"+s.Name)
			}
			return nil
		}
		head("NAME", "NAMESPACE", "INSTANCES", "HEALTHY", "TAGS")
		for _, s := range list {
			row(s.Name, s.Namespace, fmt.Sprint(s.Instances), fmt.Sprint(s.Healthy), strings.Join(s.Tags, ","))
		}
	case []*api.ServiceRegistration:
		if names {
			for _, s := range list {
				fmt.Fprintln(w, "instance/"+s.ID)
			}
			return nil
		}
		head("SERVICE", "ADDRESS", "ALLOC", "NODE", "HEALTH", "CHECKS")
		for _, s := range list {
			health := "healthy"
			if !s.Healthy() {
				health = "unhealthy"
			}
			var checks []string
			for _, c := range s.Checks {
				checks = append(checks, c.Name+"="+c.Status)
			}
			row(s.ServiceName, net.JoinHostPort(s.Address, fmt.Sprint(s.Port)), api.ShortID(s.AllocID), api.ShortID(s.NodeID), health, strings.Join(checks, ","))
		}
	default:
		return fmt.Errorf("cannot print %T", objs)
	}
	return nil
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
	}
	return objs
}

// nowFunc is the clock of the ages in tables; tests fix it.
var nowFunc = time.Now

// age prints how long ago t was, as kubectl does: 45s, 3m, 5h, 2d.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
