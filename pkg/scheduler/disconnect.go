package scheduler

import (
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Disconnected nodes. A group with disconnect.lost_after (or the older
// max_client_disconnect) keeps the allocations of a node that went down
// as unknown for that long instead of losing them at once: they get a
// replacement elsewhere unless disconnect.replace is false, and a
// follow-up evaluation is due when lost_after passes. If the node comes
// back in time, disconnect.reconcile decides which of the original and its
// replacement stays: keep_original (and best_score, which nomadic treats
// the same way), keep_replacement, or longest_running. Past lost_after the
// original is lost, as it would have been at once without the block.

// cur returns an allocation as this plan has it so far: its planned
// update if any (with the status its node reported), else itself.
func (p *planner) cur(a *api.Allocation) *api.Allocation {
	u := p.updated[a.ID]
	if u == nil {
		return a
	}
	c := *u
	c.Status = a.Status
	return &c
}

// wakeAt asks for an evaluation of the job at t, if none is due sooner.
func (p *planner) wakeAt(t time.Time) {
	if p.plan.NextEvalAt.IsZero() || t.Before(p.plan.NextEvalAt) {
		p.plan.NextEvalAt = t
	}
}

// keepDisconnected reports whether an allocation on a down node is within
// its group's lost_after, marking it unknown the first time.
func (p *planner) keepDisconnected(g *api.TaskGroup, a *api.Allocation) bool {
	la := g.LostAfter().Std()
	if la <= 0 {
		return false
	}
	since := a.DisconnectTime
	if since.IsZero() {
		u := p.update(a)
		u.DisconnectTime = p.in.Now
		since = p.in.Now
		p.changes(g.Name).Disconnect++
	}
	deadline := since.Add(la)
	if !p.in.Now.Before(deadline) {
		return false
	}
	p.wakeAt(deadline)
	return true
}

// reconcileDisconnected settles the group's unknown allocations that have
// a replacement: the node came back (keep one of the two), or lost_after
// passed (the original is lost). Unknown allocations without a
// replacement are settled by reconcileGroup.
func (p *planner) reconcileDisconnected(g *api.TaskGroup) {
	ch := p.changes(g.Name)
	for _, a := range p.jobAllocs {
		if a.TaskGroup != g.Name || a.DisconnectTime.IsZero() || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			continue
		}
		var r *api.Allocation
		if x := p.byID[a.NextAllocation]; x != nil && x.DesiredStatus == api.AllocDesiredRun && !x.Terminal() {
			r = x
		}
		switch {
		case !p.nodeDown(a.NodeID):
			if r != nil && !keepOriginal(g.ReconcileMode(), a, r) {
				p.stop(a, "its node came back; the replacement is kept (disconnect.reconcile)", false, false)
				ch.Stop++
				continue
			}
			u := p.update(a)
			u.DisconnectTime, u.NextAllocation = time.Time{}, ""
			ch.Reconnect++
			if r != nil {
				p.stop(r, "the allocation it replaced came back with its node", false, false)
				ch.Stop++
			}
		case a.NextAllocation == "":
			// No replacement (disconnect.replace = false): reconcileGroup
			// keeps or loses it.
		case !p.in.Now.Before(a.DisconnectTime.Add(g.LostAfter().Std())):
			p.stop(a, "node did not come back within disconnect.lost_after: allocation lost", true, false)
			ch.Lost++
		default:
			p.wakeAt(a.DisconnectTime.Add(g.LostAfter().Std()))
		}
	}
}

// keepOriginal decides, when a node comes back, whether the original
// allocation stays (its replacement stops) or the replacement does.
func keepOriginal(mode string, orig, repl *api.Allocation) bool {
	switch mode {
	case "keep_replacement":
		return false
	case "longest_running":
		o, r := startedAt(orig), startedAt(repl)
		return r.IsZero() || (!o.IsZero() && !r.Before(o))
	}
	return true
}

// startedAt is when the earliest task of an allocation started (zero if
// none reported).
func startedAt(a *api.Allocation) time.Time {
	var t time.Time
	if a.Status == nil {
		return t
	}
	for _, ts := range a.Status.Tasks {
		if !ts.StartedAt.IsZero() && (t.IsZero() || ts.StartedAt.Before(t)) {
			t = ts.StartedAt
		}
	}
	return t
}
