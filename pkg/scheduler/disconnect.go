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

// keepDisconnected reports whether an allocation on a down node is within
// its group's lost_after, counting it as newly disconnected the first time
// (placement marks it).
func (r *reconciler) keepDisconnected(g *api.TaskGroup, a *api.Allocation, d *decisions) bool {
	la := g.LostAfter().Std()
	if la <= 0 {
		return false
	}
	since := a.DisconnectTime
	if since.IsZero() {
		since = r.now
		d.changes.Disconnect++
	}
	deadline := since.Add(la)
	if !r.now.Before(deadline) {
		return false
	}
	d.wake(deadline)
	return true
}

// reconcileDisconnected settles the group's unknown allocations that have
// a replacement: the node came back (keep one of the two), or lost_after
// passed (the original is lost). Unknown allocations without a
// replacement are settled by group. It returns the allocations it
// changed as they are now, for group to go on from.
func (r *reconciler) reconcileDisconnected(g *api.TaskGroup, d *decisions) map[string]*api.Allocation {
	var view map[string]*api.Allocation
	change := func(a *api.Allocation, f func(*api.Allocation)) {
		if view == nil {
			view = map[string]*api.Allocation{}
		}
		c := view[a.ID]
		if c == nil {
			cp := *a
			c = &cp
			view[a.ID] = c
		}
		f(c)
	}
	stop := func(a *api.Allocation, why string, lost bool) {
		d.stopAlloc(a, why, lost)
		change(a, func(c *api.Allocation) { c.DesiredStatus = api.AllocDesiredStop })
	}
	for _, a := range r.allocs {
		if a.TaskGroup != g.Name || a.DisconnectTime.IsZero() || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			continue
		}
		var rp *api.Allocation
		if x := r.byID[a.NextAllocation]; x != nil && x.DesiredStatus == api.AllocDesiredRun && !x.Terminal() {
			rp = x
		}
		switch {
		case !r.nodeDown(a.NodeID):
			if rp != nil && !keepOriginal(g.ReconcileMode(), a, rp) {
				stop(a, "its node came back; the replacement is kept (disconnect.reconcile)", false)
				d.changes.Stop++
				continue
			}
			d.reconnect = append(d.reconnect, a)
			change(a, func(c *api.Allocation) { c.DisconnectTime, c.NextAllocation = time.Time{}, "" })
			d.changes.Reconnect++
			if rp != nil {
				stop(rp, "the allocation it replaced came back with its node", false)
				d.changes.Stop++
			}
		case a.NextAllocation == "":
			// No replacement (disconnect.replace = false): group keeps
			// or loses it.
		case !r.now.Before(a.DisconnectTime.Add(g.LostAfter().Std())):
			stop(a, "node did not come back within disconnect.lost_after: allocation lost", true)
			d.changes.Lost++
		default:
			d.disconnect = append(d.disconnect, a)
			d.wake(a.DisconnectTime.Add(g.LostAfter().Std()))
		}
	}
	return view
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
