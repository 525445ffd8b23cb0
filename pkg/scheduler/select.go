package scheduler

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// inPool reports whether a node is in the job's node pool; nodes that name
// none are in "default", and jobs of pool "all" take every node.
func inPool(job *api.Job, n *api.Node) bool {
	pool := n.NodePool
	if pool == "" {
		pool = api.DefaultNodePool
	}
	return job.NodePool == "" || job.NodePool == "all" || job.NodePool == pool
}

// ready reports whether a node takes new allocations at all.
func ready(n *api.Node) bool {
	return n.Status == api.NodeStatusReady && n.Eligible && n.Drain == nil
}

// Default port range for dynamic ports, as in Nomad.
const (
	DefaultMinDynamicPort = 20000
	DefaultMaxDynamicPort = 32000
)

// selector places the allocations of one task group.
type selector struct {
	p      *planner
	cfg    *Config
	job    *api.Job
	group  *api.TaskGroup
	ask    api.Resources
	limit  int
	offset int

	constraints []*api.Constraint // job, group and task constraints
	affinities  []*api.Affinity
	static      *staticEntry // per-node results of the static checks, kept in the State

	// Counts of this job's live and planned allocations.
	groupOnNode map[string]int
	jobOnNode   map[string]int
	distinct    []*distinctProperty
	spreads     []*spreadState
	primary     *spreadState
	desired     int

	aff    *affinityEntry // affinity scores, kept in the State
	affine *cursor        // walk over the nodes with a positive affinity
}

type distinctProperty struct {
	attribute string
	limit     int
	counts    map[string]int
	jobLevel  bool
}

type spreadState struct {
	attribute string
	weight    float64
	values    map[string][]int   // the ready nodes of each value
	desired   map[string]float64 // desired count per value
	counts    map[string]int     // live and planned allocations per value
	// For the primary spread: values whose nodes are all full, and the
	// walk over each value's nodes.
	full    map[string]bool
	cursors map[string]*cursor
	affine  map[string]*cursor
}

func newSelector(p *planner, job *api.Job, g *api.TaskGroup, jobAllocs []*api.Allocation) *selector {
	c, cfg := p.st, &p.cfg
	s := &selector{p: p, cfg: cfg, job: job, group: g, limit: cfg.Limit,

		groupOnNode: map[string]int{}, jobOnNode: map[string]int{}, desired: max(g.Count, 1)}
	s.ask = g.GroupResources()
	if g.EphemeralDisk != nil {
		s.ask.DiskMB = g.EphemeralDisk.SizeMB
	}
	s.constraints = append(s.constraints, job.Constraints...)
	s.constraints = append(s.constraints, g.Constraints...)
	s.affinities = append(s.affinities, job.Affinities...)
	s.affinities = append(s.affinities, g.Affinities...)
	for _, t := range g.Tasks {
		s.constraints = append(s.constraints, t.Constraints...)
		s.affinities = append(s.affinities, t.Affinities...)
	}
	s.static = c.staticEntry(staticSignature(job, g, s.constraints))
	spreads := append(append([]*api.Spread(nil), job.Spreads...), g.Spreads...)
	live := func(a *api.Allocation) bool { return a.DesiredStatus == api.AllocDesiredRun && !a.Terminal() }
	for _, a := range jobAllocs {
		if !live(a) {
			continue
		}
		s.jobOnNode[a.NodeID]++
		if a.TaskGroup == g.Name {
			s.groupOnNode[a.NodeID]++
		}
	}
	for _, dc := range []struct {
		cs       []*api.Constraint
		jobLevel bool
	}{{job.Constraints, true}, {g.Constraints, false}} {
		for _, con := range dc.cs {
			if con.Operator != api.ConstraintDistinctProperty {
				continue
			}
			limit := 1
			if n, err := strconv.Atoi(con.Value); err == nil && n > 0 {
				limit = n
			}
			dp := &distinctProperty{attribute: con.Attribute, limit: limit, counts: map[string]int{}, jobLevel: dc.jobLevel}
			for _, a := range jobAllocs {
				if !live(a) || (!dp.jobLevel && a.TaskGroup != g.Name) {
					continue
				}
				if ns := c.byID[a.NodeID]; ns != nil {
					if v, ok := resolve(ns.node, con.Attribute); ok {
						dp.counts[v]++
					}
				}
			}
			s.distinct = append(s.distinct, dp)
		}
	}
	for _, sp := range spreads {
		st := &spreadState{attribute: sp.Attribute, weight: float64(max(sp.Weight, 1)), counts: map[string]int{}}
		for _, a := range jobAllocs {
			if live(a) && a.TaskGroup == g.Name {
				if ns := c.byID[a.NodeID]; ns != nil {
					if v, ok := resolve(ns.node, sp.Attribute); ok {
						st.counts[v]++
					}
				}
			}
		}
		st.values = s.feasibleValues(sp.Attribute)
		st.desired = desiredPerValue(sp, s.desired, st.values)
		s.spreads = append(s.spreads, st)
	}
	// The heaviest spread chooses the value of each placement.
	for _, st := range s.spreads {
		if s.primary == nil || st.weight > s.primary.weight {
			s.primary = st
		}
	}
	if s.primary != nil {
		s.primary.full = map[string]bool{}
		s.primary.cursors = map[string]*cursor{}
	}
	if len(s.affinities) > 0 {
		s.aff = c.affinityEntry(s.affinities)
	}
	return s
}

