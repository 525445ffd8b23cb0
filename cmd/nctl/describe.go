package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
)

func newDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe job|alloc|node|eval|deployment|service NAME",
		Short: "Show one resource in detail",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := kindOf(args[0])
			if err != nil {
				return err
			}
			c := g.client()
			ctx, cancel := g.ctx()
			defer cancel()
			w := g.out
			switch kind {
			case "jobs":
				j, err := c.Job(ctx, g.namespace, args[1])
				if err != nil {
					return err
				}
				allocs, err := c.Allocs(ctx, client.AllocFilter{Namespace: j.Namespace, Job: j.ID})
				if err != nil {
					return err
				}
				evals, err := c.Evals(ctx, j.Namespace, j.ID)
				if err != nil {
					return err
				}
				ds, err := c.Deployments(ctx, j.Namespace, j.ID)
				if err != nil {
					return err
				}
				describeJob(w, j, allocs, evals)
				if len(ds) > 0 {
					fmt.Fprintln(w, "\nLatest deployment:")
					describeDeployment(indent{w}, ds[0], nil)
				}
			case "allocs":
				a, err := c.Alloc(ctx, args[1])
				if err != nil {
					return err
				}
				var usage *api.AllocUsage
				if a.ClientStatusOf() == api.AllocClientRunning {
					// What its tasks use, when its node answers; the rest
					// is shown without.
					usage, _ = c.AllocUsage(ctx, a.ID)
				}
				describeAlloc(w, a, usage)
			case "nodes":
				n, err := c.Node(ctx, args[1])
				if err != nil {
					return err
				}
				allocs, err := c.Allocs(ctx, client.AllocFilter{Node: n.ID})
				if err != nil {
					return err
				}
				describeNode(w, n, allocs)
			case "evals":
				e, err := c.Eval(ctx, args[1])
				if err != nil {
					return err
				}
				describeEval(w, e)
			case "deployments":
				d, err := c.Deployment(ctx, args[1])
				if err != nil {
					return err
				}
				allocs, err := c.Allocs(ctx, client.AllocFilter{Namespace: d.Namespace, Job: d.JobID})
				if err != nil {
					return err
				}
				describeDeployment(w, d, allocs)
			case "services":
				regs, err := c.Service(ctx, g.namespace, args[1], false)
				if err != nil {
					return err
				}
				describeService(w, args[1], regs)
			default:
				return fmt.Errorf("describe does not support %s", kind)
			}
			return nil
		},
	}
}

func kv(w io.Writer, k string, v any) { fmt.Fprintf(w, "%-14s %v\n", k+":", v) }

func describeJob(w io.Writer, j *api.Job, allocs []*api.Allocation, evals []*api.Evaluation) {
	kv(w, "Name", j.ID)
	kv(w, "Namespace", j.Namespace)
	kv(w, "Type", j.Type)
	kv(w, "Status", j.Status)
	kv(w, "Version", j.Version)
	kv(w, "Priority", j.Priority)
	kv(w, "Datacenters", strings.Join(j.Datacenters, ","))
	kv(w, "Submitted", j.SubmitTime.Local().Format(time.RFC3339))
	fmt.Fprintln(w, "\nGroups:")
	for _, g := range j.Groups {
		counts := map[string]int{}
		for _, a := range allocs {
			if a.TaskGroup == g.Name && a.JobVersion == j.Version {
				counts[a.ClientStatusOf()]++
			}
		}
		fmt.Fprintf(w, "  %s: desired %d, running %d, pending %d, complete %d, failed %d, lost %d\n", g.Name, g.Count,
			counts[api.AllocClientRunning], counts[api.AllocClientPending], counts[api.AllocClientComplete], counts[api.AllocClientFailed], counts[api.AllocClientLost])
	}
	if len(evals) > 0 {
		last := evals[len(evals)-1]
		fmt.Fprintf(w, "\nLatest evaluation: %s (%s, %s)\n", api.ShortID(last.ID), last.TriggeredBy, last.Status)
		describeFailures(w, last)
	}
	fmt.Fprintln(w, "\nAllocations:")
	if len(allocs) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	_ = printObjects(indent{w}, "allocs", allocs, false, "")
}

