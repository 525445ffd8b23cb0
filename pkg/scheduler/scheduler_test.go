package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

var now = time.Unix(1_700_000_000, 0).UTC()

type nodeOpt func(*api.Node)

func node(id string, cpu, mem int, opts ...nodeOpt) *api.Node {
	n := &api.Node{ID: id, Name: id, Datacenter: "dc1", NodePool: "default", Status: api.NodeStatusReady, Eligible: true,
		Attributes: map[string]string{"kernel.name": "linux", "cpu.numcores": "4"}, Meta: map[string]string{},
		Drivers:   map[string]*api.DriverInfo{"raw_exec": {Detected: true, Healthy: true}},
		Resources: api.Resources{CPU: cpu, MemoryMB: mem, DiskMB: 100000}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withMeta(k, v string) nodeOpt { return func(n *api.Node) { n.Meta[k] = v } }
func withAttr(k, v string) nodeOpt { return func(n *api.Node) { n.Attributes[k] = v } }
func withDC(dc string) nodeOpt     { return func(n *api.Node) { n.Datacenter = dc } }
func withStatus(s string) nodeOpt  { return func(n *api.Node) { n.Status = s } }
func ineligible() nodeOpt          { return func(n *api.Node) { n.Eligible = false } }
func draining(deadline time.Time) nodeOpt {
	return func(n *api.Node) { n.Drain = &api.DrainStrategy{Deadline: deadline} }
}

func job(id string, count int, mods ...func(*api.Job)) *api.Job {
	j := &api.Job{ID: id, Groups: []*api.TaskGroup{{Name: "g", Count: count, Tasks: []*api.Task{{
		Name: "t", Driver: "raw_exec", Resources: &api.Resources{CPU: 100, MemoryMB: 100}}}}}}
	for _, m := range mods {
		m(j)
	}
	j.Canonicalize()
	return j
}

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("a%04d", n) }
}

func compute(j *api.Job, nodes []*api.Node, allocs []*api.Allocation, mods ...func(*Input)) *Plan {
	in := &Input{Namespace: "default", JobID: j.ID, Job: j, Nodes: nodes, Allocs: allocs, EvalID: "e1", Now: now, NewID: ids(),
		Config: Config{Seed: 42}}
	for _, m := range mods {
		m(in)
	}
	return Compute(in)
}

// running marks placed allocations as running, as their node would.
func running(allocs ...*api.Allocation) []*api.Allocation {
	for _, a := range allocs {
		a.Status = &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: now}
	}
	return allocs
}

func withStatusOf(a *api.Allocation, status string, at time.Time) *api.Allocation {
	a.Status = &api.AllocStatus{ClientStatus: status, UpdateTime: at}
	return a
}

func countBy(allocs []*api.Allocation, key func(*api.Allocation) string) map[string]int {
	m := map[string]int{}
	for _, a := range allocs {
		m[key(a)]++
	}
	return m
}

func byNode(a *api.Allocation) string { return a.NodeID }

func TestComputePlacesCountAllocationsWithDistinctIndexes(t *testing.T) {
	p := compute(job("web", 3), []*api.Node{node("n1", 1000, 1000)}, nil)
	if len(p.Place) != 3 || len(p.Update) != 0 || p.Failed != nil {
		t.Fatalf("want 3 placements, got %d place, %d update, failed %v", len(p.Place), len(p.Update), p.Failed)
	}
	for i, a := range p.Place {
		if a.Index != i || a.Name != fmt.Sprintf("web.g[%d]", i) || a.NodeID != "n1" || a.DesiredStatus != api.AllocDesiredRun || a.JobPriority != 50 {
			t.Errorf("placement %d: %+v", i, a)
		}
	}
}

func TestFeasibilityChecksFilterNodesAndSayWhy(t *testing.T) {
	cases := []struct {
		name   string
		node   *api.Node
		job    func(*api.Job)
		reason string
	}{
		{"a node that is down", node("n", 1000, 1000, withStatus(api.NodeStatusDown)), nil, "node not ready"},
		{"an ineligible node", node("n", 1000, 1000, ineligible()), nil, "node ineligible"},
		{"a draining node", node("n", 1000, 1000, draining(time.Time{})), nil, "node draining"},
		{"another node pool", node("n", 1000, 1000, func(n *api.Node) { n.NodePool = "gpu" }), nil, "node pool"},
		{"another datacenter", node("n", 1000, 1000, withDC("us-1")), func(j *api.Job) { j.Datacenters = []string{"eu-*"} }, "datacenter"},
		{"a missing driver", node("n", 1000, 1000), func(j *api.Job) { j.Groups[0].Tasks[0].Driver = "containerd" }, `missing driver "containerd"`},
		{"an unhealthy driver", node("n", 1000, 1000, func(n *api.Node) { n.Drivers["raw_exec"].Healthy = false }), nil, `driver "raw_exec" unhealthy`},
		{"a missing host volume", node("n", 1000, 1000), func(j *api.Job) {
			j.Groups[0].Volumes = map[string]*api.VolumeRequest{"d": {Name: "d", Type: "host", Source: "data"}}
		}, `missing host volume "data"`},
		{"a read-only host volume", node("n", 1000, 1000, func(n *api.Node) {
			n.HostVolumes = map[string]*api.HostVolume{"data": {Path: "/d", ReadOnly: true}}
		}), func(j *api.Job) {
			j.Groups[0].Volumes = map[string]*api.VolumeRequest{"d": {Name: "d", Type: "host", Source: "data"}}
		}, `host volume "data" is read-only (volume "d")`},
		{"a CSI volume", node("n", 1000, 1000), func(j *api.Job) {
			j.Groups[0].Volumes = map[string]*api.VolumeRequest{"d": {Name: "d", Type: "csi", Source: "ebs"}}
		}, `missing CSI volume "ebs" (nomadic mounts host volumes only)`},
		{"a Connect sidecar", node("n", 1000, 1000), func(j *api.Job) {
			j.Groups[0].Services = []*api.Service{{Name: "api", Connect: &api.Connect{SidecarService: map[string]any{}}}}
		}, `no service mesh for service "api" (Consul Connect sidecar_service)`},
		{"a device", node("n", 1000, 1000), func(j *api.Job) {
			j.Groups[0].Tasks[0].Resources.Devices = []*api.RequestedDevice{{Name: "nvidia/gpu", Count: 1}}
		}, `missing device "nvidia/gpu" for task "t" (no nomadic node offers devices)`},
		{"a job constraint", node("n", 1000, 1000), func(j *api.Job) {
			j.Constraints = []*api.Constraint{{Attribute: "${attr.kernel.name}", Operator: "=", Value: "windows"}}
		}, "constraint ${attr.kernel.name} = windows"},
		{"a task constraint", node("n", 1000, 1000), func(j *api.Job) {
			j.Groups[0].Tasks[0].Constraints = []*api.Constraint{{Attribute: "${meta.ssd}", Operator: api.ConstraintIsSet}}
		}, "constraint ${meta.ssd} is_set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods := []func(*api.Job){}
			if tc.job != nil {
				mods = append(mods, tc.job)
			}
			p := compute(job("j", 1, mods...), []*api.Node{tc.node}, nil)
			m := p.Failed["g"]
			if len(p.Place) != 0 || m == nil || m.ClassFiltered[tc.reason] != 1 || m.NodesEvaluated != 1 {
				t.Fatalf("want the node filtered by %q, got place %d, metric %+v", tc.reason, len(p.Place), m)
			}
		})
	}
}

