package scheduler

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// State is the scheduler's view of a cluster: the nodes with what their
// live allocations use, and the allocations by job. Building it costs in
// proportion to the cluster; evaluations on it cost in proportion to what
// they place, because each works on an overlay of the state and leaves the
// state itself untouched. Apply folds a committed plan in. A State is not
// safe for concurrent use.
type State struct {
	nodes []*nodeState // in ID order
	byID  map[string]*nodeState
	byJob map[string][]*api.Allocation // "namespace/job"
	match *matcher
	// valueIdx indexes ready nodes by attribute value, per attribute.
	valueIdx map[string]map[string][]int
	// static and aff keep per-node results that depend only on the
	// node and the job's requirements, across evaluations.
	static map[string]*staticEntry
	aff    map[string]*affinityEntry
}

// staticEntry holds the static checks of one set of requirements.
type staticEntry struct {
	result []int8 // 0 unknown, 1 feasible, -1 not
	why    []string
	// values are the values of an attribute that have at least one
	// node passing the checks, per attribute.
	values map[string]map[string][]int
}

// affinityEntry holds the affinity scores of one set of affinities.
type affinityEntry struct {
	scores []float64 // NaN until computed
	affine []int     // nodes with a positive score, once listed
	listed bool
	// byValue lists the nodes with a positive score among the feasible
	// nodes of a spread value ("attribute=value").
	byValue map[string][]int
}

// staticSignature names the requirements the static checks look at.
func staticSignature(job *api.Job, g *api.TaskGroup, constraints []*api.Constraint) string {
	type sig struct {
		Pool        string
		DCs         []string
		Drivers     []string
		Volumes     map[string]*api.VolumeRequest
		Constraints []*api.Constraint
	}
	x := sig{Pool: job.NodePool, DCs: job.Datacenters, Volumes: g.Volumes}
	for _, t := range g.Tasks {
		x.Drivers = append(x.Drivers, t.Driver)
	}
	for _, c := range constraints {
		if c.Operator != api.ConstraintDistinctHosts && c.Operator != api.ConstraintDistinctProperty {
			x.Constraints = append(x.Constraints, c)
		}
	}
	b, _ := json.Marshal(x)
	return string(b)
}

func (st *State) staticEntry(key string) *staticEntry {
	if e := st.static[key]; e != nil {
		return e
	}
	if st.static == nil {
		st.static = map[string]*staticEntry{}
	}
	e := &staticEntry{result: make([]int8, len(st.nodes)), why: make([]string, len(st.nodes))}
	st.static[key] = e
	return e
}

func (st *State) affinityEntry(affs []*api.Affinity) *affinityEntry {
	b, _ := json.Marshal(affs)
	key := string(b)
	if e := st.aff[key]; e != nil {
		return e
	}
	if st.aff == nil {
		st.aff = map[string]*affinityEntry{}
	}
	e := &affinityEntry{scores: make([]float64, len(st.nodes))}
	for i := range e.scores {
		e.scores[i] = math.NaN()
	}
	st.aff[key] = e
	return e
}

// nodeState is a node and what its live allocations use.
type nodeState struct {
	node     *api.Node
	idx      int
	used     api.Resources
	numCores int
	allocs   []*api.Allocation // live allocations
	ports    map[int]bool      // ports of the live allocations, built on first use
}

func (n *nodeState) basePorts() map[int]bool {
	if n.ports == nil {
		n.ports = map[int]bool{}
		for _, a := range n.allocs {
			for _, p := range a.Ports {
				n.ports[p.Value] = true
			}
		}
	}
	return n.ports
}

func live(a *api.Allocation) bool { return a.Live() }

func jobKey(ns, job string) string { return ns + "/" + job }

// NewState builds the scheduler's view of a cluster.
func NewState(nodes []*api.Node, allocs []*api.Allocation) *State {
	st := &State{byID: make(map[string]*nodeState, len(nodes)), byJob: map[string][]*api.Allocation{}, match: newMatcher()}
	sorted := nodes
	if !sort.SliceIsSorted(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID }) {
		sorted = append([]*api.Node(nil), nodes...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	}
	st.nodes = make([]*nodeState, len(sorted))
	for i, n := range sorted {
		ns := &nodeState{node: n, idx: i}
		ns.numCores, _ = strconv.Atoi(n.Attributes["cpu.numcores"])
		st.nodes[i] = ns
		st.byID[n.ID] = ns
	}
	for _, a := range allocs {
		st.index(a)
	}
	return st
}

// NodeUsage is what the live allocations of one node use, as a caller
// that keeps it current (a server's cache) hands it over.
type NodeUsage struct {
	Used api.Resources
	// Allocs are the node's live allocations; the scheduler does not
	// change the slice. It reads their records (job, priority,
	// resources, ports), not their statuses: a cache may hand over an
	// earlier object of an allocation whose status changed since.
	Allocs []*api.Allocation
}

