package main

import (
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// table says how objects of one type print: their prefix under -o name,
// the columns of the table and the columns -o wide adds, and per object
// its name and its row, wide cells last.
type table[T any] struct {
	prefix     string
	cols, wide []string
	name       func(T) string
	row        func(obj T, now time.Time) []string
}

// grid is a table made for printing: the objects' names, the header and
// the cells.
type grid struct {
	names  []string
	header []string
	cells  [][]string
}

func (t table[T]) grid(list []T, now time.Time, wide bool) *grid {
	out := &grid{header: t.cols}
	if wide {
		out.header = append(append([]string{}, t.cols...), t.wide...)
	}
	for _, obj := range list {
		out.names = append(out.names, t.prefix+"/"+t.name(obj))
		cells := t.row(obj, now)
		if !wide {
			cells = cells[:len(t.cols)]
		}
		out.cells = append(out.cells, cells)
	}
	return out
}

// gridOf makes the table of a list of objects.
func gridOf(objs any, now time.Time, wide bool) (*grid, error) {
	switch list := objs.(type) {
	case []*api.Job:
		return jobTable.grid(list, now, wide), nil
	case []*api.Allocation:
		return allocTable.grid(list, now, wide), nil
	case []*api.Node:
		return nodeTable.grid(list, now, wide), nil
	case []*api.Evaluation:
		return evalTable.grid(list, now, wide), nil
	case []*api.Deployment:
		return deploymentTable.grid(list, now, wide), nil
	case []*api.Server:
		return serverTable.grid(list, now, wide), nil
	case []*api.ServiceSummary:
		return serviceTable.grid(list, now, wide), nil
	case []*api.ServiceRegistration:
		return instanceTable.grid(list, now, wide), nil
	case []*api.Namespace:
		return namespaceTable.grid(list, now, wide), nil
	}
	return nil, fmt.Errorf("cannot print %T", objs)
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
	t, err := gridOf(objs, nowFunc(), output == "wide")
	if err != nil {
		return err
	}
	if output == "name" {
		for _, n := range t.names {
			fmt.Fprintln(w, n)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	if header {
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	}
	for _, cells := range t.cells {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return nil
}

var jobTable = table[*api.Job]{
	prefix: "job",
	cols:   []string{"NAME", "TYPE", "STATUS", "VERSION", "AGE"},
	wide:   []string{"NAMESPACE", "PRIORITY", "DATACENTERS", "GROUPS"},
	name:   func(j *api.Job) string { return j.ID },
	row:    jobRow,
}

func jobRow(j *api.Job, now time.Time) []string {
	var groups []string
	for _, gr := range j.Groups {
		groups = append(groups, fmt.Sprintf("%s×%d", gr.Name, gr.Count))
	}
	return []string{j.ID, j.Type, j.Status, fmt.Sprint(j.Version), age(now, j.SubmitTime),
		j.Namespace, fmt.Sprint(j.Priority), strings.Join(j.Datacenters, ","), strings.Join(groups, ",")}
}

var allocTable = table[*api.Allocation]{
	prefix: "alloc",
	cols:   []string{"ID", "NAME", "NODE", "DESIRED", "STATUS", "VERSION", "AGE"},
	wide:   []string{"JOB", "GROUP", "CPU", "MEMORY", "DESCRIPTION"},
	name:   func(a *api.Allocation) string { return a.ID },
	row:    allocRow,
}

func allocRow(a *api.Allocation, now time.Time) []string {
	desc := a.DesiredDescription
	if a.Status != nil && desc == "" {
		desc = a.Status.Description
	}
	return []string{api.ShortID(a.ID), a.Name, api.ShortID(a.NodeID), a.DesiredStatus, a.ClientStatusOf(), fmt.Sprint(a.JobVersion), age(now, a.CreateTime),
		a.JobID, a.TaskGroup, fmt.Sprint(a.Resources.CPU), fmt.Sprintf("%dMiB", a.Resources.MemoryMB), desc}
}

var nodeTable = table[*api.Node]{
	prefix: "node",
	cols:   []string{"ID", "NAME", "DATACENTER", "STATUS", "ELIGIBLE", "DRIVERS", "AGE"},
	wide:   []string{"CPU", "MEMORY", "POOL", "ADDRESS"},
	name:   func(n *api.Node) string { return n.ID },
	row:    nodeRow,
}

func nodeRow(n *api.Node, now time.Time) []string {
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
	return []string{api.ShortID(n.ID), n.Name, n.Datacenter, n.Status, eligible, strings.Join(drivers, ","), age(now, n.RegisterTime),
		fmt.Sprintf("%dMHz", n.Resources.CPU), fmt.Sprintf("%dMiB", n.Resources.MemoryMB), n.NodePool, n.Attributes["unique.hostname"]}
}

var evalTable = table[*api.Evaluation]{
	prefix: "eval",
	cols:   []string{"ID", "JOB", "TRIGGERED BY", "STATUS", "PLACED", "STOPPED", "AGE"},
	wide:   []string{"NODE", "DESCRIPTION"},
	name:   func(e *api.Evaluation) string { return e.ID },
	row:    evalRow,
}

func evalRow(e *api.Evaluation, now time.Time) []string {
	return []string{api.ShortID(e.ID), e.JobID, e.TriggeredBy, e.Status, fmt.Sprint(e.PlacedAllocs), fmt.Sprint(e.StoppedAllocs), age(now, e.CreateTime),
		api.ShortID(e.NodeID), e.StatusDescription}
}

var deploymentTable = table[*api.Deployment]{
	prefix: "deployment",
	cols:   []string{"ID", "JOB", "VERSION", "STATUS", "HEALTHY", "AGE"},
	wide:   []string{"CANARIES", "DESCRIPTION"},
	name:   func(d *api.Deployment) string { return d.ID },
	row:    deploymentRow,
}

func deploymentRow(d *api.Deployment, now time.Time) []string {
	desired, healthy, canaries, promoted := 0, 0, 0, true
	for _, gr := range d.Groups {
		desired += gr.DesiredTotal
		healthy += gr.HealthyAllocs
		canaries += gr.DesiredCanaries
		promoted = promoted && !gr.RequiresPromotion()
	}
	c := "-"
	if canaries > 0 {
		c = fmt.Sprintf("%d (promoted: %v)", canaries, promoted)
	}
	return []string{api.ShortID(d.ID), d.JobID, fmt.Sprint(d.JobVersion), d.Status, fmt.Sprintf("%d/%d", healthy, desired), age(now, d.CreateTime),
		c, d.StatusDescription}
}

var serverTable = table[*api.Server]{
	prefix: "server",
	cols:   []string{"NAME", "ADDRESS", "LEADER", "VERSION", "AGE"},
	name:   func(s *api.Server) string { return s.Name },
	row: func(s *api.Server, now time.Time) []string {
		return []string{s.Name, s.HTTPAddr, fmt.Sprint(s.Leader), s.Version, age(now, s.StartTime)}
	},
}

var serviceTable = table[*api.ServiceSummary]{
	prefix: "service",
	cols:   []string{"NAME", "NAMESPACE", "INSTANCES", "HEALTHY", "TAGS"},
	name:   func(s *api.ServiceSummary) string { return s.Name },
	row: func(s *api.ServiceSummary, _ time.Time) []string {
		return []string{s.Name, s.Namespace, fmt.Sprint(s.Instances), fmt.Sprint(s.Healthy), strings.Join(s.Tags, ",")}
	},
}

var namespaceTable = table[*api.Namespace]{
	prefix: "namespace",
	cols:   []string{"NAME", "DESCRIPTION"},
	wide:   []string{"META"},
	name:   func(n *api.Namespace) string { return n.Name },
	row: func(n *api.Namespace, _ time.Time) []string {
		meta := make([]string, 0, len(n.Meta))
		for _, k := range slices.Sorted(maps.Keys(n.Meta)) {
			meta = append(meta, k+"="+n.Meta[k])
		}
		return []string{n.Name, n.Description, strings.Join(meta, ",")}
	},
}

var instanceTable = table[*api.ServiceRegistration]{
	prefix: "instance",
	cols:   []string{"SERVICE", "ADDRESS", "ALLOC", "NODE", "HEALTH", "CHECKS"},
	name:   func(s *api.ServiceRegistration) string { return s.ID },
	row:    instanceRow,
}

func instanceRow(s *api.ServiceRegistration, _ time.Time) []string {
	health := "healthy"
	if !s.Healthy() {
		health = "unhealthy"
	}
	var checks []string
	for _, c := range s.Checks {
		checks = append(checks, c.Name+"="+c.Status)
	}
	return []string{s.ServiceName, net.JoinHostPort(s.Address, fmt.Sprint(s.Port)), api.ShortID(s.AllocID), api.ShortID(s.NodeID), health, strings.Join(checks, ",")}
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