// feasibleValues indexes the nodes that pass the static checks by the
// value of an attribute; values none of whose nodes pass are left out, so
// that a spread is judged over the values the job can use. It is kept
// with the static results in the State.
func (s *selector) feasibleValues(attribute string) map[string][]int {
	if idx, ok := s.static.values[attribute]; ok {
		return idx
	}
	idx := map[string][]int{}
	for v, nodes := range s.p.st.values(attribute) {
		for _, i := range nodes {
			if s.staticCheck(s.p.st.nodes[i]) == "" {
				idx[v] = append(idx[v], i)
			}
		}
	}
	if s.static.values == nil {
		s.static.values = map[string]map[string][]int{}
	}
	s.static.values[attribute] = idx
	return idx
}

// staticCheck runs the checks that do not depend on the plan, once per
// node, and returns the reason a node is rejected ("" if it is not).
func (s *selector) staticCheck(ns *nodeState) string {
	e := s.static
	if v := e.result[ns.idx]; v != 0 {
		return e.why[ns.idx]
	}
	why := s.staticReason(ns.node)
	e.why[ns.idx] = why
	if why == "" {
		e.result[ns.idx] = 1
	} else {
		e.result[ns.idx] = -1
	}
	return why
}

func (s *selector) staticReason(n *api.Node) string {
	switch {
	case n.Status != api.NodeStatusReady:
		return "node not ready"
	case n.Drain != nil:
		return "node draining"
	case !n.Eligible:
		return "node ineligible"
	}
	if !inPool(s.job, n) {
		return "node pool"
	}
	if !matchDatacenter(s.job.Datacenters, n.Datacenter) {
		return "datacenter"
	}
	for _, t := range s.group.Tasks {
		d := n.Drivers[t.Driver]
		if d == nil || !d.Detected {
			return fmt.Sprintf("missing driver %q", t.Driver)
		}
		if !d.Healthy {
			return fmt.Sprintf("driver %q unhealthy", t.Driver)
		}
	}
	if why := s.unsupported(); why != "" {
		return why
	}
	for name, v := range s.group.Volumes {
		if v == nil || v.Type != "host" {
			continue
		}
		hv := n.HostVolumes[v.Source]
		if hv == nil {
			return fmt.Sprintf("missing host volume %q", v.Source)
		}
		if hv.ReadOnly && !v.ReadOnly {
			return fmt.Sprintf("host volume %q is read-only (volume %q)", v.Source, name)
		}
	}
	for _, con := range s.constraints {
		if !s.p.st.match.match(n, con.Attribute, con.Operator, con.Value) {
			return describe(con)
		}
	}
	return ""
}

// fits checks what the plan so far leaves of a node: distinct constraints,
// resources and ports. It returns the dimension that is exhausted, or "".
func (s *selector) fits(ns *nodeState) (exhausted string, filtered string) {
	for _, con := range s.constraints {
		if con.Operator != api.ConstraintDistinctHosts {
			continue
		}
		jobLevel := false
		for _, jc := range s.job.Constraints {
			if jc == con {
				jobLevel = true
			}
		}
		if (jobLevel && s.jobOnNode[ns.node.ID] > 0) || (!jobLevel && s.groupOnNode[ns.node.ID] > 0) {
			return "", "distinct_hosts"
		}
	}
	for _, dp := range s.distinct {
		v, ok := resolve(ns.node, dp.attribute)
		if !ok {
			return "", "distinct_property " + dp.attribute + " (not set)"
		}
		if dp.counts[v] >= dp.limit {
			return "", "distinct_property " + dp.attribute
		}
	}
	capacity := ns.node.Resources
	used := s.p.used(ns)
	switch {
	case s.ask.Cores > 0 && used.Cores+s.ask.Cores > ns.numCores:
		return "cores", ""
	case used.CPU+s.ask.CPU+s.coresMHz(ns) > capacity.CPU:
		return "cpu", ""
	case used.MemoryMB+s.ask.MemoryMB > capacity.MemoryMB:
		return "memory", ""
	case capacity.DiskMB > 0 && used.DiskMB+s.ask.DiskMB > capacity.DiskMB:
		return "disk", ""
	}
	if net := s.group.Network; net != nil {
		for _, p := range net.Ports {
			if p.Static > 0 && s.p.portUsed(ns, p.Static) {
				return fmt.Sprintf("network: reserved port %d collision", p.Static), ""
			}
		}
	}
	return "", ""
}

