package scheduler

import (
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// placeGroup carries out the decisions of a service or batch group: it
// applies the reconnects, the disconnect marks, the stops and the
// in-place updates, in that order, then places the replacements and the
// new indexes, and explains in Plan.Failed the placements that found no
// node.
func (p *planner) placeGroup(g *api.TaskGroup, d *decisions) {
	job := p.in.Job
	ch := p.changes(g.Name)
	addChanges(ch, &d.changes)
	for _, a := range d.reconnect {
		u := p.update(a)
		u.DisconnectTime, u.NextAllocation = time.Time{}, ""
	}
	for _, a := range d.disconnect {
		if a.DisconnectTime.IsZero() {
			p.update(a).DisconnectTime = p.in.Now
		}
	}
	for _, s := range d.stop {
		p.stop(s.alloc, s.why, s.lost, false)
	}
	for _, a := range d.inPlace {
		u := p.update(a)
		u.JobVersion = job.Version
		p.tagDeployment(u)
	}
	if !d.wakeAt.IsZero() {
		p.wakeAt(d.wakeAt)
	}

	sel := newSelector(p, job, g, p.jobAllocs)
	var metric *api.AllocMetric
	fail := func(m *api.AllocMetric) {
		ch.Failed++
		if metric == nil {
			metric = m
		} else {
			metric.CoalescedFailures++
		}
	}
	// A canary that finds no node leaves its index to the next one.
	skipped := 0
	for _, r := range d.replace {
		idx := r.index
		if r.kind == replaceCanary {
			idx -= skipped
		}
		if !p.placeReplacement(sel, g, r, idx, fail) && r.kind == replaceCanary {
			skipped++
		}
	}
	for i, idx := range d.place {
		if i%256 == 0 && p.cancelled() {
			return
		}
		m := &api.AllocMetric{}
		ns := sel.selectNode("", m)
		if ns == nil {
			fail(m)
			// The rest of the group asks for the same on a cluster that
			// only got fuller: they fit nowhere either. They are counted,
			// not tried, so one huge group cannot occupy the scheduler.
			rest := len(d.place) - i - 1
			ch.Failed += rest
			metric.CoalescedFailures += rest
			break
		}
		if p.place(sel, g, ns, idx, nil, false) == nil {
			exhaust(m, "network: dynamic port range exhausted")
			fail(m)
			continue
		}
		ch.Place++
	}
	if metric != nil {
		metric.NodesInPool = p.poolSize(job)
		if p.plan.Failed == nil {
			p.plan.Failed = map[string]*api.AllocMetric{}
		}
		p.plan.Failed[g.Name] = metric
	}
}

// addChanges adds the counts of src to dst.
func addChanges(dst, src *api.PlanChanges) {
	dst.Place += src.Place
	dst.Stop += src.Stop
	dst.InPlace += src.InPlace
	dst.Destructive += src.Destructive
	dst.Migrate += src.Migrate
	dst.Reschedule += src.Reschedule
	dst.Lost += src.Lost
	dst.Canary += src.Canary
	dst.Preempt += src.Preempt
	dst.Disconnect += src.Disconnect
	dst.Reconnect += src.Reconnect
	dst.Ignore += src.Ignore
	dst.Failed += src.Failed
}

// placeReplacement places one replacement at index idx and, on success,
// stops or links the allocation it replaces. It reports whether it found
// a node.
func (p *planner) placeReplacement(sel *selector, g *api.TaskGroup, r replacement, idx int, fail func(*api.AllocMetric)) bool {
	ch := p.changes(g.Name)
	m := &api.AllocMetric{}
	avoid := ""
	if r.kind.avoidsPrevNode() {
		avoid = r.prev.NodeID
	}
	// A destructive update or migration frees the old allocation's
	// resources in the same plan; put them back if no place is found.
	freed := false
	if r.kind.freesPrev() && !r.prev.Terminal() {
		if ns := p.st.byID[r.prev.NodeID]; ns != nil {
			p.removeAlloc(ns, r.prev)
			freed = true
		}
	}
	ns := sel.selectNode(avoid, m)
	var a *api.Allocation
	if ns != nil {
		a = p.place(sel, g, ns, idx, r.prev, r.kind == replaceCanary)
		if a == nil {
			exhaust(m, "network: dynamic port range exhausted")
		}
	}
	if freed {
		// Given back: the stop below (or nothing, on failure) settles it.
		p.addAlloc(p.st.byID[r.prev.NodeID], r.prev)
	}
	if a == nil {
		fail(m)
		if r.forced {
			// The drain's deadline passed: the node is left whether or
			// not the work finds another (Nomad's forced drain); the
			// blocked evaluation places it when a node frees up.
			p.stop(r.prev, "node drain deadline passed: stopped with no node for its replacement", false, true)
		}
		return false
	}
	switch r.kind {
	case replaceLost:
		// Already stopped as lost.
		ch.Place++
	case replaceReschedule:
		a.RescheduleTracker = append(append([]api.RescheduleEvent(nil), r.prev.RescheduleTracker...),
			api.RescheduleEvent{Time: p.in.Now, PrevAlloc: r.prev.ID, PrevNode: r.prev.NodeID, Delay: r.delay})
		p.update(r.prev).NextAllocation = a.ID
		ch.Reschedule++
	case replaceDestructive:
		u := p.stop(r.prev, fmt.Sprintf("replaced by job version %d", p.in.Job.Version), false, false)
		u.NextAllocation = a.ID
		ch.Destructive++
	case replaceMigrate:
		u := p.stop(r.prev, "migrated off draining node", false, true)
		u.NextAllocation = a.ID
		a.Migrated = true
		ch.Migrate++
	case replaceCanary:
		ch.Canary++
	case replaceDisconnect:
		p.update(r.prev).NextAllocation = a.ID
		ch.Place++
	case replaceStopped:
		// Stopped already, in this plan.
		p.update(r.prev).NextAllocation = a.ID
		ch.Place++
	}
	return true
}

// place creates an allocation of the group on a node. It returns nil if
// the node has no dynamic port left.
func (p *planner) place(sel *selector, g *api.TaskGroup, ns *nodeState, idx int, prev *api.Allocation, canary bool) *api.Allocation {
	ports, ok := sel.assignPorts(ns)
	if !ok {
		return nil
	}
	job := p.in.Job
	charge := sel.ask
	charge.CPU += sel.coresMHz(ns)
	a := &api.Allocation{
		ID:            p.in.NewID(),
		Name:          fmt.Sprintf("%s.%s[%d]", job.ID, g.Name, idx),
		Namespace:     job.Namespace,
		JobID:         job.ID,
		JobVersion:    job.Version,
		JobPriority:   job.Priority,
		TaskGroup:     g.Name,
		Index:         idx,
		NodeID:        ns.node.ID,
		EvalID:        p.in.EvalID,
		Resources:     charge,
		Ports:         ports,
		DesiredStatus: api.AllocDesiredRun,
		Canary:        canary,
		CreateTime:    p.in.Now,
		ModifyTime:    p.in.Now,
	}
	if prev != nil {
		a.PreviousAllocation = prev.ID
	}
	p.tagDeployment(a)
	p.addAlloc(ns, a)
	sel.placed(ns)
	p.plan.Place = append(p.plan.Place, a)
	return a
}

// poolSize counts the ready nodes a job could use at all.
func (p *planner) poolSize(job *api.Job) int {
	n := 0
	for _, ns := range p.st.nodes {
		if ready(ns.node) && matchDatacenter(job.Datacenters, ns.node.Datacenter) && inPool(job, ns.node) {
			n++
		}
	}
	return n
}
