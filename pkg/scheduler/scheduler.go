package scheduler

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Scheduling algorithms for the bin-packing score.
const (
	AlgorithmBinpack = "binpack"
	AlgorithmSpread  = "spread"
)

// Config tunes the scheduler. The zero value means the defaults.
type Config struct {
	// Algorithm is binpack (default: fill nodes) or spread (use empty
	// nodes first).
	Algorithm string
	// Limit is how many feasible nodes are scored per placement (default
	// 2).
	Limit int
	// MinDynamicPort and MaxDynamicPort bound dynamic ports (default
	// 20000-32000).
	MinDynamicPort int
	MaxDynamicPort int
	// Seed fixes the random choices of the evaluation.
	Seed uint64
	// DisablePreemption turns off preemption for system jobs.
	DisablePreemption bool
}

func (c *Config) defaults() {
	if c.Algorithm == "" {
		c.Algorithm = AlgorithmBinpack
	}
	if c.Limit <= 0 {
		c.Limit = 2
	}
	if c.MinDynamicPort <= 0 {
		c.MinDynamicPort = DefaultMinDynamicPort
	}
	if c.MaxDynamicPort < c.MinDynamicPort {
		c.MaxDynamicPort = max(DefaultMaxDynamicPort, c.MinDynamicPort)
	}
}

// Input is everything one scheduling pass reads.
type Input struct {
	Namespace string
	JobID     string
	// Job is the job's current specification; nil when it was purged.
	Job *api.Job
	// Versions holds older versions of the job that allocations still
	// run, to decide between in-place and destructive updates. A
	// version missing here is updated destructively.
	Versions map[uint64]*api.Job
	Nodes    []*api.Node
	// Allocs are all the allocations of the cluster, with their status.
	Allocs []*api.Allocation
	// State, when set, is used instead of Nodes and Allocs: a view built
	// once with NewState and kept current with State.Apply.
	State  *State
	EvalID string
	Now    time.Time
	// NewID makes allocation IDs; passed in to keep the package pure.
	NewID func() string
	// Deployment is the job's newest deployment, if any: the rollout of
	// the current version advances under it (see deployment.go).
	Deployment *api.Deployment
	Config     Config
}