// coresMHz is the cpu that a cores ask takes on a node.
func (s *selector) coresMHz(ns *nodeState) int {
	if s.ask.Cores == 0 || ns.numCores == 0 {
		return 0
	}
	return s.ask.Cores * (ns.node.Resources.CPU / ns.numCores)
}

type candidate struct {
	ns    *nodeState
	score float64
}

// selectNode finds a node for one allocation. avoid is a node to penalize
// (where the allocation being replaced failed). See the package
// documentation for the order in which nodes are sampled.
func (s *selector) selectNode(avoid string, m *api.AllocMetric) *nodeState {
	if len(s.p.st.nodes) == 0 {
		return nil
	}
	if s.primary != nil {
		if ns := s.selectBySpread(avoid, m); ns != nil {
			return ns
		}
	}
	if len(s.affinities) > 0 {
		if ns := s.walk(s.affineCursor(), avoid, m, nil); ns != nil {
			return ns
		}
		nonNegative := func(ns *nodeState) bool { return s.affinity(ns) >= 0 }
		if ns := s.walkAll(avoid, m, nonNegative); ns != nil {
			return ns
		}
	}
	return s.walkAll(avoid, m, nil)
}

// walkAll samples every node in the evaluation's random order, resuming
// where the previous placement stopped.
func (s *selector) walkAll(avoid string, m *api.AllocMetric, accept func(*nodeState) bool) *nodeState {
	n := len(s.p.st.nodes)
	var best *candidate
	found, visited := 0, 0
	for ; visited < n && found < s.limit; visited++ {
		ns := s.p.st.nodes[s.p.visit(s.offset+visited)]
		if c := s.consider(ns, avoid, m, accept); c != nil {
			found++
			if best == nil || c.score > best.score {
				best = c
			}
		}
	}
	s.offset = (s.offset + visited) % n
	if best == nil {
		return nil
	}
	return best.ns
}

// walk samples the nodes of a cursor until limit feasible ones are found
// or all were seen once.
func (s *selector) walk(cur *cursor, avoid string, m *api.AllocMetric, accept func(*nodeState) bool) *nodeState {
	if cur == nil || len(cur.nodes) == 0 {
		return nil
	}
	var best *candidate
	found := 0
	for i := 0; i < len(cur.nodes) && found < s.limit; i++ {
		ns := s.p.st.nodes[cur.next()]
		if c := s.consider(ns, avoid, m, accept); c != nil {
			found++
			if best == nil || c.score > best.score {
				best = c
			}
		}
	}
	if best == nil {
		return nil
	}
	return best.ns
}

// consider runs every check on a node and scores it if it passes.
func (s *selector) consider(ns *nodeState, avoid string, m *api.AllocMetric, accept func(*nodeState) bool) *candidate {
	m.NodesEvaluated++
	if why := s.staticCheck(ns); why != "" {
		filter(m, why)
		return nil
	}
	if accept != nil && !accept(ns) {
		return nil
	}
	dim, why := s.fits(ns)
	if why != "" {
		filter(m, why)
		return nil
	}
	if dim != "" {
		exhaust(m, dim)
		return nil
	}
	return &candidate{ns: ns, score: s.score(ns, avoid)}
}

func filter(m *api.AllocMetric, why string) {
	m.NodesFiltered++
	if m.ClassFiltered == nil {
		m.ClassFiltered = map[string]int{}
	}
	m.ClassFiltered[why]++
}

func exhaust(m *api.AllocMetric, dim string) {
	m.NodesExhausted++
	if m.DimensionExhausted == nil {
		m.DimensionExhausted = map[string]int{}
	}
	m.DimensionExhausted[dim]++
}