func describeFailures(w io.Writer, e *api.Evaluation) {
	groups := make([]string, 0, len(e.FailedTGAllocs))
	for g := range e.FailedTGAllocs {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		m := e.FailedTGAllocs[g]
		more := ""
		if m.CoalescedFailures > 0 {
			more = fmt.Sprintf(" (and %d more like it)", m.CoalescedFailures)
		}
		fmt.Fprintf(w, "  Placement failure in group %q%s:\n", g, more)
		fmt.Fprintf(w, "    %d nodes evaluated of %d ready in the job's pool and datacenters: %d filtered, %d exhausted\n",
			m.NodesEvaluated, m.NodesInPool, m.NodesFiltered, m.NodesExhausted)
		for _, k := range sortedKeys(m.ClassFiltered) {
			fmt.Fprintf(w, "    %d filtered by %s\n", m.ClassFiltered[k], k)
		}
		for _, k := range sortedKeys(m.DimensionExhausted) {
			fmt.Fprintf(w, "    %d exhausted on %s\n", m.DimensionExhausted[k], k)
		}
		if m.NodesInPool == 0 {
			fmt.Fprintln(w, "    no ready node is in the job's node pool and datacenters")
		}
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeAlloc(w io.Writer, a *api.Allocation, usage *api.AllocUsage) {
	kv(w, "ID", a.ID)
	kv(w, "Name", a.Name)
	kv(w, "Job", fmt.Sprintf("%s (version %d)", a.JobID, a.JobVersion))
	kv(w, "Group", a.TaskGroup)
	kv(w, "Node", a.NodeID)
	kv(w, "Desired", a.DesiredStatus)
	if a.DesiredDescription != "" {
		kv(w, "Why", a.DesiredDescription)
	}
	kv(w, "Status", a.ClientStatusOf())
	if a.Status != nil && a.Status.Description != "" {
		kv(w, "Description", a.Status.Description)
	}
	kv(w, "Resources", fmt.Sprintf("cpu %d MHz, memory %d MiB", a.Resources.CPU, a.Resources.MemoryMB))
	kv(w, "Created", a.CreateTime.Local().Format(time.RFC3339))
	if a.DeploymentID != "" {
		d := api.ShortID(a.DeploymentID)
		if a.Canary {
			d += " (canary)"
		}
		kv(w, "Deployment", d)
		kv(w, "Health", healthWord(a.Health()))
	}
	if a.Status == nil {
		return
	}
	names := make([]string, 0, len(a.Status.Tasks))
	for n := range a.Status.Tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ts := a.Status.Tasks[n]
		fmt.Fprintf(w, "\nTask %q is %q", n, ts.State)
		if ts.PID != 0 && ts.State == api.TaskStateRunning {
			fmt.Fprintf(w, " (pid %d)", ts.PID)
		}
		if ts.ExitCode != nil {
			fmt.Fprintf(w, " (exit code %d)", *ts.ExitCode)
		}
		if ts.Failed {
			fmt.Fprint(w, ", failed")
		}
		if u := usageOf(usage, n); u != nil {
			fmt.Fprintf(w, "\n  Using: cpu %.1f%% of a core (%.1fs user, %.1fs system), memory %.1f MiB", u.Percent, u.UserSeconds, u.SystemSeconds, float64(max(u.Usage, u.RSS))/(1<<20))
		}
		fmt.Fprintln(w, "\n  Recent events:")
		for _, ev := range ts.Events {
			fmt.Fprintf(w, "  %s  %-16s %s\n", ev.Time.Local().Format("2006-01-02T15:04:05"), ev.Type, ev.Message)
		}
	}
}

func usageOf(u *api.AllocUsage, task string) *api.TaskUsage {
	if u == nil {
		return nil
	}
	return u.Tasks[task]
}

func describeNode(w io.Writer, n *api.Node, allocs []*api.Allocation) {
	kv(w, "ID", n.ID)
	kv(w, "Name", n.Name)
	kv(w, "Status", n.Status)
	kv(w, "Eligible", n.Eligible)
	kv(w, "Datacenter", n.Datacenter)
	kv(w, "Node pool", n.NodePool)
	kv(w, "CPU", fmt.Sprintf("%d MHz", n.Resources.CPU))
	kv(w, "Memory", fmt.Sprintf("%d MiB", n.Resources.MemoryMB))
	fmt.Fprintln(w, "\nDrivers:")
	for _, name := range sortedDriverNames(n.Drivers) {
		d := n.Drivers[name]
		state := "healthy"
		if !d.Healthy {
			state = "unhealthy: " + d.Reason
		}
		fmt.Fprintf(w, "  %s: %s\n", name, state)
	}
	fmt.Fprintln(w, "\nAttributes:")
	attrs := make([]string, 0, len(n.Attributes))
	for k := range n.Attributes {
		attrs = append(attrs, k)
	}
	sort.Strings(attrs)
	for _, k := range attrs {
		fmt.Fprintf(w, "  %s = %s\n", k, n.Attributes[k])
	}
	fmt.Fprintln(w, "\nAllocations:")
	if len(allocs) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	_ = printObjects(indent{w}, "allocs", allocs, false, "")
}

func sortedDriverNames(m map[string]*api.DriverInfo) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeEval(w io.Writer, e *api.Evaluation) {
	kv(w, "ID", e.ID)
	kv(w, "Job", e.JobID)
	kv(w, "Triggered by", e.TriggeredBy)
	if e.NodeID != "" {
		kv(w, "Node", e.NodeID)
	}
	kv(w, "Status", e.Status)
	if e.StatusDescription != "" {
		kv(w, "Description", e.StatusDescription)
	}
	if !e.WaitUntil.IsZero() {
		kv(w, "Wait until", e.WaitUntil.Local().Format(time.RFC3339))
	}
	kv(w, "Placed", e.PlacedAllocs)
	kv(w, "Stopped", e.StoppedAllocs)
	kv(w, "Created", e.CreateTime.Local().Format(time.RFC3339))
	if len(e.FailedTGAllocs) > 0 {
		fmt.Fprintln(w, "\nPlacement failures:")
		describeFailures(w, e)
	}
}

// indent writes every line with two leading spaces.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(i.w, "  "+l); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func describeService(w io.Writer, name string, regs []*api.ServiceRegistration) {
	healthy := 0
	for _, r := range regs {
		if r.Healthy() {
			healthy++
		}
	}
	kv(w, "Name", name)
	kv(w, "Instances", fmt.Sprintf("%d (%d healthy)", len(regs), healthy))
	for _, r := range regs {
		fmt.Fprintf(w, "\n%s:%d  alloc %s  node %s  job %s\n", r.Address, r.Port, api.ShortID(r.AllocID), api.ShortID(r.NodeID), r.JobID)
		if len(r.Tags) > 0 {
			fmt.Fprintf(w, "  tags: %s\n", strings.Join(r.Tags, ", "))
		}
		for _, c := range r.Checks {
			fmt.Fprintf(w, "  %-10s %-8s %s\n", c.Status, c.Type, c.Output)
		}
	}
}

