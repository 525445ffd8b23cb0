// Package scheduler decides where allocations go. It is pure: it reads a
// snapshot of the cluster and a job and returns a plan, with no etcd, no
// clock and no randomness of its own, so the same input always gives the
// same plan.
//
// This is the walking skeleton's scheduler: it reconciles a job's
// allocations with its groups' counts and places missing allocations on the
// first feasible node with room (nodes in ID order). Feasibility covers node
// status and eligibility, datacenters (with globs), drivers and cpu/memory
// capacity; every filtered or exhausted node is counted in the metrics that
// explain a failed placement.
package scheduler

import (
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Input is everything one scheduling pass reads.
type Input struct {
	Namespace string
	JobID     string
	// Job is the job's current specification; nil when it was purged.
	Job    *api.Job
	Nodes  []*api.Node
	Allocs []*api.Allocation
	EvalID string
	Now    time.Time
	// NewID makes allocation IDs; passed in to keep the package pure.
	NewID func() string
}

// Plan is what a scheduling pass decided.
type Plan struct {
	// Place are new allocations.
	Place []*api.Allocation
	// Update are existing allocations with a new desired state.
	Update []*api.Allocation
	// Failed explains, per task group, the placements that found no node.
	Failed map[string]*api.AllocMetric
}

// Placing returns the nodes that receive new allocations.
func (p *Plan) Placing() map[string]bool {
	m := map[string]bool{}
	for _, a := range p.Place {
		m[a.NodeID] = true
	}
	return m
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Place) == 0 && len(p.Update) == 0 }

// Compute reconciles the job with its allocations and places what is
// missing.
func Compute(in *Input) *Plan {
	plan := &Plan{}
	ready := map[string]bool{}
	for _, n := range in.Nodes {
		if n.Status == api.NodeStatusReady {
			ready[n.ID] = true
		}
	}
	stopping := map[string]bool{}
	stop := func(a *api.Allocation, why string, lost bool) {
		c := *a
		c.Status = nil
		c.DesiredStatus = api.AllocDesiredStop
		c.DesiredDescription = why
		c.NodeLost = c.NodeLost || lost
		c.ModifyTime = in.Now
		plan.Update = append(plan.Update, &c)
		stopping[a.ID] = true
	}

	// live[group] are the allocations that fill the group's count.
	live := map[string][]*api.Allocation{}
	for _, a := range in.Allocs {
		if a.Namespace != in.Namespace || a.JobID != in.JobID || a.DesiredStatus != api.AllocDesiredRun {
			continue
		}
		switch {
		case !ready[a.NodeID] && !a.Terminal():
			stop(a, "node is down: allocation lost", true)
		case in.Job == nil:
			stop(a, "job was purged", false)
		case in.Job.Stop:
			stop(a, "job was stopped", false)
		case in.Job.LookupGroup(a.TaskGroup) == nil:
			stop(a, "group was removed from the job", false)
		case a.JobVersion != in.Job.Version:
			stop(a, fmt.Sprintf("replaced by job version %d", in.Job.Version), false)
		default:
			live[a.TaskGroup] = append(live[a.TaskGroup], a)
		}
	}
	if in.Job == nil || in.Job.Stop {
		return plan
	}

	cap := newCapacity(in.Nodes, in.Allocs, stopping)
	for _, g := range in.Job.Groups {
		have := live[g.Name]
		sort.Slice(have, func(i, j int) bool { return have[i].Index < have[j].Index })
		// Scale down: stop the highest indices.
		for len(have) > g.Count {
			last := have[len(have)-1]
			stop(last, "scaled down", false)
			cap.release(last)
			have = have[:len(have)-1]
		}
		used := map[int]bool{}
		for _, a := range have {
			used[a.Index] = true
		}
		missing := g.Count - len(have)
		ask := g.GroupResources()
		var metric *api.AllocMetric
		for idx := 0; missing > 0; idx++ {
			if used[idx] {
				continue
			}
			missing--
			node, m := cap.pick(in.Job, g, ask)
			if node == nil {
				if metric == nil {
					metric = m
				} else {
					metric.CoalescedFailures++
				}
				continue
			}
			a := &api.Allocation{
				ID:            in.NewID(),
				Name:          fmt.Sprintf("%s.%s[%d]", in.Job.ID, g.Name, idx),
				Namespace:     in.Job.Namespace,
				JobID:         in.Job.ID,
				JobVersion:    in.Job.Version,
				TaskGroup:     g.Name,
				Index:         idx,
				NodeID:        node.ID,
				EvalID:        in.EvalID,
				Resources:     ask,
				DesiredStatus: api.AllocDesiredRun,
				CreateTime:    in.Now,
				ModifyTime:    in.Now,
			}
			cap.use(node.ID, ask)
			plan.Place = append(plan.Place, a)
		}
		if metric != nil {
			if plan.Failed == nil {
				plan.Failed = map[string]*api.AllocMetric{}
			}
			plan.Failed[g.Name] = metric
		}
	}
	return plan
}