func TestResourcesAndPortsExhaustNodes(t *testing.T) {
	cases := []struct {
		name string
		node *api.Node
		job  func(*api.Job)
		dim  string
	}{
		{"cpu", node("n", 50, 1000), nil, "cpu"},
		{"memory", node("n", 1000, 50), nil, "memory"},
		{"disk", node("n", 1000, 1000, func(n *api.Node) { n.Resources.DiskMB = 100 }), nil, "disk"},
		{"cores", node("n", 4000, 1000), func(j *api.Job) { j.Groups[0].Tasks[0].Resources = &api.Resources{Cores: 8, MemoryMB: 10} }, "cores"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods := []func(*api.Job){}
			if tc.job != nil {
				mods = append(mods, tc.job)
			}
			p := compute(job("j", 1, mods...), []*api.Node{tc.node}, nil)
			m := p.Failed["g"]
			if len(p.Place) != 0 || m == nil || m.DimensionExhausted[tc.dim] != 1 {
				t.Fatalf("want exhausted on %s, got %+v", tc.dim, m)
			}
		})
	}
}

func TestExistingAllocationsUseCapacity(t *testing.T) {
	n := node("n1", 300, 10000)
	other := &api.Allocation{ID: "x", JobID: "other", Namespace: "default", NodeID: "n1", DesiredStatus: api.AllocDesiredRun,
		Resources: api.Resources{CPU: 200}}
	running(other)
	p := compute(job("j", 2), []*api.Node{n}, []*api.Allocation{other})
	if len(p.Place) != 1 || p.Failed["g"].DimensionExhausted["cpu"] != 1 {
		t.Fatalf("place %d, failed %+v", len(p.Place), p.Failed["g"])
	}
	// A stopped allocation frees its share.
	other.DesiredStatus = api.AllocDesiredStop
	withStatusOf(other, api.AllocClientComplete, now)
	if p := compute(job("j", 2), []*api.Node{n}, []*api.Allocation{other}); len(p.Place) != 2 {
		t.Fatalf("after stop: place %d", len(p.Place))
	}
}

func TestPortsAreAssignedWithoutCollisions(t *testing.T) {
	withPorts := func(j *api.Job) {
		j.Groups[0].Network = &api.Network{Mode: "host", Ports: []api.Port{{Label: "admin", Static: 9000}, {Label: "http", To: 8080}, {Label: "grpc"}}}
	}
	p := compute(job("j", 3, withPorts), []*api.Node{node("n1", 10000, 10000), node("n2", 10000, 10000)}, nil)
	if len(p.Place) != 2 || p.Failed["g"].DimensionExhausted["network: reserved port 9000 collision"] == 0 {
		t.Fatalf("static port: place %d failed %+v", len(p.Place), p.Failed["g"])
	}
	for _, a := range p.Place {
		if len(a.Ports) != 3 || a.Ports[0].Value != 9000 || a.Ports[1].To != 8080 {
			t.Fatalf("ports %+v", a.Ports)
		}
		for _, port := range a.Ports[1:] {
			if port.Value < DefaultMinDynamicPort || port.Value > DefaultMaxDynamicPort {
				t.Fatalf("dynamic port %d out of range", port.Value)
			}
		}
		if a.Ports[1].Value == a.Ports[2].Value {
			t.Fatalf("two labels got port %d", a.Ports[1].Value)
		}
	}
	// Dynamic ports on one node never collide, here over a tiny range.
	dyn := func(j *api.Job) { j.Groups[0].Network = &api.Network{Ports: []api.Port{{Label: "p"}}} }
	p = compute(job("j", 6, dyn), []*api.Node{node("n1", 10000, 10000)}, nil, func(in *Input) {
		in.Config.MinDynamicPort, in.Config.MaxDynamicPort = 30000, 30004
	})
	seen := map[int]bool{}
	for _, a := range p.Place {
		if seen[a.Ports[0].Value] {
			t.Fatalf("port %d given twice", a.Ports[0].Value)
		}
		seen[a.Ports[0].Value] = true
	}
	if len(p.Place) != 5 || p.Failed["g"] == nil {
		t.Fatalf("a range of 5 ports gives 5 allocations, got %d", len(p.Place))
	}
}

