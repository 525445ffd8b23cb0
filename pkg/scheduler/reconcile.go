package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Reconciliation decides what becomes of a job's allocations before any
// node is chosen: which stop, which are updated in place, which are
// replaced and why, and which new indexes are placed. It reads the job,
// the older versions its allocations run, the job's allocations, the
// nodes they are on (ready, down, draining and the drain's deadline), the
// deployment the plan works under and the time, and returns sets. It never
// picks a node nor looks at a node's capacity: placement (place.go) takes
// the sets, places what they ask for and records why a placement failed.

// replaceKind says why an allocation is replaced, which decides how its
// replacement is placed and what becomes of the allocation it replaces.
type replaceKind int

const (
	// replaceLost replaces an allocation lost with its node; the
	// allocation itself is stopped as lost whether or not its
	// replacement finds a node.
	replaceLost replaceKind = iota + 1
	// replaceReschedule replaces a failed allocation per the group's
	// reschedule policy, away from the node it failed on; the failed
	// allocation is linked to its replacement.
	replaceReschedule
	// replaceDestructive replaces an allocation of an older job version
	// that cannot be updated in place; it stops once the replacement is
	// placed.
	replaceDestructive
	// replaceMigrate moves an allocation off a draining node; it stops
	// once the replacement is placed.
	replaceMigrate
	// replaceCanary places a canary of the current version beside the
	// old allocations; it replaces none.
	replaceCanary
	// replaceDisconnect places a replacement for an unknown allocation of
	// a disconnected node, away from that node; the unknown allocation
	// is kept and linked to its replacement.
	replaceDisconnect
	// replaceStopped replaces an allocation an operator stopped (alloc
	// stop): it is stopped whether or not its replacement finds a node,
	// and linked to its replacement.
	replaceStopped
)

var replaceKindNames = [...]string{
	replaceLost:        "lost",
	replaceReschedule:  "reschedule",
	replaceDestructive: "destructive",
	replaceMigrate:     "migrate",
	replaceCanary:      "canary",
	replaceDisconnect:  "disconnect",
	replaceStopped:     "stopped",
}

// String names the kind as the plan's counts do.
func (k replaceKind) String() string {
	if k > 0 && int(k) < len(replaceKindNames) {
		return replaceKindNames[k]
	}
	return fmt.Sprintf("replaceKind(%d)", int(k))
}

// prevStopped reports whether the replaced allocation was stopped when
// the replacement was decided on.
func (k replaceKind) prevStopped() bool { return k == replaceLost || k == replaceStopped }

// avoidsPrevNode reports whether the replacement is penalized on the node
// of the allocation it replaces.
func (k replaceKind) avoidsPrevNode() bool { return k == replaceReschedule || k == replaceDisconnect }

// freesPrev reports whether the replaced allocation, still running, gives
// its resources to the choice of its replacement's node: it stops in the
// same plan.
func (k replaceKind) freesPrev() bool { return k == replaceDestructive || k == replaceMigrate }

// replacement is an allocation to place in place of another.
type replacement struct {
	prev  *api.Allocation // nil for a canary
	kind  replaceKind
	delay api.Duration // the reschedule delay waited, for the tracker
	// index is the replacement's index: the replaced allocation's, or
	// for a canary the one after the group's highest (placement gives it
	// to the next canary if this one finds no node).
	index int
	// forced is a migration past its drain's deadline: the allocation
	// leaves the node even when its replacement finds no other.
	forced bool
}

// stopping is an allocation that reconciliation stops, and why.
type stopping struct {
	alloc *api.Allocation
	why   string
	lost  bool // its node is down
}

// delayed is a failed allocation whose replacement waits for its
// reschedule delay.
type delayed struct {
	alloc *api.Allocation
	at    time.Time
}