// capacity tracks what is free on each node while a plan is made.
type capacity struct {
	nodes []*api.Node
	used  map[string]api.Resources
}

func newCapacity(nodes []*api.Node, allocs []*api.Allocation, stopping map[string]bool) *capacity {
	c := &capacity{used: map[string]api.Resources{}}
	c.nodes = append(c.nodes, nodes...)
	sort.Slice(c.nodes, func(i, j int) bool { return c.nodes[i].ID < c.nodes[j].ID })
	for _, a := range allocs {
		if a.DesiredStatus == api.AllocDesiredRun && !a.Terminal() && !stopping[a.ID] {
			c.use(a.NodeID, a.Resources)
		}
	}
	return c
}

func (c *capacity) use(node string, r api.Resources) { c.used[node] = c.used[node].Add(r) }

func (c *capacity) release(a *api.Allocation) {
	u := c.used[a.NodeID]
	c.used[a.NodeID] = api.Resources{CPU: u.CPU - a.Resources.CPU, MemoryMB: u.MemoryMB - a.Resources.MemoryMB}
}

// pick returns the first feasible node with room for ask, or nil and the
// metrics of the search.
func (c *capacity) pick(job *api.Job, g *api.TaskGroup, ask api.Resources) (*api.Node, *api.AllocMetric) {
	m := &api.AllocMetric{}
	filter := func(why string) {
		m.NodesFiltered++
		if m.ClassFiltered == nil {
			m.ClassFiltered = map[string]int{}
		}
		m.ClassFiltered[why]++
	}
	exhaust := func(dim string) {
		m.NodesExhausted++
		if m.DimensionExhausted == nil {
			m.DimensionExhausted = map[string]int{}
		}
		m.DimensionExhausted[dim]++
	}
nodes:
	for _, n := range c.nodes {
		m.NodesEvaluated++
		if n.Status != api.NodeStatusReady {
			filter("node not ready")
			continue
		}
		if !n.Eligible {
			filter("node ineligible")
			continue
		}
		if !matchDatacenter(job.Datacenters, n.Datacenter) {
			filter("datacenter")
			continue
		}
		for _, t := range g.Tasks {
			d := n.Drivers[t.Driver]
			if d == nil || !d.Detected || !d.Healthy {
				filter(fmt.Sprintf("missing driver %q", t.Driver))
				continue nodes
			}
		}
		u := c.used[n.ID]
		if u.CPU+ask.CPU > n.Resources.CPU {
			exhaust("cpu")
			continue
		}
		if u.MemoryMB+ask.MemoryMB > n.Resources.MemoryMB {
			exhaust("memory")
			continue
		}
		return n, m
	}
	return nil, m
}

func matchDatacenter(patterns []string, dc string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, dc); err == nil && ok {
			return true
		}
	}
	return false
}
