package scheduler

import (
	"fmt"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// preemptionGap is how much lower a job's priority must be for a system
// job to evict its allocations, as in Nomad.
const preemptionGap = 10

// reconcileSystem keeps one allocation of the group on every feasible
// node. Sysbatch allocations that ended stay ended.
func (p *planner) reconcileSystem(g *api.TaskGroup) {
	job := p.in.Job
	ch := p.changes(g.Name)
	sel := newSelector(p, job, g, p.jobAllocs)
	onNode := map[string][]*api.Allocation{}
	for _, a := range p.jobAllocs {
		if a.TaskGroup == g.Name && a.DesiredStatus == api.AllocDesiredRun {
			onNode[a.NodeID] = append(onNode[a.NodeID], a)
		}
	}
	var metric *api.AllocMetric
	budget := len(p.st.nodes)
	if u := g.Update; u != nil && u.MaxParallel > 0 {
		budget = u.MaxParallel
		for _, a := range p.jobAllocs {
			if a.TaskGroup == g.Name && a.JobVersion == job.Version && a.PreviousAllocation != "" &&
				a.DesiredStatus == api.AllocDesiredRun && a.ClientStatusOf() == api.AllocClientPending {
				budget--
			}
		}
	}
	for _, ns := range p.st.nodes {
		n := ns.node
		allocs := onNode[n.ID]
		if n.Status != api.NodeStatusReady {
			if p.cfg.HoldDownNodes {
				continue
			}
			if justDown(n, p.cfg.DownSettle, p.in.Now) {
				// Down a moment ago: look again when the settle time
				// is up (as the reconciler does for other jobs).
				p.wakeAt(n.DownSince.Add(p.cfg.DownSettle))
				continue
			}
			for _, a := range allocs {
				if !a.Terminal() {
					p.stop(a, "node is down: allocation lost", true, false)
					ch.Lost++
				}
			}
			continue
		}
		why := sel.staticCheck(ns)
		keepable := why == "" || why == "node ineligible" || (why == "node draining" && n.Drain.IgnoreSystemJobs)
		var live []*api.Allocation
		ended := false
		for _, a := range allocs {
			switch {
			case a.Terminal():
				ended = ended || job.Type == api.JobTypeSysbatch
			case !keepable:
				p.stop(a, "node no longer fits the job: "+why, false, why == "node draining")
				ch.Stop++
			default:
				live = append(live, a)
			}
		}
		sort.Slice(live, func(i, j int) bool { return live[i].CreateTime.Before(live[j].CreateTime) })
		for len(live) > 1 {
			p.stop(live[len(live)-1], "duplicate system allocation", false, false)
			live = live[:len(live)-1]
			ch.Stop++
		}
		if len(live) == 1 {
			a := live[0]
			if a.JobVersion == job.Version {
				continue
			}
			if prev := p.in.Versions[a.JobVersion]; prev != nil && inPlace(prev, job, g.Name) {
				p.update(a).JobVersion = job.Version
				ch.InPlace++
				continue
			}
			if budget <= 0 {
				ch.Ignore++
				continue
			}
			budget--
			p.removeAlloc(ns, a)
			if na := p.placeOn(sel, g, ns, a, &metric); na != nil {
				p.addAlloc(ns, a) // stop releases it again
				u := p.stop(a, fmt.Sprintf("replaced by job version %d", job.Version), false, false)
				u.NextAllocation = na.ID
				ch.Destructive++
			} else {
				p.addAlloc(ns, a)
			}
			continue
		}
		if ended || why != "" {
			continue
		}
		if p.placeOn(sel, g, ns, nil, &metric) != nil {
			ch.Place++
		}
	}
	if metric != nil {
		metric.NodesInPool = p.poolSize(job)
		if p.plan.Failed == nil {
			p.plan.Failed = map[string]*api.AllocMetric{}
		}
		p.plan.Failed[g.Name] = metric
	}
}

// placeOn places the group on one given node, preempting lower-priority
// allocations if that is what it takes.
func (p *planner) placeOn(sel *selector, g *api.TaskGroup, ns *nodeState, prev *api.Allocation, metric **api.AllocMetric) *api.Allocation {
	m := &api.AllocMetric{NodesEvaluated: 1}
	dim, why := sel.fits(ns)
	var evicted []*api.Allocation
	if why == "" && dim != "" && !p.cfg.DisablePreemption {
		evicted = p.preempt(sel, ns)
		dim, why = sel.fits(ns)
	}
	var a *api.Allocation
	switch {
	case why != "":
		filter(m, why)
	case dim != "":
		exhaust(m, dim)
	default:
		idx := 0
		if prev != nil {
			idx = prev.Index
		}
		a = p.place(sel, g, ns, idx, prev, false)
		if a == nil {
			exhaust(m, "network: dynamic port range exhausted")
		}
	}
	if a == nil {
		for _, e := range evicted {
			p.addAlloc(ns, e)
		}
		p.changes(g.Name).Failed++
		if *metric == nil {
			*metric = &api.AllocMetric{}
		}
		mergeMetric(*metric, m)
		return nil
	}
	for _, e := range evicted {
		p.addAlloc(ns, e) // stop releases it again
		u := p.stop(e, fmt.Sprintf("preempted by %s (job %q, priority %d)", api.ShortID(a.ID), p.in.Job.ID, p.in.Job.Priority), false, false)
		u.PreemptedBy = a.ID
		p.plan.Preempted = append(p.plan.Preempted, u)
		p.changes(g.Name).Preempt++
	}
	return a
}

// preempt removes lower-priority allocations from a node's usage, lowest
// priority and largest first, until the group fits; it returns them. If
// the group cannot fit even so, it removes nothing.
func (p *planner) preempt(sel *selector, ns *nodeState) []*api.Allocation {
	limit := p.in.Job.Priority - preemptionGap
	var cands []*api.Allocation
	for _, a := range p.liveAllocs(ns) {
		if a.JobID != p.in.Job.ID && a.JobPriority > 0 && a.JobPriority <= limit && p.updated[a.ID] == nil {
			cands = append(cands, a)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].JobPriority != cands[j].JobPriority {
			return cands[i].JobPriority < cands[j].JobPriority
		}
		return cands[i].Resources.MemoryMB+cands[i].Resources.CPU > cands[j].Resources.MemoryMB+cands[j].Resources.CPU
	})
	var out []*api.Allocation
	for _, a := range cands {
		if dim, _ := sel.fits(ns); dim == "" {
			break
		}
		p.removeAlloc(ns, a)
		out = append(out, a)
	}
	if dim, _ := sel.fits(ns); dim != "" {
		for _, a := range out {
			p.addAlloc(ns, a)
		}
		return nil
	}
	return out
}

// mergeMetric adds the counts of src to dst.
func mergeMetric(dst, src *api.AllocMetric) {
	dst.NodesEvaluated += src.NodesEvaluated
	dst.NodesFiltered += src.NodesFiltered
	dst.NodesExhausted += src.NodesExhausted
	for k, v := range src.ClassFiltered {
		if dst.ClassFiltered == nil {
			dst.ClassFiltered = map[string]int{}
		}
		dst.ClassFiltered[k] += v
	}
	for k, v := range src.DimensionExhausted {
		if dst.DimensionExhausted == nil {
			dst.DimensionExhausted = map[string]int{}
		}
		dst.DimensionExhausted[k] += v
	}
}