// decisions is what reconciliation decided for one service or batch
// group. Allocations appear as given, except that those whose node came
// back appear reconnected (without their disconnect time), as the
// decisions taken after reconnecting them saw them.
type decisions struct {
	// reconnect are unknown allocations whose node came back in time and
	// that stay: their disconnect time and replacement link are cleared.
	reconnect []*api.Allocation
	// disconnect are unknown allocations of down nodes kept within
	// lost_after; those not marked yet (a zero DisconnectTime) are marked
	// now. Those without a replacement get one (in replace) unless
	// disconnect.replace is false.
	disconnect []*api.Allocation
	// stop are the allocations stopped before anything is placed, in the
	// order decided.
	stop []stopping
	// inPlace are allocations of an older version moved to the current
	// one without a restart.
	inPlace []*api.Allocation
	// replace are the replacements to place, in the order they are
	// placed: those of lost, failed and unknown allocations in the
	// allocations' order, then destructive updates or canaries, then
	// migrations.
	replace []replacement
	// place are the indexes of new allocations, placed after the
	// replacements.
	place []int
	// rescheduleLater are failed allocations that wait for their
	// reschedule delay.
	rescheduleLater []delayed
	// ignore are the group's other allocations that still count (running
	// ones, complete batch ones, failed ones out of reschedule attempts,
	// canaries waiting for promotion, old versions and draining ones
	// waiting for their turn): left as they are.
	ignore []*api.Allocation
	// changes counts the decisions; placement adds what it places and
	// what it fails to place.
	changes api.PlanChanges
	// wakeAt, when set, is when the group needs another evaluation: a
	// reschedule delay or a lost_after that ends.
	wakeAt time.Time
}

func (d *decisions) wake(t time.Time) {
	if d.wakeAt.IsZero() || t.Before(d.wakeAt) {
		d.wakeAt = t
	}
}

func (d *decisions) stopAlloc(a *api.Allocation, why string, lost bool) {
	d.stop = append(d.stop, stopping{alloc: a, why: why, lost: lost})
}

// reconciler reconciles the groups of one job. It is pure: everything it
// reads comes in its fields, and it changes none of them.
type reconciler struct {
	job      *api.Job            // nil when the job was purged
	versions map[uint64]*api.Job // older versions, for in-place updates
	allocs   []*api.Allocation   // the job's allocations, by index
	byID     map[string]*api.Allocation
	node     func(id string) *api.Node // nil for a node that is gone
	dep      *api.Deployment           // the deployment the plan works under
	now      time.Time
	// hold leaves the allocations of down nodes alone (Config.HoldDownNodes).
	hold bool
	// settle is how long a node must be down before its allocations are
	// lost (Config.DownSettle).
	settle time.Duration
}

// held reports whether an allocation sits on a down node whose
// allocations are held.
func (r *reconciler) held(a *api.Allocation) bool {
	if !r.hold || a.Terminal() {
		return false
	}
	n := r.node(a.NodeID)
	return n != nil && n.Status != api.NodeStatusReady
}

func (r *reconciler) nodeDown(id string) bool {
	n := r.node(id)
	return n == nil || n.Status != api.NodeStatusReady
}

// justDown reports whether a node is down since less than the settle time
// (Config.DownSettle): its allocations are waited for, not replaced yet.
func (r *reconciler) justDown(id string) bool {
	n := r.node(id)
	return n != nil && justDown(n, r.settle, r.now)
}

func justDown(n *api.Node, settle time.Duration, now time.Time) bool {
	return n.Status != api.NodeStatusReady && !n.DownSince.IsZero() && now.Sub(n.DownSince) < settle
}

// stopAll stops every allocation of a stopped or purged job.
func (r *reconciler) stopAll() []stopping {
	why := "job was purged"
	if r.job != nil {
		why = "job was stopped"
	}
	var out []stopping
	for _, a := range r.allocs {
		if a.DesiredStatus == api.AllocDesiredRun {
			out = append(out, stopping{alloc: a, why: why, lost: r.nodeDown(a.NodeID) && !a.Terminal()})
		}
	}
	return out
}