// score ranks a feasible node; see the package documentation.
func (s *selector) score(ns *nodeState, avoid string) float64 {
	capacity := ns.node.Resources
	used := s.p.used(ns)
	freeCPU := 1 - float64(used.CPU+s.ask.CPU+s.coresMHz(ns))/float64(max(capacity.CPU, 1))
	freeMem := 1 - float64(used.MemoryMB+s.ask.MemoryMB)/float64(max(capacity.MemoryMB, 1))
	total := math.Pow(10, freeCPU) + math.Pow(10, freeMem)
	var sum float64
	parts := 1
	if s.cfg.Algorithm == AlgorithmSpread {
		sum = (total - 2) / 18
	} else {
		sum = (20 - total) / 18
	}
	if c := s.groupOnNode[ns.node.ID]; c > 0 {
		sum += -float64(c+1) / float64(s.desired)
		parts++
	}
	if avoid != "" && ns.node.ID == avoid {
		sum += -1
		parts++
	}
	if len(s.affinities) > 0 {
		sum += s.affinity(ns)
		parts++
	}
	if len(s.spreads) > 0 {
		var got, weights float64
		for _, sp := range s.spreads {
			weights += sp.weight
			got += sp.weight * sp.boost(ns.node)
		}
		sum += got / weights
		parts++
	}
	return sum / float64(parts)
}

// boost is the spread score of a node's attribute value: how far the
// value is below its desired count, relative to it.
func (sp *spreadState) boost(n *api.Node) float64 {
	v, ok := resolve(n, sp.attribute)
	if !ok {
		return -1
	}
	desired := sp.desired[v]
	if desired <= 0 {
		return -1
	}
	return math.Max(-1, (desired-float64(sp.counts[v]))/desired)
}

// placed records a placement in the selector's counts.
func (s *selector) placed(ns *nodeState) {
	s.groupOnNode[ns.node.ID]++
	s.jobOnNode[ns.node.ID]++
	for _, dp := range s.distinct {
		if v, ok := resolve(ns.node, dp.attribute); ok {
			dp.counts[v]++
		}
	}
	for _, sp := range s.spreads {
		if v, ok := resolve(ns.node, sp.attribute); ok {
			sp.counts[v]++
		}
	}
}

// assignPorts gives the group's ports on a node: static ones as asked,
// dynamic ones picked from the dynamic range. ok is false if the range is
// exhausted.
func (s *selector) assignPorts(ns *nodeState) ([]api.AllocatedPort, bool) {
	net := s.group.Network
	if net == nil || len(net.Ports) == 0 {
		return nil, true
	}
	taken := map[int]bool{}
	out := make([]api.AllocatedPort, 0, len(net.Ports))
	lo, hi := s.cfg.MinDynamicPort, s.cfg.MaxDynamicPort
	for _, p := range net.Ports {
		ap := api.AllocatedPort{Label: p.Label, To: p.To, HostIP: ns.node.Address}
		if p.Static > 0 {
			ap.Value = p.Static
		} else {
			ap.Value = -1
			span := hi - lo + 1
			for try := 0; try < 20; try++ {
				v := lo + s.p.rng.IntN(span)
				if !s.p.portUsed(ns, v) && !taken[v] {
					ap.Value = v
					break
				}
			}
			for v := lo; ap.Value < 0 && v <= hi; v++ {
				if !s.p.portUsed(ns, v) && !taken[v] {
					ap.Value = v
				}
			}
			if ap.Value < 0 {
				return nil, false
			}
		}
		if ap.To == -1 {
			ap.To = ap.Value
		}
		taken[ap.Value] = true
		out = append(out, ap)
	}
	return out, true
}

// unsupported says what of the group no node of nomadic can give it (a
// CSI volume, a service mesh), or "". Such a group is accepted, as Nomad
// accepts a job no node can run, and its placement names the reason.
func (s *selector) unsupported() string {
	names := make([]string, 0, len(s.group.Volumes))
	for name := range s.group.Volumes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if v := s.group.Volumes[name]; v != nil && v.Type == "csi" {
			return fmt.Sprintf("missing CSI volume %q (nomadic mounts host volumes only)", v.Source)
		}
	}
	services := s.group.Services
	for _, t := range s.group.Tasks {
		services = append(services[:len(services):len(services)], t.Services...)
	}
	for _, svc := range services {
		if what := svc.Connect.Mesh(); what != "" {
			return fmt.Sprintf("no service mesh for service %q (Consul Connect %s)", svc.Name, what)
		}
	}
	for _, t := range s.group.Tasks {
		if t.Resources != nil && len(t.Resources.Devices) > 0 {
			// Running it without the device would change what the job
			// means; Nomad does not place it on nodes without one either.
			return fmt.Sprintf("missing device %q for task %q (no nomadic node offers devices)", t.Resources.Devices[0].Name, t.Name)
		}
	}
	return ""
}