func TestConstraintOperators(t *testing.T) {
	n := node("n", 1, 1, withAttr("kernel.version", "5.15.0"), withAttr("cpu.frequency", "2400"), withMeta("tags", "ssd,fast,eu"),
		withMeta("rack", "r12"), withAttr("os.version", "1.2.3-beta"))
	m := newMatcher()
	cases := []struct {
		attr, op, value string
		want            bool
	}{
		{"${attr.kernel.name}", "=", "linux", true},
		{"${attr.kernel.name}", "!=", "linux", false},
		{"${meta.missing}", "!=", "x", true},
		{"${meta.missing}", "=", "x", false},
		{"${attr.cpu.frequency}", ">", "1000", true},
		{"${attr.cpu.frequency}", ">=", "2400", true},
		{"${attr.cpu.frequency}", "<", "10000", true},
		{"${attr.cpu.frequency}", "<=", "2399", false},
		{"${meta.rack}", "<", "r2", true}, // not numbers: compared as text
		{"${meta.rack}", "regexp", "^r[0-9]+$", true},
		{"${meta.rack}", "regexp", "^x", false},
		{"${meta.tags}", "set_contains", "ssd,eu", true},
		{"${meta.tags}", "set_contains", "ssd,us", false},
		{"${meta.tags}", "set_contains_any", "us,eu", true},
		{"${meta.tags}", "set_contains_any", "us,ap", false},
		{"${attr.kernel.version}", "version", ">= 5.10, < 6", true},
		{"${attr.kernel.version}", "version", ">= 6", false},
		{"${attr.os.version}", "semver", ">= 1.2.3-alpha", true},
		{"${meta.rack}", "is_set", "", true},
		{"${meta.gpu}", "is_not_set", "", true},
		{"${meta.gpu}", "is_set", "", false},
		{"${node.datacenter}", "=", "dc1", true},
		{"${node.unique.name}", "=", "n", true},
		{"rack-${meta.rack}", "=", "rack-r12", true},
	}
	for _, tc := range cases {
		if got := m.match(n, tc.attr, tc.op, tc.value); got != tc.want {
			t.Errorf("%s %s %q: got %v", tc.attr, tc.op, tc.value, got)
		}
	}
}

func TestDistinctHostsAndDistinctProperty(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000, withMeta("rack", "a")), node("n2", 10000, 10000, withMeta("rack", "a")),
		node("n3", 10000, 10000, withMeta("rack", "b"))}
	p := compute(job("j", 4, func(j *api.Job) { j.Constraints = []*api.Constraint{{Operator: api.ConstraintDistinctHosts}} }), nodes, nil)
	if len(p.Place) != 3 || p.Failed["g"].ClassFiltered["distinct_hosts"] == 0 {
		t.Fatalf("distinct_hosts: place %d failed %+v", len(p.Place), p.Failed["g"])
	}
	if c := countBy(p.Place, byNode); len(c) != 3 {
		t.Fatalf("distinct_hosts spread: %v", c)
	}
	p = compute(job("j", 3, func(j *api.Job) {
		j.Groups[0].Constraints = []*api.Constraint{{Operator: api.ConstraintDistinctProperty, Attribute: "${meta.rack}"}}
	}), nodes, nil)
	racks := map[string]int{}
	for _, a := range p.Place {
		racks[map[string]string{"n1": "a", "n2": "a", "n3": "b"}[a.NodeID]]++
	}
	if len(p.Place) != 2 || racks["a"] != 1 || racks["b"] != 1 {
		t.Fatalf("distinct_property: %v", racks)
	}
	// With a limit of 2 per value.
	p = compute(job("j", 4, func(j *api.Job) {
		j.Groups[0].Constraints = []*api.Constraint{{Operator: api.ConstraintDistinctProperty, Attribute: "${meta.rack}", Value: "2"}}
	}), nodes, nil)
	if len(p.Place) != 4 {
		t.Fatalf("distinct_property limit 2: %d placed", len(p.Place))
	}
}

func TestBinpackFillsAndSpreadEmpties(t *testing.T) {
	busy := &api.Allocation{ID: "x", JobID: "other", Namespace: "default", NodeID: "full", DesiredStatus: api.AllocDesiredRun,
		Resources: api.Resources{CPU: 800, MemoryMB: 800}}
	running(busy)
	nodes := []*api.Node{node("full", 1000, 1000), node("empty", 1000, 1000)}
	all := func(in *Input) { in.Config.Limit = 10 }
	if p := compute(job("j", 1), nodes, []*api.Allocation{busy}, all); p.Place[0].NodeID != "full" {
		t.Fatalf("binpack chose %s", p.Place[0].NodeID)
	}
	spread := func(in *Input) { in.Config.Limit = 10; in.Config.Algorithm = AlgorithmSpread }
	if p := compute(job("j", 1), nodes, []*api.Allocation{busy}, spread); p.Place[0].NodeID != "empty" {
		t.Fatalf("spread algorithm chose %s", p.Place[0].NodeID)
	}
}

func TestJobAntiAffinitySpreadsReplicas(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000), node("n2", 10000, 10000), node("n3", 10000, 10000)}
	p := compute(job("j", 3), nodes, nil, func(in *Input) { in.Config.Limit = 10 })
	if c := countBy(p.Place, byNode); len(c) != 3 {
		t.Fatalf("replicas piled up: %v", c)
	}
}

func TestAffinitiesAttractAndRepel(t *testing.T) {
	var nodes []*api.Node
	for i := 0; i < 20; i++ {
		class := "slow"
		if i%5 == 0 {
			class = "fast"
		}
		nodes = append(nodes, node(fmt.Sprintf("n%02d", i), 100000, 100000, func(n *api.Node) { n.NodeClass = class }))
	}
	p := compute(job("j", 4, func(j *api.Job) {
		j.Affinities = []*api.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "fast", Weight: 100}}
	}), nodes, nil)
	for _, a := range p.Place {
		if a.NodeID[1:] != "00" && a.NodeID != "n05" && a.NodeID != "n10" && a.NodeID != "n15" {
			t.Fatalf("placed on non-affine node %s", a.NodeID)
		}
	}
	p = compute(job("j", 4, func(j *api.Job) {
		j.Affinities = []*api.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "fast", Weight: -100}}
	}), nodes, nil)
	for _, a := range p.Place {
		if a.NodeID == "n00" || a.NodeID == "n05" || a.NodeID == "n10" || a.NodeID == "n15" {
			t.Fatalf("placed on a repelling node %s", a.NodeID)
		}
	}
}

func TestSpreadTargetsShareTheCount(t *testing.T) {
	var nodes []*api.Node
	for i := 0; i < 20; i++ {
		dc := "dc1"
		if i%2 == 1 {
			dc = "dc2"
		}
		nodes = append(nodes, node(fmt.Sprintf("n%02d", i), 100000, 100000, withDC(dc)))
	}
	p := compute(job("j", 10, func(j *api.Job) {
		j.Spreads = []*api.Spread{{Attribute: "${node.datacenter}", Weight: 100, Targets: []api.SpreadTarget{{Value: "dc1", Percent: 70}, {Value: "dc2", Percent: 30}}}}
	}), nodes, nil)
	dcs := map[string]int{}
	for _, a := range p.Place {
		dcs[map[bool]string{true: "dc1", false: "dc2"}[(a.NodeID[2]-'0')%2 == 0]]++
	}
	if dcs["dc1"] != 7 || dcs["dc2"] != 3 {
		t.Fatalf("spread 70/30 gave %v", dcs)
	}
}