// removedGroups stops the allocations of groups the job no longer has.
func (r *reconciler) removedGroups() []stopping {
	var out []stopping
	for _, a := range r.allocs {
		if a.DesiredStatus == api.AllocDesiredRun && r.job.LookupGroup(a.TaskGroup) == nil {
			out = append(out, stopping{alloc: a, why: "group was removed from the job"})
		}
	}
	return out
}

// group reconciles a service or batch group.
func (r *reconciler) group(g *api.TaskGroup) *decisions {
	d := &decisions{}
	view := r.reconcileDisconnected(g, d)
	c := r.classify(g, view, d)
	r.dropDuplicates(&c, d)
	r.scaleDown(g, &c, d)
	stillLive := map[string]bool{}
	for _, a := range c.live {
		stillLive[a.ID] = true
	}

	// Updates of allocations running an older version.
	var old []*api.Allocation
	for _, a := range c.live {
		if a.JobVersion != r.job.Version {
			old = append(old, a)
		}
	}
	c.repl = r.planUpdates(g, old, c.repl, d)

	// Migrations off draining nodes, at most migrate.max_parallel at a
	// time unless a drain deadline passed.
	c.repl = r.planMigrations(g, filterAllocs(c.draining, stillLive), c.repl, d)
	d.replace = c.repl

	used := map[int]bool{}
	for _, set := range [][]*api.Allocation{c.live, c.done, c.occupying} {
		for _, a := range set {
			used[a.Index] = true
		}
	}
	// A replacement of a live allocation (destructive update, migration)
	// takes its place rather than adding one.
	replacing := 0
	touched := map[string]bool{}
	for _, a := range d.inPlace {
		touched[a.ID] = true
	}
	for _, rp := range c.repl {
		if rp.kind != replaceCanary {
			used[rp.index] = true
		}
		if rp.prev != nil && stillLive[rp.prev.ID] {
			touched[rp.prev.ID] = true
			replacing++
		}
	}
	// The live allocations neither updated nor replaced stay as they are.
	d.ignore = slices.Grow(d.ignore, max(len(c.live)-len(touched), 0))
	for _, a := range c.live {
		if !touched[a.ID] {
			d.ignore = append(d.ignore, a)
		}
	}
	missing := g.Count - (len(c.live) + len(c.done) + len(c.occupying) + len(c.repl) - replacing)
	if missing > 0 {
		d.place = make([]int, 0, missing)
	}
	for idx := 0; missing > 0; idx++ {
		if !used[idx] {
			d.place = append(d.place, idx)
			missing--
		}
	}
	return d
}

// classes are a group's allocations sorted by what counts them toward
// the group's count.
type classes struct {
	live      []*api.Allocation // running, or to be: may be updated, migrated or scaled down
	done      []*api.Allocation // complete batch allocations
	occupying []*api.Allocation // failed ones not replaced (yet), unknown ones not replaced
	draining  []*api.Allocation // the live ones on draining nodes
	repl      []replacement     // replacements of lost, failed and unknown allocations
}

