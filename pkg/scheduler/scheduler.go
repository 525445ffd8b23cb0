package scheduler

import (
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
	// HoldDownNodes leaves the allocations of down nodes as they are —
	// not lost, not replaced — because so many nodes went down at once
	// that the cause is more likely the control plane or the network
	// than the nodes (HoldDown).
	HoldDownNodes bool
	// DownSettle is how long a node must have been down (api.Node's
	// DownSince) before its allocations count as lost and are replaced:
	// an overloaded etcd lets a lease run out here and there and its
	// node registers again a second later, and every pass that looked
	// in between used to replace its work. The leader's liveness
	// controller evaluates the node's jobs once the time is up (the same
	// DefaultDownSettle). 0: at once.
	DownSettle time.Duration
}

// DefaultDownSettle is how long a down node waits before its allocations
// are replaced, for the scheduler (Config.DownSettle) and the liveness
// controller alike.
const DefaultDownSettle = 2 * time.Second

// Mass failure: when at least HoldMinNodes nodes and more than HoldShare
// of all nodes are down at once, their allocations are held instead of
// replaced, as Kubernetes' node lifecycle controller stops evicting from
// a zone that is mostly unhealthy.
const (
	HoldMinNodes = 3
	HoldShare    = 0.5
)

// HoldDown reports whether down nodes' allocations should be held: down of
// total nodes is at least HoldMinNodes and more than HoldShare of them.
func HoldDown(down, total int) bool {
	return down >= HoldMinNodes && float64(down) > HoldShare*float64(total)
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
	// Cancelled, when set, is asked between placements whether the pass
	// should stop (its context ended): a pass over a huge job must not
	// outlive its time budget. A stopped pass returns what it placed so
	// far with Plan.Cancelled set.
	Cancelled func() bool
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
	// Cancelled says the pass stopped early (Input.Cancelled); the plan
	// is incomplete and must not be committed.
	Cancelled bool
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
	rec       *reconciler
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
	p.rec = &reconciler{job: job, versions: in.Versions, allocs: p.jobAllocs, byID: p.byID, node: p.node, now: in.Now,
		hold: p.cfg.HoldDownNodes, settle: p.cfg.DownSettle}
	if job == nil || job.Stop {
		for _, s := range p.rec.stopAll() {
			p.stop(s.alloc, s.why, s.lost, false)
			p.changes(s.alloc.TaskGroup).Stop++
		}
		return p.plan
	}
	if job.IsTemplate() {
		// Periodic and parameterized jobs are launched as child jobs;
		// the job itself runs nothing.
		return p.plan
	}
	for _, s := range p.rec.removedGroups() {
		p.stop(s.alloc, s.why, s.lost, false)
		p.changes(s.alloc.TaskGroup).Stop++
	}
	p.setupDeployment()
	p.rec.dep = p.dep
	for _, g := range job.Groups {
		if p.cancelled() {
			return p.plan
		}
		if job.Type == api.JobTypeSystem || job.Type == api.JobTypeSysbatch {
			p.reconcileSystem(g)
		} else {
			p.placeGroup(g, p.rec.group(g))
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

// cancelled reports whether the pass should stop, and marks the plan so.
func (p *planner) cancelled() bool {
	if p.plan.Cancelled {
		return true
	}
	if p.in.Cancelled != nil && p.in.Cancelled() {
		p.plan.Cancelled = true
	}
	return p.plan.Cancelled
}

func (p *planner) changes(group string) *api.PlanChanges {
	c := p.plan.Changes[group]
	if c == nil {
		c = &api.PlanChanges{}
		p.plan.Changes[group] = c
	}
	return c
}

// node returns a node of the cluster, nil if there is none of that ID.
func (p *planner) node(id string) *api.Node {
	if ns := p.st.byID[id]; ns != nil {
		return ns.node
	}
	return nil
}

// wakeAt asks for an evaluation of the job at t, if none is due sooner.
func (p *planner) wakeAt(t time.Time) {
	if p.plan.NextEvalAt.IsZero() || t.Before(p.plan.NextEvalAt) {
		p.plan.NextEvalAt = t
	}
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