func TestScalingUpAndDown(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000)}
	j := job("j", 3)
	placed := running(compute(j, nodes, nil).Place...)
	if p := compute(job("j", 3), nodes, placed); !p.Empty() {
		t.Fatalf("a reconciled job changes: %+v", p.Changes["g"])
	}
	p := compute(job("j", 1), nodes, placed)
	if len(p.Update) != 2 || p.Changes["g"].Stop != 2 {
		t.Fatalf("scale down: %+v", p.Changes["g"])
	}
	for _, u := range p.Update {
		if u.Index == 0 || u.DesiredStatus != api.AllocDesiredStop {
			t.Fatalf("stopped %s (index %d) instead of the highest indexes", u.Name, u.Index)
		}
	}
	p = compute(job("j", 5), nodes, placed)
	if len(p.Place) != 2 || p.Place[0].Index != 3 || p.Place[1].Index != 4 {
		t.Fatalf("scale up: %+v", p.Place)
	}
}

func TestBatchKeepsCompletedAndReschedulesFailedPerPolicy(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000), node("n2", 10000, 10000)}
	batch := func(j *api.Job) { j.Type = api.JobTypeBatch }
	placed := compute(job("b", 2, batch), nodes, nil).Place
	withStatusOf(placed[0], api.AllocClientComplete, now.Add(-time.Minute))
	withStatusOf(placed[1], api.AllocClientFailed, now.Add(-time.Minute))
	p := compute(job("b", 2, batch), nodes, placed)
	if len(p.Place) != 1 || p.Place[0].PreviousAllocation != placed[1].ID || len(p.Place[0].RescheduleTracker) != 1 {
		t.Fatalf("reschedule of the failed one: %+v", p.Place)
	}
	if p.Place[0].NodeID == placed[1].NodeID {
		t.Fatalf("rescheduled onto the node it failed on")
	}
	if p.Changes["g"].Reschedule != 1 || len(p.Update) != 1 || p.Update[0].NextAllocation != p.Place[0].ID {
		t.Fatalf("the failed allocation is not linked to its replacement: %+v", p.Update)
	}
	// The batch default allows one attempt: the replacement failing too is
	// the end.
	repl := withStatusOf(p.Place[0], api.AllocClientFailed, now)
	p2 := compute(job("b", 2, batch), nodes, append(append([]*api.Allocation{}, placed[0]), p.Update[0], repl))
	if len(p2.Place) != 0 || p2.Changes["g"].Ignore != 1 {
		t.Fatalf("attempts used up, yet: %+v", p2.Changes["g"])
	}
}

func TestRescheduleWaitsForItsDelay(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000), node("n2", 10000, 10000)}
	placed := compute(job("s", 1), nodes, nil).Place
	withStatusOf(placed[0], api.AllocClientFailed, now.Add(-10*time.Second))
	p := compute(job("s", 1), nodes, placed)
	want := now.Add(20 * time.Second) // service default delay is 30s
	if len(p.Place) != 0 || !p.NextEvalAt.Equal(want) {
		t.Fatalf("want no placement before %v, got %d placements and next eval %v", want, len(p.Place), p.NextEvalAt)
	}
	later := compute(job("s", 1), nodes, placed, func(in *Input) { in.Now = want })
	if len(later.Place) != 1 {
		t.Fatalf("after the delay: %d placements", len(later.Place))
	}
}

func TestRescheduleDelayFunctions(t *testing.T) {
	s := time.Second
	cases := []struct {
		fn   string
		max  time.Duration
		want []time.Duration
	}{
		{"constant", 0, []time.Duration{5 * s, 5 * s, 5 * s}},
		{"exponential", 0, []time.Duration{5 * s, 10 * s, 20 * s, 40 * s}},
		{"exponential", 30 * s, []time.Duration{5 * s, 10 * s, 20 * s, 30 * s, 30 * s}},
		{"fibonacci", 0, []time.Duration{5 * s, 5 * s, 10 * s, 15 * s, 25 * s, 40 * s}},
		{"fibonacci", 12 * s, []time.Duration{5 * s, 5 * s, 10 * s, 12 * s}},
	}
	for _, tc := range cases {
		pol := &api.ReschedulePolicy{Delay: api.Duration(5 * s), DelayFunction: tc.fn, MaxDelay: api.Duration(tc.max)}
		for n, want := range tc.want {
			if got := RescheduleDelay(pol, n).Std(); got != want {
				t.Errorf("%s max %v, reschedule %d: got %v want %v", tc.fn, tc.max, n, got, want)
			}
		}
	}
}

func TestLostAllocationsAreReplaced(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000), node("n2", 10000, 10000)}
	placed := running(compute(job("s", 2), nodes, nil, func(in *Input) { in.Config.Limit = 10 }).Place...)
	lostNode := placed[0].NodeID
	for _, n := range nodes {
		if n.ID == lostNode {
			n.Status = api.NodeStatusDown
		}
	}
	p := compute(job("s", 2), nodes, placed)
	lost := 0
	for _, u := range p.Update {
		if u.NodeLost && u.DesiredStatus == api.AllocDesiredStop {
			lost++
		}
	}
	if lost != 1 || len(p.Place) != 1 || p.Place[0].NodeID == lostNode || p.Changes["g"].Lost != 1 {
		t.Fatalf("lost %d, placed %+v", lost, p.Place)
	}
}