// classify sorts the group's allocations that are meant to run and have
// no replacement yet, deciding about the lost, failed, unknown and
// canary ones on the way. view holds the allocations reconcileDisconnected
// changed.
func (r *reconciler) classify(g *api.TaskGroup, view map[string]*api.Allocation, d *decisions) classes {
	job := r.job
	batch := job.Type == api.JobTypeBatch
	var c classes
	for _, a := range r.allocs {
		if v := view[a.ID]; v != nil {
			a = v
		}
		if a.TaskGroup != g.Name || a.DesiredStatus != api.AllocDesiredRun || a.NextAllocation != "" {
			continue
		}
		cs := a.ClientStatusOf()
		switch {
		case r.held(a):
			// Many nodes went down at once: wait for them rather than
			// move their work.
			c.occupying = append(c.occupying, a)
			d.ignore = append(d.ignore, a)
			d.changes.Ignore++
		case r.justDown(a.NodeID) && !a.Terminal():
			// Its node went down a moment ago: wait, and look again
			// when the settle time is up (this server may have seen
			// the node go later than the leader, whose evaluation
			// came with its own settle time).
			c.occupying = append(c.occupying, a)
			d.ignore = append(d.ignore, a)
			d.changes.Ignore++
			d.wake(r.node(a.NodeID).DownSince.Add(r.settle))
		case a.StopRequested && !a.Terminal():
			d.stopAlloc(a, "alloc was stopped by an operator", false)
			c.repl = append(c.repl, replacement{prev: a, kind: replaceStopped, index: a.Index})
			d.changes.Stop++
		case r.nodeDown(a.NodeID) && !a.Terminal() && r.keepDisconnected(g, a, d):
			d.disconnect = append(d.disconnect, a)
			if g.ReplaceDisconnected() {
				c.repl = append(c.repl, replacement{prev: a, kind: replaceDisconnect, index: a.Index})
			} else {
				c.occupying = append(c.occupying, a)
			}
		case r.nodeDown(a.NodeID) && !a.Terminal():
			d.stopAlloc(a, "node is down: allocation lost", true)
			c.repl = append(c.repl, replacement{prev: a, kind: replaceLost, index: a.Index})
			d.changes.Lost++
		case cs == api.AllocClientComplete && batch:
			c.done = append(c.done, a)
			d.ignore = append(d.ignore, a)
		case !batch && a.JobVersion != job.Version && (cs == api.AllocClientFailed || cs == api.AllocClientComplete):
			// A service allocation of an older version that ended is
			// replaced by the current version, whatever its reschedule
			// policy: the job changed since it failed.
			c.repl = append(c.repl, replacement{prev: a, kind: replaceDestructive, index: a.Index})
		case cs == api.AllocClientFailed || cs == api.AllocClientComplete || cs == api.AllocClientLost:
			if rp, ok, wait := r.rescheduleDecision(g, a); ok {
				c.repl = append(c.repl, rp)
			} else {
				if !wait.IsZero() {
					d.rescheduleLater = append(d.rescheduleLater, delayed{alloc: a, at: wait})
					d.wake(wait)
				} else {
					d.ignore = append(d.ignore, a)
				}
				c.occupying = append(c.occupying, a)
				d.changes.Ignore++
			}
		case a.Canary && a.JobVersion != job.Version:
			d.stopAlloc(a, "canary of a replaced job version", false)
			d.changes.Stop++
		case a.Canary && r.unpromotedCanary(a) && !r.dep.Active():
			d.stopAlloc(a, "canary of a "+r.dep.Status+" deployment", false)
			d.changes.Stop++
		case a.Canary && r.unpromotedCanary(a):
			// Canaries run beside the count until promoted.
			d.ignore = append(d.ignore, a)
		default:
			if n := r.node(a.NodeID); n != nil && n.Drain != nil {
				c.draining = append(c.draining, a)
			}
			c.live = append(c.live, a)
		}
	}
	return c
}

// dropDuplicates stops every live allocation whose name (its index in
// the group) another live one holds, keeping the one that runs, then the
// older: two allocations named job.group[3] are never what the job asks
// for (tasks read their index to pick a shard, a volume, a peer), and only
// a plan made from a view that missed the first can make the second. The
// stopped one no longer counts, so its slot is placed again at a free
// index by the same pass.
func (r *reconciler) dropDuplicates(c *classes, d *decisions) {
	holder := make(map[int]*api.Allocation, len(c.live))
	dup := false
	for _, a := range c.live {
		if h := holder[a.Index]; h == nil || keepFirst(a, h) {
			dup = dup || h != nil
			holder[a.Index] = a
		} else {
			dup = true
		}
	}
	if !dup {
		return
	}
	kept := c.live[:0:0]
	for _, a := range c.live {
		if holder[a.Index] == a {
			kept = append(kept, a)
			continue
		}
		d.stopAlloc(a, fmt.Sprintf("allocation %s holds the same index (%d)", api.ShortID(holder[a.Index].ID), a.Index), false)
		d.changes.Stop++
	}
	c.live = kept
}