// Plan is what a scheduling pass decided.
type Plan struct {
	// Place are new allocations.
	Place []*api.Allocation
	// Update are existing allocations with a new desired state: stops,
	// in-place updates, links to their replacements.
	Update []*api.Allocation
	// Preempted are the allocations of other jobs stopped to make room
	// (also in Update); their jobs need an evaluation.
	Preempted []*api.Allocation
	// Failed explains, per task group, the placements that found no node.
	Failed map[string]*api.AllocMetric
	// NextEvalAt, when set, is when the job needs another evaluation
	// (a reschedule waiting for its delay).
	NextEvalAt time.Time
	// Changes counts the plan's actions per task group.
	Changes map[string]*api.PlanChanges
	// Distribution shows, for groups with spread blocks, allocations per
	// attribute value once the plan is applied.
	Distribution []api.SpreadDistribution
	// Deployment is a deployment to create with the plan: its
	// allocations name it.
	Deployment *api.Deployment
	// DeploymentUpdates are deployments the plan ends (an older
	// version's, cancelled).
	DeploymentUpdates []*api.Deployment
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
func (p *Plan) Empty() bool {
	return len(p.Place) == 0 && len(p.Update) == 0 && p.Deployment == nil && len(p.DeploymentUpdates) == 0
}

// planner carries one Compute call.
type planner struct {
	in        *Input
	cfg       Config
	st        *State
	ov        map[int]*overlay
	rng       *rand.Rand
	start     int
	stride    int
	plan      *Plan
	jobAllocs []*api.Allocation
	byID      map[string]*api.Allocation
	updated   map[string]*api.Allocation // allocations already in plan.Update
	dep       *api.Deployment            // the deployment of the job's version, if any
	depNew    bool                       // dep is created by this plan if it uses it
}

// Compute reconciles the job with its allocations and places what is
// missing. See the package documentation.
func Compute(in *Input) *Plan {
	p := &planner{in: in, cfg: in.Config, plan: &Plan{Changes: map[string]*api.PlanChanges{}},
		byID: map[string]*api.Allocation{}, updated: map[string]*api.Allocation{}, ov: map[int]*overlay{}}
	p.cfg.defaults()
	p.rng = newRand(p.cfg.Seed)
	p.st = in.State
	if p.st == nil {
		p.st = NewState(in.Nodes, in.Allocs)
	}
	p.jobAllocs = append([]*api.Allocation(nil), p.st.byJob[jobKey(in.Namespace, in.JobID)]...)
	for _, a := range p.jobAllocs {
		p.byID[a.ID] = a
	}
	sort.SliceStable(p.jobAllocs, func(i, j int) bool { return p.jobAllocs[i].Index < p.jobAllocs[j].Index })
	job := in.Job
	if job == nil || job.Stop {
		why := "job was purged"
		if job != nil {
			why = "job was stopped"
		}
		for _, a := range p.jobAllocs {
			if a.DesiredStatus == api.AllocDesiredRun {
				p.stop(a, why, p.nodeDown(a.NodeID) && !a.Terminal(), false)
				p.changes(a.TaskGroup).Stop++
			}
		}
		return p.plan
	}
	if job.IsTemplate() {
		// Periodic and parameterized jobs are launched as child jobs;
		// the job itself runs nothing.
		return p.plan
	}
	for _, a := range p.jobAllocs {
		if a.DesiredStatus == api.AllocDesiredRun && job.LookupGroup(a.TaskGroup) == nil {
			p.stop(a, "group was removed from the job", false, false)
			p.changes(a.TaskGroup).Stop++
		}
	}
	p.setupDeployment()
	for _, g := range job.Groups {
		if job.Type == api.JobTypeSystem || job.Type == api.JobTypeSysbatch {
			p.reconcileSystem(g)
		} else {
			p.reconcileGroup(g)
		}
	}
	p.finishDeployment()
	p.distribution()
	return p.plan
}

// distribution fills Plan.Distribution for groups with spread blocks.
func (p *planner) distribution() {
	job := p.in.Job
	stopped := map[string]bool{}
	for _, u := range p.plan.Update {
		if u.DesiredStatus == api.AllocDesiredStop {
			stopped[u.ID] = true
		}
	}
	for _, g := range job.Groups {
		spreads := append(append([]*api.Spread(nil), job.Spreads...), g.Spreads...)
		if len(spreads) == 0 {
			continue
		}
		var allocs []*api.Allocation
		for _, a := range p.jobAllocs {
			if a.TaskGroup == g.Name && live(a) && !stopped[a.ID] {
				allocs = append(allocs, a)
			}
		}
		for _, a := range p.plan.Place {
			if a.TaskGroup == g.Name {
				allocs = append(allocs, a)
			}
		}
		for _, sp := range spreads {
			d := api.SpreadDistribution{Group: g.Name, Attribute: sp.Attribute, Counts: map[string]int{}}
			for _, a := range allocs {
				if ns := p.st.byID[a.NodeID]; ns != nil {
					v, ok := resolve(ns.node, sp.Attribute)
					if !ok {
						v = "<unset>"
					}
					d.Counts[v]++
				}
			}
			d.Targets = desiredPerValue(sp, g.Count, p.st.values(sp.Attribute))
			p.plan.Distribution = append(p.plan.Distribution, d)
		}
	}
}

func (p *planner) changes(group string) *api.PlanChanges {
	c := p.plan.Changes[group]
	if c == nil {
		c = &api.PlanChanges{}
		p.plan.Changes[group] = c
	}
	return c
}

func (p *planner) nodeDown(id string) bool {
	ns := p.st.byID[id]
	return ns == nil || ns.node.Status != api.NodeStatusReady
}

// update returns the plan's copy of an existing allocation, creating it.
func (p *planner) update(a *api.Allocation) *api.Allocation {
	if u := p.updated[a.ID]; u != nil {
		return u
	}
	c := *a
	c.Status = nil
	c.ModifyTime = p.in.Now
	p.updated[a.ID] = &c
	p.plan.Update = append(p.plan.Update, &c)
	return &c
}

// stop stops an allocation and gives its resources back to its node.
func (p *planner) stop(a *api.Allocation, why string, lost, migrate bool) *api.Allocation {
	if !a.Terminal() {
		if ns := p.st.byID[a.NodeID]; ns != nil {
			p.removeAlloc(ns, a)
		}
	}
	u := p.update(a)
	u.DesiredStatus = api.AllocDesiredStop
	u.DesiredDescription = why
	u.NodeLost = u.NodeLost || lost
	u.Migrate = u.Migrate || migrate
	return u
}

// replacement describes an allocation to place in place of another.
type replacement struct {
	prev   *api.Allocation
	kind   string // lost, reschedule, destructive, migrate
	delay  api.Duration
	index  int
	canary bool
}

// reconcileGroup reconciles a service or batch group.
func (p *planner) reconcileGroup(g *api.TaskGroup) {
	job := p.in.Job
	batch := job.Type == api.JobTypeBatch
	ch := p.changes(g.Name)
	var live, done, occupying []*api.Allocation
	var repl []replacement
	var draining []*api.Allocation
	p.reconcileDisconnected(g)
	for _, orig := range p.jobAllocs {
		a := p.cur(orig)
		if a.TaskGroup != g.Name || a.DesiredStatus != api.AllocDesiredRun || a.NextAllocation != "" {
			continue
		}
		cs := a.ClientStatusOf()
		switch {
		case p.nodeDown(a.NodeID) && !a.Terminal() && p.keepDisconnected(g, a):
			if g.ReplaceDisconnected() {
				repl = append(repl, replacement{prev: a, kind: "disconnect", index: a.Index})
			} else {
				occupying = append(occupying, a)
			}
		case p.nodeDown(a.NodeID) && !a.Terminal():
			p.stop(a, "node is down: allocation lost", true, false)
			repl = append(repl, replacement{prev: a, kind: "lost", index: a.Index})
			ch.Lost++
		case cs == api.AllocClientComplete && batch:
			done = append(done, a)
		case !batch && a.JobVersion != job.Version && (cs == api.AllocClientFailed || cs == api.AllocClientComplete):
			// A service allocation of an older version that ended is
			// replaced by the current version, whatever its reschedule
			// policy: the job changed since it failed.
			repl = append(repl, replacement{prev: a, kind: "destructive", index: a.Index})
		case cs == api.AllocClientFailed || cs == api.AllocClientComplete || cs == api.AllocClientLost:
			if r, ok, wait := p.rescheduleDecision(g, a); ok {
				repl = append(repl, r)
			} else {
				if !wait.IsZero() && (p.plan.NextEvalAt.IsZero() || wait.Before(p.plan.NextEvalAt)) {
					p.plan.NextEvalAt = wait
				}
				occupying = append(occupying, a)
				ch.Ignore++
			}
		case a.Canary && a.JobVersion != job.Version:
			p.stop(a, "canary of a replaced job version", false, false)
			ch.Stop++
		case a.Canary && p.unpromotedCanary(a) && !p.dep.Active():
			p.stop(a, "canary of a "+p.dep.Status+" deployment", false, false)
			ch.Stop++
		case a.Canary && p.unpromotedCanary(a):
			// Canaries run beside the count until promoted.
		default:
			if ns := p.st.byID[a.NodeID]; ns != nil && ns.node.Drain != nil {
				draining = append(draining, a)
			}
			live = append(live, a)
		}
	}

	// Scale down: keep count, stopping old versions, then the least
	// advanced, then the highest indexes.
	occupied := len(live) + len(done) + len(occupying) + len(repl)
	if extra := occupied - g.Count; extra > 0 {
		sort.SliceStable(live, func(i, j int) bool { return stopFirst(live[i], live[j], job.Version) })
		for extra > 0 && len(live) > 0 {
			a := live[0]
			live = live[1:]
			p.stop(a, "scaled down", false, false)
			ch.Stop++
			extra--
		}
		// Pending replacements beyond the count are dropped too.
		for extra > 0 && len(repl) > 0 {
			r := repl[len(repl)-1]
			repl = repl[:len(repl)-1]
			if r.kind != "lost" {
				p.stop(r.prev, "scaled down", false, false)
			}
			extra--
		}
	}
	stillLive := map[string]bool{}
	for _, a := range live {
		stillLive[a.ID] = true
	}
	draining = filterAllocs(draining, stillLive)

	// Updates of allocations running an older version.
	var old []*api.Allocation
	for _, a := range live {
		if a.JobVersion != job.Version {
			old = append(old, a)
		}
	}
	destructive := p.planUpdates(g, old, &repl)

	// Migrations off draining nodes, at most migrate.max_parallel at a
	// time unless a drain deadline passed.
	p.planMigrations(g, draining, destructive, &repl)

	used := map[int]bool{}
	for _, set := range [][]*api.Allocation{live, done, occupying} {
		for _, a := range set {
			used[a.Index] = true
		}
	}
	for _, r := range repl {
		used[r.index] = true
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
	for _, r := range repl {
		p.placeReplacement(sel, g, r, fail)
	}
	// A replacement of a live allocation (destructive update, migration)
	// takes its place rather than adding one.
	replacing := 0
	for _, r := range repl {
		if r.prev != nil && stillLive[r.prev.ID] {
			replacing++
		}
	}
	missing := g.Count - (len(live) + len(done) + len(occupying) + len(repl) - replacing)
	for idx := 0; missing > 0; idx++ {
		if used[idx] {
			continue
		}
		missing--
		m := &api.AllocMetric{}
		ns := sel.selectNode("", m)
		if ns == nil {
			fail(m)
			continue
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
// allows it, and queues destructive replacements within the update
// strategy's parallelism. It returns how many destructive updates are in
// flight or planned.
func (p *planner) planUpdates(g *api.TaskGroup, old []*api.Allocation, repl *[]replacement) int {
	job := p.in.Job
	ch := p.changes(g.Name)
	var destructive []*api.Allocation
	for _, a := range old {
		// An allocation judged unhealthy is replaced, not carried into
		// the new version's deployment.
		unhealthy := a.Health() != nil && !a.Health().Healthy
		if prev := p.in.Versions[a.JobVersion]; prev != nil && !unhealthy && inPlace(prev, job, g.Name) {
			u := p.update(a)
			u.JobVersion = job.Version
			p.tagDeployment(u)
			ch.InPlace++
			continue
		}
		destructive = append(destructive, a)
	}
	if len(destructive) == 0 {
		return 0
	}
	if !p.mayReplace(g.Name) {
		ch.Ignore += len(destructive)
		return 0
	}
	budget := len(destructive)
	inflight := 0
	if u := g.Update; u != nil && u.MaxParallel > 0 {
		// Allocations of the current version not yet healthy are in
		// flight and use the budget.
		for _, a := range p.jobAllocs {
			if a.TaskGroup == g.Name && !a.Canary && p.inFlight(a) {
				inflight++
			}
		}
		budget = max(u.MaxParallel-inflight, 0)
		if p.wantsCanaries(g.Name) {
			p.planCanaries(g, p.dep.Groups[g.Name].DesiredCanaries, repl)
			ch.Ignore += len(destructive)
			return inflight
		}
	}
	sort.SliceStable(destructive, func(i, j int) bool { return stopFirst(destructive[i], destructive[j], job.Version) })
	for i, a := range destructive {
		if i >= budget {
			ch.Ignore++
			continue
		}
		*repl = append(*repl, replacement{prev: a, kind: "destructive", index: a.Index})
	}
	return inflight + min(budget, len(destructive))
}

// planCanaries places canaries of the new version beside the old
// allocations, which stay until the canaries are promoted.
func (p *planner) planCanaries(g *api.TaskGroup, want int, repl *[]replacement) {
	have := 0
	for _, a := range p.jobAllocs {
		if a.TaskGroup == g.Name && a.JobVersion == p.in.Job.Version && a.Canary && a.DesiredStatus == api.AllocDesiredRun {
			have++
		}
	}
	for i := have; i < want; i++ {
		*repl = append(*repl, replacement{kind: "canary", index: -1, canary: true})
	}
}

// planMigrations queues replacements for allocations on draining nodes.
func (p *planner) planMigrations(g *api.TaskGroup, draining []*api.Allocation, busy int, repl *[]replacement) {
	if len(draining) == 0 {
		return
	}
	queued := map[string]bool{}
	for _, r := range *repl {
		if r.prev != nil {
			queued[r.prev.ID] = true
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
	for _, a := range p.jobAllocs {
		if a.TaskGroup != g.Name || a.PreviousAllocation == "" || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			continue
		}
		prev := p.byID[a.PreviousAllocation]
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
		ns := p.st.byID[a.NodeID]
		deadline := ns.node.Drain.Deadline
		force := !deadline.IsZero() && !p.in.Now.Before(deadline)
		if !force && budget <= 0 {
			p.changes(g.Name).Ignore++
			continue
		}
		budget--
		*repl = append(*repl, replacement{prev: a, kind: "migrate", index: a.Index})
	}
}

// placeReplacement places one replacement and, on success, stops or links
// the allocation it replaces.
func (p *planner) placeReplacement(sel *selector, g *api.TaskGroup, r replacement, fail func(*api.AllocMetric)) {
	ch := p.changes(g.Name)
	m := &api.AllocMetric{}
	avoid := ""
	if r.kind == "reschedule" || r.kind == "disconnect" {
		avoid = r.prev.NodeID
	}
	// A destructive update or migration frees the old allocation's
	// resources in the same plan; put them back if no place is found.
	freed := false
	if (r.kind == "destructive" || r.kind == "migrate") && !r.prev.Terminal() {
		if ns := p.st.byID[r.prev.NodeID]; ns != nil {
			p.removeAlloc(ns, r.prev)
			freed = true
		}
	}
	idx := r.index
	if r.canary {
		idx = p.nextCanaryIndex(g)
	}
	ns := sel.selectNode(avoid, m)
	var a *api.Allocation
	if ns != nil {
		a = p.place(sel, g, ns, idx, r.prev, r.canary)
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
		return
	}
	switch r.kind {
	case "lost":
		// Already stopped as lost.
	case "reschedule":
		a.RescheduleTracker = append(append([]api.RescheduleEvent(nil), r.prev.RescheduleTracker...),
			api.RescheduleEvent{Time: p.in.Now, PrevAlloc: r.prev.ID, PrevNode: r.prev.NodeID, Delay: r.delay})
		u := p.update(r.prev)
		u.NextAllocation = a.ID
		ch.Reschedule++
	case "destructive":
		u := p.stop(r.prev, fmt.Sprintf("replaced by job version %d", p.in.Job.Version), false, false)
		u.NextAllocation = a.ID
		ch.Destructive++
	case "migrate":
		u := p.stop(r.prev, "migrated off draining node", false, true)
		u.NextAllocation = a.ID
		a.Migrated = true
		ch.Migrate++
	case "canary":
		ch.Canary++
	case "disconnect":
		u := p.update(r.prev)
		u.NextAllocation = a.ID
		ch.Place++
	}
	if r.kind == "lost" {
		ch.Place++
	}
}

func (p *planner) nextCanaryIndex(g *api.TaskGroup) int {
	maxIdx := g.Count - 1
	for _, a := range p.jobAllocs {
		if a.TaskGroup == g.Name && a.Index > maxIdx {
			maxIdx = a.Index
		}
	}
	for _, a := range p.plan.Place {
		if a.TaskGroup == g.Name && a.Index > maxIdx {
			maxIdx = a.Index
		}
	}
	return maxIdx + 1
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