func TestDestructiveUpdatesRespectMaxParallelAndWaitForHealth(t *testing.T) {
	nodes := []*api.Node{node("n1", 100000, 100000)}
	v0 := job("s", 3, func(j *api.Job) { j.Update = &api.UpdateStrategy{MaxParallel: 1} })
	p0 := compute(v0, nodes, nil)
	if p0.Deployment == nil || len(p0.Place) != 3 {
		t.Fatalf("the first version places all at once under a deployment: %d placed, deployment %v", len(p0.Place), p0.Deployment)
	}
	placed := healthy(running(p0.Place...)...)
	d0 := *p0.Deployment
	d0.Status = api.DeploymentSuccessful
	v1 := job("s", 3, func(j *api.Job) {
		j.Update = &api.UpdateStrategy{MaxParallel: 1}
		j.Groups[0].Tasks[0].Env = map[string]string{"V": "1"}
		j.Version = 1
	})
	p := compute(v1, nodes, placed, func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0}; in.Deployment = &d0 })
	if len(p.Place) != 1 || p.Changes["g"].Destructive != 1 || p.Changes["g"].Ignore != 2 {
		t.Fatalf("first pass: %+v", p.Changes["g"])
	}
	d1 := p.Deployment
	if d1 == nil || d1.JobVersion != 1 || d1.Groups["g"].DesiredTotal != 3 || p.Place[0].DeploymentID != d1.ID {
		t.Fatalf("a new deployment for version 1: %+v, placed for %q", d1, p.Place[0].DeploymentID)
	}
	state := afterPlan(placed, p)
	with := func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0}; in.Deployment = d1 }
	// Running is not enough: nothing more moves until it is healthy.
	running(p.Place...)
	if p2 := compute(v1, nodes, state, with); len(p2.Place) != 0 || p2.Deployment != nil {
		t.Fatalf("second pass with one in flight placed %d", len(p2.Place))
	}
	healthy(p.Place...)
	p3 := compute(v1, nodes, state, with)
	if len(p3.Place) != 1 || p3.Place[0].JobVersion != 1 || p3.Place[0].DeploymentID != d1.ID {
		t.Fatalf("third pass: %+v", p3.Changes["g"])
	}
	// A paused or failed deployment replaces nothing more.
	for _, status := range []string{api.DeploymentPaused, api.DeploymentFailed} {
		d := *d1
		d.Status = status
		pp := compute(v1, nodes, state, func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0}; in.Deployment = &d })
		if len(pp.Place) != 0 || pp.Changes["g"].Ignore != 2 {
			t.Fatalf("%s deployment: %+v", status, pp.Changes["g"])
		}
	}
}

// healthy marks allocations healthy, as their node agent would.
func healthy(allocs ...*api.Allocation) []*api.Allocation {
	for _, a := range allocs {
		if a.Status == nil {
			a.Status = &api.AllocStatus{ClientStatus: api.AllocClientRunning}
		}
		a.Status.Health = &api.AllocHealth{Healthy: true, Time: now}
	}
	return allocs
}

// afterPlan returns the allocations after a plan: updates replace their
// originals, placements are added as they are (so marking them running or
// healthy later shows in the result).
func afterPlan(allocs []*api.Allocation, p *Plan) []*api.Allocation {
	out := append([]*api.Allocation{}, allocs...)
	for _, u := range p.Update {
		for i, a := range out {
			if a.ID == u.ID {
				u.Status = a.Status
				out[i] = u
			}
		}
	}
	return append(out, p.Place...)
}

func TestNewVersionCancelsTheOlderActiveDeployment(t *testing.T) {
	nodes := []*api.Node{node("n1", 100000, 100000)}
	upd := func(j *api.Job) { j.Update = &api.UpdateStrategy{MaxParallel: 1} }
	p0 := compute(job("s", 2, upd), nodes, nil)
	v1 := job("s", 2, upd, func(j *api.Job) { j.Version = 1; j.Groups[0].Tasks[0].Env = map[string]string{"V": "1"} })
	p := compute(v1, nodes, running(p0.Place...), func(in *Input) { in.Deployment = p0.Deployment; in.NewID = ids2(1, 1) })
	if len(p.DeploymentUpdates) != 1 || p.DeploymentUpdates[0].Status != api.DeploymentCancelled || p.DeploymentUpdates[0].ID != p0.Deployment.ID {
		t.Fatalf("older deployment: %+v", p.DeploymentUpdates)
	}
	if p.Deployment == nil || p.Deployment.ID == p0.Deployment.ID {
		t.Fatalf("new deployment: %+v", p.Deployment)
	}
	// Jobs without an update block and batch jobs have none.
	if p := compute(job("plain", 2, func(j *api.Job) { j.Type = api.JobTypeBatch }), nodes, nil); p.Deployment != nil {
		t.Fatalf("batch job got a deployment")
	}
}

func TestInPlaceUpdateWhenOnlyCountOrPoliciesChange(t *testing.T) {
	nodes := []*api.Node{node("n1", 100000, 100000)}
	v0 := job("s", 2)
	placed := running(compute(v0, nodes, nil).Place...)
	v1 := job("s", 3, func(j *api.Job) {
		j.Version = 1
		j.Groups[0].Restart = &api.RestartPolicy{Attempts: 9, Mode: "delay"}
	})
	p := compute(v1, nodes, placed, func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0} })
	if p.Changes["g"].InPlace != 2 || p.Changes["g"].Place != 1 || p.Changes["g"].Destructive != 0 {
		t.Fatalf("changes: %+v", p.Changes["g"])
	}
	for _, u := range p.Update {
		if u.JobVersion != 1 || u.DesiredStatus != api.AllocDesiredRun {
			t.Fatalf("in-place update: %+v", u)
		}
	}
	// Without the old version at hand the update is destructive.
	p = compute(v1, nodes, placed)
	if p.Changes["g"].Destructive != 2 {
		t.Fatalf("without versions: %+v", p.Changes["g"])
	}
}