// NewStateFromUsage builds the view of a cluster from its nodes (sorted
// by ID), the usage of each by node ID, and the allocations of the one
// job a pass schedules: what NewState builds from every allocation of the
// cluster, at a cost in proportion to the nodes and the job instead.
func NewStateFromUsage(nodes []*api.Node, usage map[string]*NodeUsage, jobAllocs []*api.Allocation) *State {
	st := NewState(nodes, nil)
	for _, ns := range st.nodes {
		if u := usage[ns.node.ID]; u != nil {
			ns.used = u.Used
			// Capacity is length: an append copies rather than writing
			// into the caller's array.
			ns.allocs = u.Allocs[:len(u.Allocs):len(u.Allocs)]
		}
	}
	for _, a := range jobAllocs {
		k := jobKey(a.Namespace, a.JobID)
		st.byJob[k] = append(st.byJob[k], a)
	}
	return st
}

func (st *State) index(a *api.Allocation) {
	k := jobKey(a.Namespace, a.JobID)
	st.byJob[k] = append(st.byJob[k], a)
	if !live(a) {
		return
	}
	if ns := st.byID[a.NodeID]; ns != nil {
		ns.used = ns.used.Add(a.Resources)
		ns.allocs = append(ns.allocs, a)
		if ns.ports != nil {
			for _, p := range a.Ports {
				ns.ports[p.Value] = true
			}
		}
	}
}

func (st *State) unindex(a *api.Allocation) {
	k := jobKey(a.Namespace, a.JobID)
	list := st.byJob[k]
	for i, x := range list {
		if x.ID == a.ID {
			st.byJob[k] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	ns := st.byID[a.NodeID]
	if ns == nil {
		return
	}
	for i, x := range ns.allocs {
		if x.ID == a.ID {
			ns.allocs = append(ns.allocs[:i:i], ns.allocs[i+1:]...)
			ns.used = sub(ns.used, x.Resources)
			if ns.ports != nil {
				for _, p := range x.Ports {
					delete(ns.ports, p.Value)
				}
			}
			break
		}
	}
}

// Apply folds a committed plan into the state: its updates replace the
// allocations they update, its placements are added.
func (st *State) Apply(p *Plan) {
	for _, u := range p.Update {
		st.unindex(u)
		st.index(u)
	}
	for _, a := range p.Place {
		st.index(a)
	}
}

func sub(a, b api.Resources) api.Resources {
	return api.Resources{CPU: a.CPU - b.CPU, Cores: a.Cores - b.Cores, MemoryMB: a.MemoryMB - b.MemoryMB,
		MemoryMax: a.MemoryMax - b.MemoryMax, DiskMB: a.DiskMB - b.DiskMB}
}

// overlay is what one plan changes on a node.
type overlay struct {
	delta   api.Resources
	added   []*api.Allocation
	removed map[string]bool
	ports   map[int]int // +1 taken, -1 freed
}

func (p *planner) overlay(ns *nodeState) *overlay {
	o := p.ov[ns.idx]
	if o == nil {
		o = &overlay{removed: map[string]bool{}, ports: map[int]int{}}
		p.ov[ns.idx] = o
	}
	return o
}

// used is what a node's allocations use, with the plan so far.
func (p *planner) used(ns *nodeState) api.Resources {
	if o := p.ov[ns.idx]; o != nil {
		return ns.used.Add(o.delta)
	}
	return ns.used
}

func (p *planner) portUsed(ns *nodeState, port int) bool {
	if o := p.ov[ns.idx]; o != nil {
		if v := o.ports[port]; v != 0 {
			return v > 0
		}
	}
	return ns.basePorts()[port]
}

// addAlloc counts an allocation on its node in the plan.
func (p *planner) addAlloc(ns *nodeState, a *api.Allocation) {
	o := p.overlay(ns)
	o.delta = o.delta.Add(a.Resources)
	if o.removed[a.ID] {
		delete(o.removed, a.ID)
	} else {
		o.added = append(o.added, a)
	}
	for _, port := range a.Ports {
		o.ports[port.Value] = 1
	}
}

// removeAlloc frees an allocation's share of its node in the plan.
func (p *planner) removeAlloc(ns *nodeState, a *api.Allocation) {
	o := p.overlay(ns)
	o.delta = sub(o.delta, a.Resources)
	found := false
	for i, x := range o.added {
		if x.ID == a.ID {
			o.added = append(o.added[:i:i], o.added[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		o.removed[a.ID] = true
	}
	for _, port := range a.Ports {
		o.ports[port.Value] = -1
	}
}

// liveAllocs are a node's live allocations with the plan so far.
func (p *planner) liveAllocs(ns *nodeState) []*api.Allocation {
	o := p.ov[ns.idx]
	if o == nil {
		return ns.allocs
	}
	var out []*api.Allocation
	for _, a := range ns.allocs {
		if !o.removed[a.ID] {
			out = append(out, a)
		}
	}
	return append(out, o.added...)
}

// visit gives the node index visited k-th in this evaluation: a walk from a
// random start with a random stride coprime to the number of nodes, which
// visits every node once per round at no setup cost.
func (p *planner) visit(k int) int {
	n := len(p.st.nodes)
	if p.stride == 0 {
		p.start = p.rng.IntN(n)
		p.stride = 1
		if n > 2 {
			for try := 0; try < 32; try++ {
				s := 1 + p.rng.IntN(n-1)
				if gcd(s, n) == 1 {
					p.stride = s
					break
				}
			}
		}
	}
	return (p.start + k*p.stride) % n
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