// healthWord says how an allocation's deployment health was judged.
func healthWord(h *api.AllocHealth) string {
	switch {
	case h == nil:
		return "undecided"
	case h.Healthy:
		return "healthy"
	}
	return "unhealthy: " + h.Description
}

// describeDeployment shows a deployment with its groups and, when allocs
// are given, the allocations placed for it.
func describeDeployment(w io.Writer, d *api.Deployment, allocs []*api.Allocation) {
	kv(w, "ID", d.ID)
	kv(w, "Job", fmt.Sprintf("%s (version %d)", d.JobID, d.JobVersion))
	kv(w, "Status", d.Status)
	kv(w, "Description", d.StatusDescription)
	kv(w, "Created", d.CreateTime.Local().Format(time.RFC3339))
	names := make([]string, 0, len(d.Groups))
	for n := range d.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "GROUP\tAUTO REVERT\tPROMOTED\tDESIRED\tCANARIES\tPLACED\tHEALTHY\tUNHEALTHY\tPROGRESS DEADLINE")
	for _, n := range names {
		g := d.Groups[n]
		promoted, deadline := "-", "-"
		if g.DesiredCanaries > 0 {
			promoted = fmt.Sprint(g.Promoted)
		}
		if !g.RequireProgressBy.IsZero() {
			deadline = g.RequireProgressBy.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", n, g.AutoRevert, promoted, g.DesiredTotal, g.DesiredCanaries,
			g.PlacedAllocs, g.HealthyAllocs, g.UnhealthyAllocs, deadline)
	}
	tw.Flush()
	if allocs == nil {
		return
	}
	fmt.Fprintln(w, "\nAllocations:")
	tw = tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "  ID\tNAME\tNODE\tSTATUS\tCANARY\tHEALTH")
	n := 0
	for _, a := range allocs {
		if a.DeploymentID != d.ID {
			continue
		}
		n++
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%v\t%s\n", api.ShortID(a.ID), a.Name, api.ShortID(a.NodeID), a.ClientStatusOf(), a.Canary, healthWord(a.Health()))
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "  none")
	}
}