// keepFirst orders two live allocations of the same name: the one that
// runs, then the one created first (the lower ID when both are equal).
func keepFirst(a, b *api.Allocation) bool {
	ar, br := a.ClientStatusOf() == api.AllocClientRunning, b.ClientStatusOf() == api.AllocClientRunning
	if ar != br {
		return ar
	}
	if a.CreateIndex != b.CreateIndex {
		return a.CreateIndex < b.CreateIndex
	}
	if !a.CreateTime.Equal(b.CreateTime) {
		return a.CreateTime.Before(b.CreateTime)
	}
	return a.ID < b.ID
}

// scaleDown keeps the group at its count: it stops live allocations, old
// versions first, then the least advanced, then the highest indexes; and
// then drops pending replacements, the latest first.
func (r *reconciler) scaleDown(g *api.TaskGroup, c *classes, d *decisions) {
	extra := len(c.live) + len(c.done) + len(c.occupying) + len(c.repl) - g.Count
	if extra <= 0 {
		return
	}
	sort.SliceStable(c.live, func(i, j int) bool { return stopFirst(c.live[i], c.live[j], r.job.Version) })
	for extra > 0 && len(c.live) > 0 {
		d.stopAlloc(c.live[0], "scaled down", false)
		d.changes.Stop++
		c.live = c.live[1:]
		extra--
	}
	for extra > 0 && len(c.repl) > 0 {
		rp := c.repl[len(c.repl)-1]
		c.repl = c.repl[:len(c.repl)-1]
		if !rp.kind.prevStopped() {
			// A lost or operator-stopped allocation is stopped already.
			d.stopAlloc(rp.prev, "scaled down", false)
		}
		extra--
	}
}

func filterAllocs(in []*api.Allocation, keep map[string]bool) []*api.Allocation {
	out := in[:0]
	for _, a := range in {
		if keep[a.ID] {
			out = append(out, a)
		}
	}
	return out
}

// stopFirst orders allocations for scaling down: older versions first,
// then those not running, then higher indexes.
func stopFirst(a, b *api.Allocation, version uint64) bool {
	if (a.JobVersion != version) != (b.JobVersion != version) {
		return a.JobVersion != version
	}
	ar, br := a.ClientStatusOf() == api.AllocClientRunning, b.ClientStatusOf() == api.AllocClientRunning
	if ar != br {
		return !ar
	}
	return a.Index > b.Index
}

// planUpdates updates old-version allocations in place where the change
// allows it, and queues destructive replacements (or the deployment's
// canaries) within the update strategy's parallelism.
func (r *reconciler) planUpdates(g *api.TaskGroup, old []*api.Allocation, repl []replacement, d *decisions) []replacement {
	job := r.job
	var destructive []*api.Allocation
	for _, a := range old {
		// An allocation judged unhealthy is replaced, not carried into
		// the new version's deployment.
		unhealthy := a.Health() != nil && !a.Health().Healthy
		if prev := r.versions[a.JobVersion]; prev != nil && !unhealthy && inPlace(prev, job, g.Name) {
			d.inPlace = append(d.inPlace, a)
			d.changes.InPlace++
			continue
		}
		destructive = append(destructive, a)
	}
	if len(destructive) == 0 {
		return repl
	}
	if !r.mayReplace(g.Name) {
		d.changes.Ignore += len(destructive)
		return repl
	}
	budget := len(destructive)
	if u := g.Update; u != nil && u.MaxParallel > 0 {
		// Allocations of the current version not yet healthy are in
		// flight and use the budget.
		inflight := 0
		for _, a := range r.allocs {
			if a.TaskGroup == g.Name && !a.Canary && r.inFlight(a) {
				inflight++
			}
		}
		budget = max(u.MaxParallel-inflight, 0)
		if r.wantsCanaries(g.Name) {
			d.changes.Ignore += len(destructive)
			return r.planCanaries(g, r.dep.Groups[g.Name].DesiredCanaries, repl)
		}
	}
	sort.SliceStable(destructive, func(i, j int) bool { return stopFirst(destructive[i], destructive[j], job.Version) })
	for i, a := range destructive {
		if i >= budget {
			d.changes.Ignore++
			continue
		}
		repl = append(repl, replacement{prev: a, kind: replaceDestructive, index: a.Index})
	}
	return repl
}