func TestCanariesWaitForPromotion(t *testing.T) {
	nodes := []*api.Node{node("n1", 100000, 100000)}
	upd := &api.UpdateStrategy{MaxParallel: 1, Canary: 1}
	v0 := job("s", 3, func(j *api.Job) { j.Update = upd })
	p0 := compute(v0, nodes, nil)
	if p0.Deployment.Groups["g"].DesiredCanaries != 0 {
		t.Fatalf("the first version has nothing to canary: %+v", p0.Deployment.Groups["g"])
	}
	placed := healthy(running(p0.Place...)...)
	v1 := job("s", 3, func(j *api.Job) {
		j.Update = upd
		j.Version = 1
		j.Groups[0].Tasks[0].Env = map[string]string{"V": "1"}
	})
	p := compute(v1, nodes, placed)
	d := p.Deployment
	if len(p.Place) != 1 || !p.Place[0].Canary || p.Place[0].Index != 3 || len(p.Update) != 0 || d.Groups["g"].DesiredCanaries != 1 {
		t.Fatalf("canary: place %+v update %d deployment %+v", p.Place, len(p.Update), d)
	}
	state := append(append([]*api.Allocation{}, placed...), healthy(running(p.Place...)...)...)
	if p2 := compute(v1, nodes, state, func(in *Input) { in.Deployment = d }); !p2.Empty() {
		t.Fatalf("unpromoted: %+v", p2.Changes["g"])
	}
	promoted := *d
	promoted.Groups = map[string]*api.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 1, Promoted: true}}
	p3 := compute(v1, nodes, state, func(in *Input) { in.Deployment = &promoted })
	if p3.Changes["g"].Stop != 1 || p3.Changes["g"].Destructive != 1 {
		t.Fatalf("promoted: the canary takes an old one's place and one more rolls: %+v", p3.Changes["g"])
	}
	// The canary of a failed deployment is stopped; the old ones stay.
	failed := *d
	failed.Status = api.DeploymentFailed
	p4 := compute(v1, nodes, state, func(in *Input) { in.Deployment = &failed })
	if len(p4.Update) != 1 || p4.Update[0].ID != p.Place[0].ID || p4.Update[0].DesiredStatus != api.AllocDesiredStop || len(p4.Place) != 0 {
		t.Fatalf("failed deployment: %+v", p4.Changes["g"])
	}
}

func TestDrainingNodesAreMigratedWithinMigrateParallelism(t *testing.T) {
	nodes := []*api.Node{node("old", 100000, 100000), node("new", 100000, 100000)}
	v := job("s", 3)
	placed := running(compute(v, nodes[:1], nil).Place...)
	nodes[0].Drain = &api.DrainStrategy{}
	p := compute(v, nodes, placed)
	if p.Changes["g"].Migrate != 1 || len(p.Place) != 1 || p.Place[0].NodeID != "new" {
		t.Fatalf("migrate one at a time: %+v", p.Changes["g"])
	}
	if !p.Update[0].Migrate || p.Update[0].DesiredStatus != api.AllocDesiredStop {
		t.Fatalf("migrated allocation: %+v", p.Update[0])
	}
	nodes[0].Drain = &api.DrainStrategy{Deadline: now.Add(-time.Second)}
	p = compute(v, nodes, placed)
	if p.Changes["g"].Migrate != 3 {
		t.Fatalf("after the deadline all move: %+v", p.Changes["g"])
	}
	// With nowhere to go, before the deadline they stay; after it they
	// stop anyway (the drain ends), and their placements wait.
	only := nodes[:1]
	only[0].Drain = &api.DrainStrategy{Deadline: now.Add(time.Hour)}
	if p := compute(v, only, placed); len(p.Update) != 0 {
		t.Fatalf("stopped before the deadline with no other node: %+v", p.Update)
	}
	only[0].Drain = &api.DrainStrategy{Deadline: now.Add(-time.Second)}
	p = compute(v, only, placed)
	if len(p.Place) != 0 || len(p.Update) != 3 || p.Changes["g"].Failed == 0 {
		t.Fatalf("after the deadline with no other node: placed %d, updated %d, %+v", len(p.Place), len(p.Update), p.Changes["g"])
	}
	for _, u := range p.Update {
		if u.DesiredStatus != api.AllocDesiredStop || !u.Migrate {
			t.Fatalf("left on the node past its deadline: %+v", u)
		}
	}
}

func TestSystemJobsRunOncePerFeasibleNode(t *testing.T) {
	sys := func(j *api.Job) {
		j.Type = api.JobTypeSystem
		j.Constraints = []*api.Constraint{{Attribute: "${meta.role}", Operator: "!=", Value: "db"}}
	}
	nodes := []*api.Node{node("n1", 1000, 1000), node("n2", 1000, 1000), node("n3", 1000, 1000, withMeta("role", "db")),
		node("n4", 1000, 1000, ineligible())}
	p := compute(job("sys", 1, sys), nodes, nil)
	got := countBy(p.Place, byNode)
	if len(p.Place) != 2 || got["n1"] != 1 || got["n2"] != 1 {
		t.Fatalf("system placements: %v", got)
	}
	placed := running(p.Place...)
	nodes = append(nodes, node("n5", 1000, 1000))
	p = compute(job("sys", 1, sys), nodes, placed)
	if len(p.Place) != 1 || p.Place[0].NodeID != "n5" {
		t.Fatalf("a joining node: %+v", p.Place)
	}
	// Sysbatch: finished allocations are not run again.
	sb := func(j *api.Job) { j.Type = api.JobTypeSysbatch }
	placed = compute(job("sb", 1, sb), nodes[:2], nil).Place
	for _, a := range placed {
		withStatusOf(a, api.AllocClientComplete, now)
	}
	if p := compute(job("sb", 1, sb), nodes[:2], placed); !p.Empty() {
		t.Fatalf("sysbatch ran again: %+v", p.Changes)
	}
}

func TestSystemJobsPreemptLowerPriorityAllocations(t *testing.T) {
	n := node("n1", 1000, 1000)
	low := &api.Allocation{ID: "low", JobID: "batchy", Namespace: "default", NodeID: "n1", DesiredStatus: api.AllocDesiredRun,
		JobPriority: 30, Resources: api.Resources{CPU: 900, MemoryMB: 100}}
	mid := &api.Allocation{ID: "mid", JobID: "svc", Namespace: "default", NodeID: "n1", DesiredStatus: api.AllocDesiredRun,
		JobPriority: 85, Resources: api.Resources{CPU: 50, MemoryMB: 100}}
	running(low, mid)
	sys := func(j *api.Job) {
		j.Type = api.JobTypeSystem
		j.Priority = 90
		j.Groups[0].Tasks[0].Resources.CPU = 500
	}
	p := compute(job("sys", 1, sys), []*api.Node{n}, []*api.Allocation{low, mid})
	if len(p.Place) != 1 || len(p.Preempted) != 1 || p.Preempted[0].ID != "low" || p.Preempted[0].PreemptedBy != p.Place[0].ID {
		t.Fatalf("preemption: place %d preempted %+v", len(p.Place), p.Preempted)
	}
	// Nothing of a priority within 10 is evicted.
	low.JobPriority = 85
	p = compute(job("sys", 1, sys), []*api.Node{n}, []*api.Allocation{low, mid})
	if len(p.Place) != 0 || len(p.Preempted) != 0 || p.Failed["g"].DimensionExhausted["cpu"] != 1 {
		t.Fatalf("no preemption within the gap: %+v", p.Failed["g"])
	}
}

