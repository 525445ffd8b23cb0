package scheduler

import (
	"fmt"
	"math"
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
	static      []int8 // per node: 0 unknown, 1 feasible, -1 not
	staticWhy   []string

	// Counts of this job's live and planned allocations.
	groupOnNode map[string]int
	jobOnNode   map[string]int
	distinct    []*distinctProperty
	spreads     []*spreadState
	desired     int
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
	targets   map[string]float64 // value -> desired count; nil for an even split
	even      float64
	counts    map[string]int
}

func newSelector(p *planner, job *api.Job, g *api.TaskGroup, jobAllocs []*api.Allocation) *selector {
	c, cfg := p.st, &p.cfg
	s := &selector{p: p, cfg: cfg, job: job, group: g, limit: cfg.Limit,
		static: make([]int8, len(c.nodes)), staticWhy: make([]string, len(c.nodes)),
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
	spreads := append(append([]*api.Spread(nil), job.Spreads...), g.Spreads...)
	if len(s.affinities) > 0 || len(spreads) > 0 {
		s.limit = max(s.limit, cfg.SpreadLimit)
	}
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
		if len(sp.Targets) > 0 {
			st.targets = map[string]float64{}
			sum := 0
			for _, t := range sp.Targets {
				st.targets[t.Value] = float64(s.desired) * float64(t.Percent) / 100
				sum += t.Percent
			}
			if sum < 100 {
				st.targets["*"] = float64(s.desired) * float64(100-sum) / 100
			}
		} else {
			values := map[string]bool{}
			for _, ns := range c.nodes {
				if ready(ns.node) {
					if v, ok := resolve(ns.node, sp.Attribute); ok {
						values[v] = true
					}
				}
			}
			if len(values) > 0 {
				st.even = float64(s.desired) / float64(len(values))
			}
		}
		s.spreads = append(s.spreads, st)
	}
	return s
}

// staticCheck runs the checks that do not depend on the plan, once per
// node, and returns the reason a node is rejected ("" if it is not).
func (s *selector) staticCheck(ns *nodeState) string {
	if v := s.static[ns.idx]; v != 0 {
		return s.staticWhy[ns.idx]
	}
	why := s.staticReason(ns.node)
	s.staticWhy[ns.idx] = why
	if why == "" {
		s.static[ns.idx] = 1
	} else {
		s.static[ns.idx] = -1
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
// (where the allocation being replaced failed).
func (s *selector) selectNode(avoid string, m *api.AllocMetric) *nodeState {
	n := len(s.p.st.nodes)
	if n == 0 {
		return nil
	}
	var best *candidate
	found := 0
	visited := 0
	for ; visited < n && found < s.limit; visited++ {
		ns := s.p.st.nodes[s.p.visit(s.offset+visited)]
		m.NodesEvaluated++
		if why := s.staticCheck(ns); why != "" {
			filter(m, why)
			continue
		}
		dim, why := s.fits(ns)
		if why != "" {
			filter(m, why)
			continue
		}
		if dim != "" {
			exhaust(m, dim)
			continue
		}
		found++
		score := s.score(ns, avoid)
		if best == nil || score > best.score {
			best = &candidate{ns: ns, score: score}
		}
	}
	s.offset = (s.offset + visited) % n
	if best == nil {
		return nil
	}
	return best.ns
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
		var got, total float64
		for _, a := range s.affinities {
			w := float64(a.Weight)
			total += math.Abs(w)
			if s.p.st.match.match(ns.node, a.Attribute, a.Operator, a.Value) {
				got += w
			}
		}
		if total > 0 {
			sum += got / total
			parts++
		}
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

// boost is the spread score of a node's attribute value.
func (sp *spreadState) boost(n *api.Node) float64 {
	v, ok := resolve(n, sp.attribute)
	if !ok {
		return -1
	}
	var desired float64
	if sp.targets != nil {
		d, named := sp.targets[v]
		if !named {
			d = sp.targets["*"]
		}
		desired = d
	} else {
		desired = sp.even
	}
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