// planCanaries queues canaries of the new version beside the old
// allocations, which stay until the canaries are promoted. Canaries take
// the indexes after the group's count and its highest index.
func (r *reconciler) planCanaries(g *api.TaskGroup, want int, repl []replacement) []replacement {
	have := 0
	next := g.Count
	for _, a := range r.allocs {
		if a.TaskGroup != g.Name {
			continue
		}
		next = max(next, a.Index+1)
		if a.JobVersion == r.job.Version && a.Canary && a.DesiredStatus == api.AllocDesiredRun {
			have++
		}
	}
	for i := have; i < want; i++ {
		repl = append(repl, replacement{kind: replaceCanary, index: next})
		next++
	}
	return repl
}

// planMigrations queues replacements for allocations on draining nodes.
func (r *reconciler) planMigrations(g *api.TaskGroup, draining []*api.Allocation, repl []replacement, d *decisions) []replacement {
	if len(draining) == 0 {
		return repl
	}
	queued := map[string]bool{}
	for _, rp := range repl {
		if rp.prev != nil {
			queued[rp.prev.ID] = true
		}
	}
	maxPar := 1
	if g.Migrate != nil && g.Migrate.MaxParallel > 0 {
		maxPar = g.Migrate.MaxParallel
	}
	// A migration is in flight until its replacement is healthy per the
	// migrate block (judged by its node), or, for groups without one
	// (batch), until it runs.
	inflight := 0
	for _, a := range r.allocs {
		if a.TaskGroup != g.Name || a.PreviousAllocation == "" || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			continue
		}
		prev := r.byID[a.PreviousAllocation]
		if prev == nil || !prev.Migrate {
			continue
		}
		if g.Migrate != nil && a.Migrated {
			if h := a.Health(); h == nil || !h.Healthy {
				inflight++
			}
		} else if a.ClientStatusOf() == api.AllocClientPending {
			inflight++
		}
	}
	budget := maxPar - inflight
	for _, a := range draining {
		if queued[a.ID] {
			continue
		}
		deadline := r.node(a.NodeID).Drain.Deadline
		force := !deadline.IsZero() && !r.now.Before(deadline)
		if !force && budget <= 0 {
			d.changes.Ignore++
			continue
		}
		budget--
		repl = append(repl, replacement{prev: a, kind: replaceMigrate, index: a.Index, forced: force})
	}
	return repl
}

// inPlace reports whether moving group g from version prev to next leaves
// the running tasks as they are: only fields such as count, update,
// migrate, reschedule, restart and constraints changed. Services are
// registered by the node agent when the allocation starts, so a change of
// services or checks replaces the allocation.
func inPlace(prev, next *api.Job, group string) bool {
	pg, ng := prev.LookupGroup(group), next.LookupGroup(group)
	if pg == nil || ng == nil {
		return false
	}
	type destructiveFields struct {
		JobMeta  map[string]string
		Meta     map[string]string
		Network  *api.Network
		Volumes  map[string]*api.VolumeRequest
		Disk     *api.EphemeralDisk
		Services []*api.Service
		Tasks    []api.Task
	}
	view := func(j *api.Job, g *api.TaskGroup) string {
		d := destructiveFields{JobMeta: j.Meta, Meta: g.Meta, Network: g.Network, Volumes: g.Volumes, Disk: g.EphemeralDisk, Services: g.Services}
		for _, t := range g.Tasks {
			c := *t
			c.Constraints, c.Affinities = nil, nil
			d.Tasks = append(d.Tasks, c)
		}
		b, _ := json.Marshal(d)
		return string(b)
	}
	return view(prev, pg) == view(next, ng)
}