func TestStoppedJobsAndRemovedGroupsStop(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000)}
	two := func(j *api.Job) {
		g := *j.Groups[0]
		g.Name = "h"
		j.Groups = append(j.Groups, &g)
	}
	placed := running(compute(job("j", 1, two), nodes, nil).Place...)
	if len(placed) != 2 {
		t.Fatalf("placed %d", len(placed))
	}
	p := compute(job("j", 1), nodes, placed)
	if len(p.Update) != 1 || p.Update[0].TaskGroup != "h" || p.Update[0].DesiredStatus != api.AllocDesiredStop {
		t.Fatalf("group removed: %+v", p.Update)
	}
	stopped := job("j", 1, two)
	stopped.Stop = true
	if p := compute(stopped, nodes, placed); len(p.Update) != 2 || len(p.Place) != 0 {
		t.Fatalf("job stopped: %d updates", len(p.Update))
	}
	p = Compute(&Input{Namespace: "default", JobID: "j", Nodes: nodes, Allocs: placed, Now: now, NewID: ids()})
	if len(p.Update) != 2 || !strings.Contains(p.Update[0].DesiredDescription, "purged") {
		t.Fatalf("job purged: %+v", p.Update)
	}
}

func TestSameSeedSamePlan(t *testing.T) {
	nodes := randomCluster(7, 200)
	j := job("j", 50, func(j *api.Job) { j.Groups[0].Network = &api.Network{Ports: []api.Port{{Label: "p"}}} })
	a := compute(j, nodes, nil)
	b := compute(j, nodes, nil)
	sig := func(p *Plan) string {
		var s []string
		for _, x := range p.Place {
			s = append(s, fmt.Sprintf("%s@%s:%d", x.Name, x.NodeID, x.Ports[0].Value))
		}
		return strings.Join(s, ",")
	}
	if sig(a) != sig(b) {
		t.Fatal("same input and seed gave different plans")
	}
	c := compute(j, nodes, nil, func(in *Input) { in.Config.Seed = 43 })
	if sig(a) == sig(c) {
		t.Fatal("a different seed gave the same plan: the seed is not used")
	}
}

// sortedKeys is used by error messages of the invariant test.
func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestServiceChangesReplaceAndUnhealthyAllocationsAreNotCarriedInPlace(t *testing.T) {
	nodes := []*api.Node{node("n1", 100000, 100000)}
	svc := func(path string) func(*api.Job) {
		return func(j *api.Job) {
			j.Groups[0].Services = []*api.Service{{Name: "web", Checks: []*api.ServiceCheck{{Type: "http", Path: path}}}}
		}
	}
	v0 := job("s", 2, svc("/health"))
	placed := running(compute(v0, nodes, nil).Place...)
	v1 := job("s", 2, svc("/ready"), func(j *api.Job) { j.Version = 1 })
	p := compute(v1, nodes, placed, func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0} })
	if p.Changes["g"].Destructive != 2 || p.Changes["g"].InPlace != 0 {
		t.Fatalf("a changed check: %+v", p.Changes["g"])
	}
	// Only the count changes, but one allocation was judged unhealthy.
	v2 := job("s", 3, svc("/health"), func(j *api.Job) { j.Version = 2 })
	placed[0].Status.Health = &api.AllocHealth{Healthy: false}
	p = compute(v2, nodes, placed, func(in *Input) { in.Versions = map[uint64]*api.Job{0: v0} })
	if p.Changes["g"].InPlace != 1 || p.Changes["g"].Destructive != 1 || p.Changes["g"].Place != 1 {
		t.Fatalf("unhealthy allocation: %+v", p.Changes["g"])
	}
}

func TestDisconnectedAllocationsAreKeptForLostAfter(t *testing.T) {
	lostAfter := func(replace bool, reconcile string) func(*api.Job) {
		return func(j *api.Job) {
			j.Groups[0].Disconnect = &api.DisconnectStrategy{LostAfter: api.Duration(10 * time.Second), Replace: &replace, Reconcile: reconcile}
		}
	}
	setup := func(mods ...func(*api.Job)) (*api.Job, []*api.Node, *api.Allocation) {
		nodes := []*api.Node{node("n1", 1000, 1000), node("n2", 1000, 1000)}
		j := job("s", 1, mods...)
		a := running(compute(j, nodes[:1], nil).Place...)[0]
		nodes[0].Status = api.NodeStatusDown
		return j, nodes, a
	}
	// The node goes down: unknown, replaced, re-evaluated at the deadline.
	j, nodes, a := setup(lostAfter(true, ""))
	fresh := func(in *Input) { in.NewID = ids2(9, 9) }
	p := compute(j, nodes, []*api.Allocation{a}, fresh)
	if p.Changes["g"].Disconnect != 1 || len(p.Place) != 1 || p.Place[0].NodeID != "n2" || !p.NextEvalAt.Equal(now.Add(10*time.Second)) {
		t.Fatalf("disconnect: %+v, placed %d, next eval %v", p.Changes["g"], len(p.Place), p.NextEvalAt)
	}
	u := p.Update[0]
	if u.DesiredStatus != api.AllocDesiredRun || u.DisconnectTime.IsZero() || u.NextAllocation != p.Place[0].ID || u.NodeLost {
		t.Fatalf("the original: %+v", u)
	}
	u.Status = a.Status
	if u.ClientStatusOf() != api.AllocClientUnknown {
		t.Fatalf("client status %q, want unknown", u.ClientStatusOf())
	}
	repl := running(p.Place[0])[0]
	// Still away, before the deadline: nothing moves.
	if p2 := compute(j, nodes, []*api.Allocation{u, repl}); !p2.Empty() {
		t.Fatalf("before the deadline: %+v", p2.Changes["g"])
	}
	// Back in time: the original stays, its replacement stops.
	nodes[0].Status = api.NodeStatusReady
	p3 := compute(j, nodes, []*api.Allocation{u, repl})
	if p3.Changes["g"].Reconnect != 1 || p3.Changes["g"].Stop != 1 || len(p3.Place) != 0 {
		t.Fatalf("reconnect: %+v", p3.Changes["g"])
	}
	for _, x := range p3.Update {
		switch x.ID {
		case u.ID:
			if !x.DisconnectTime.IsZero() || x.NextAllocation != "" || x.DesiredStatus != api.AllocDesiredRun {
				t.Fatalf("original after reconnect: %+v", x)
			}
		case repl.ID:
			if x.DesiredStatus != api.AllocDesiredStop {
				t.Fatalf("replacement after reconnect: %+v", x)
			}
		}
	}
	// keep_replacement does the opposite.
	p4 := compute(j, nodes, []*api.Allocation{u, repl}, func(in *Input) { in.Job = job("s", 1, lostAfter(true, "keep_replacement")) })
	if len(p4.Update) != 1 || p4.Update[0].ID != u.ID || p4.Update[0].DesiredStatus != api.AllocDesiredStop {
		t.Fatalf("keep_replacement: %+v", p4.Update)
	}
	// Past lost_after, still away: the original is lost.
	nodes[0].Status = api.NodeStatusDown
	p5 := compute(j, nodes, []*api.Allocation{u, repl}, func(in *Input) { in.Now = now.Add(11 * time.Second) })
	if len(p5.Update) != 1 || !p5.Update[0].NodeLost || p5.Update[0].DesiredStatus != api.AllocDesiredStop || len(p5.Place) != 0 {
		t.Fatalf("past lost_after: %+v", p5.Changes["g"])
	}

	// replace = false: kept, not replaced, lost (and replaced) at the deadline.
	j, nodes, a = setup(lostAfter(false, ""))
	p = compute(j, nodes, []*api.Allocation{a})
	if len(p.Place) != 0 || p.Changes["g"].Disconnect != 1 {
		t.Fatalf("replace=false: %+v", p.Changes["g"])
	}
	u = p.Update[0]
	u.Status = a.Status
	p = compute(j, nodes, []*api.Allocation{u}, fresh, func(in *Input) { in.Now = now.Add(10 * time.Second) })
	if len(p.Place) != 1 || !p.Update[0].NodeLost {
		t.Fatalf("replace=false past the deadline: %+v", p.Changes["g"])
	}
	// Without the block the allocation is lost at once.
	j, nodes, a = setup()
	if p := compute(j, nodes, []*api.Allocation{a}, fresh); p.Changes["g"].Lost != 1 || len(p.Place) != 1 {
		t.Fatalf("no disconnect block: %+v", p.Changes["g"])
	}
}

// A system job's allocation on a node down a moment ago stays, and the job
// is looked at again when the settle time is up; down longer, it is lost.
func TestSystemJobsWaitForANodeDownAMomentAgo(t *testing.T) {
	sys := func(j *api.Job) { j.Type = api.JobTypeSystem }
	nodes := []*api.Node{node("n1", 1000, 1000), node("n2", 1000, 1000)}
	placed := running(compute(job("sys", 1, sys), nodes, nil).Place...)
	settle := func(in *Input) { in.Config.DownSettle = 2 * time.Second }
	for _, c := range []struct {
		ago        time.Duration
		lost       int
		nextEvalIn time.Duration
	}{{time.Second, 0, time.Second}, {3 * time.Second, 1, 0}} {
		down := node("n2", 1000, 1000, withStatus(api.NodeStatusDown))
		down.DownSince = now.Add(-c.ago)
		p := compute(job("sys", 1, sys), []*api.Node{nodes[0], down}, placed, settle)
		lost := 0
		for _, a := range p.Update {
			if a.NodeLost {
				lost++
			}
		}
		var next time.Duration
		if !p.NextEvalAt.IsZero() {
			next = p.NextEvalAt.Sub(now)
		}
		if lost != c.lost || next != c.nextEvalIn {
			t.Errorf("down %v ago: %d lost, next evaluation in %v; want %d, %v", c.ago, lost, next, c.lost, c.nextEvalIn)
		}
	}
}

// An operator's alloc stop: the allocation stops and its replacement is
// placed in the same plan, linked both ways (nomad job restart
// -reschedule follows NextAllocation); the node it ran on is not avoided.
func TestAnOperatorStopReplacesAndLinksTheAllocation(t *testing.T) {
	nodes := []*api.Node{node("n1", 10000, 10000)}
	placed := compute(job("j", 2), nodes, nil).Place
	for _, a := range placed {
		withStatusOf(a, api.AllocClientRunning, now.Add(-time.Minute))
	}
	stopped := *placed[1]
	stopped.StopRequested = true
	p := compute(job("j", 2), nodes, []*api.Allocation{placed[0], &stopped})
	if len(p.Place) != 1 || len(p.Update) != 1 {
		t.Fatalf("placed %d, updated %d: %+v", len(p.Place), len(p.Update), p.Changes["g"])
	}
	u, repl := p.Update[0], p.Place[0]
	if u.ID != stopped.ID || u.DesiredStatus != api.AllocDesiredStop || u.NextAllocation != repl.ID || u.NodeLost {
		t.Fatalf("the stopped allocation: %+v", u)
	}
	if repl.PreviousAllocation != stopped.ID || repl.Index != stopped.Index || repl.NodeID != "n1" {
		t.Fatalf("the replacement: %+v", repl)
	}
	// Once stopped it is not replaced again.
	withStatusOf(u, api.AllocClientComplete, now)
	if p := compute(job("j", 2), nodes, []*api.Allocation{placed[0], u, repl}); len(p.Place) != 0 || len(p.Update) != 0 {
		t.Fatalf("a second pass placed %d, updated %d", len(p.Place), len(p.Update))
	}
	// With no node for the replacement the allocation still stops.
	ineligible := []*api.Node{node("n1", 10000, 10000)}
	ineligible[0].Eligible = false
	s2 := stopped
	p = compute(job("j", 2), ineligible, []*api.Allocation{placed[0], &s2})
	if len(p.Place) != 0 || len(p.Update) != 1 || p.Update[0].DesiredStatus != api.AllocDesiredStop || p.Update[0].NextAllocation != "" {
		t.Fatalf("with no node: placed %d, updated %+v", len(p.Place), p.Update)
	}
}
