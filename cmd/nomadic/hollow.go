package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A hollow node is a simulated node agent that costs almost nothing, as
// Kubernetes' kubemark hollow kubelets do: it registers and heartbeats
// exactly as an agent does (its own lease, its own watch of its own
// allocation prefix), and reports each allocation running as soon as it
// sees it, and complete once stopped, with coalesced writes — but it runs
// no task, keeps no goroutine per allocation and a few bytes of state per
// allocation. So `nomadic sim` measures the control plane, not itself.

// hollowShared is what the hollow nodes of one sim share: the store, the
// job versions their allocations name (read once for all), counters.
type hollowShared struct {
	st      *store.Store
	cli     *clientv3.Client
	leases  *leaseKeeper
	watches *watchMux
	running atomic.Int64 // allocations reported running, now
	written atomic.Int64 // status writes sent
	txns    atomic.Int64 // transactions (or relay requests) that carried them
	// relay, when set, takes the nodes' statuses first (-status-relay).
	relay    nodeagent.StatusRelay
	relayOff atomic.Int64 // unix nanoseconds: direct writes until then
	// writeq, when set, takes the nodes that have statuses to write to
	// the writers (startWriters), whose stacks have grown for the HTTP
	// client already: a goroutine started per write grew its stack
	// anew each time (5 % of the sim's CPU). Its room is one per node.
	writeq chan *hollowNode

	mu     sync.Mutex
	jobs   map[string]*jobTasks
	groups map[string]*string // interned job.group names (groupName)
}

// jobTasks are the task names of each group of one job version.
type jobTasks struct {
	once   sync.Once
	groups map[string][]string
}

func (h *hollowShared) tasks(ctx context.Context, ns, job string, version uint64, group string) []string {
	key := ns + "/" + job + "/" + strconv.FormatUint(version, 10)
	h.mu.Lock()
	jt := h.jobs[key]
	if jt == nil {
		jt = &jobTasks{}
		h.jobs[key] = jt
	}
	h.mu.Unlock()
	jt.once.Do(func() {
		jt.groups = map[string][]string{}
		j, err := h.st.GetJobVersion(ctx, ns, job, version)
		if err != nil {
			return
		}
		for _, g := range j.Groups {
			for _, t := range g.Tasks {
				jt.groups[g.Name] = append(jt.groups[g.Name], t.Name)
			}
		}
	})
	return jt.groups[group]
}

// allocState is what a hollow node remembers of an allocation: enough to
// check, at the end of a run, that nothing runs twice and no node is over
// its capacity — 24 bytes, with the allocation's ID as the map's key in
// 16 bytes: a sim of 1,000,000 allocations keeps them in about 60 MB.
type allocState struct {
	group    *string // "job.group", shared by the group's allocations
	index    int32
	cpu, mem int32
	state    uint8
}

// name is the allocation's slot, job.group[index].
func (s allocState) name() string { return *s.group + "[" + strconv.Itoa(int(s.index)) + "]" }

const (
	stateRunning uint8 = iota + 1
	stateDone
)

// allocKey is an allocation ID (a UUID, as servers make them) in 16 bytes.
type allocKey [16]byte

// keyOf parses a UUID; ok is false for any other ID.
func keyOf(id string) (allocKey, bool) { return api.UUIDBytes(id) }

// allocStates are a hollow node's allocations: by 16-byte key, and by
// their string ID for the rare one that is not a UUID.
type allocStates struct {
	byKey   map[allocKey]allocState
	byOther map[string]allocState
}

func (m *allocStates) get(id string) (allocState, bool) {
	if k, ok := keyOf(id); ok {
		s, found := m.byKey[k]
		return s, found
	}
	s, found := m.byOther[id]
	return s, found
}

func (m *allocStates) set(id string, s allocState) {
	if k, ok := keyOf(id); ok {
		if m.byKey == nil {
			m.byKey = map[allocKey]allocState{}
		}
		m.byKey[k] = s
		return
	}
	if m.byOther == nil {
		m.byOther = map[string]allocState{}
	}
	m.byOther[id] = s
}

func (m *allocStates) del(id string) {
	if k, ok := keyOf(id); ok {
		delete(m.byKey, k)
		return
	}
	delete(m.byOther, id)
}

func (m *allocStates) each(fn func(allocState)) {
	for _, s := range m.byKey {
		fn(s)
	}
	for _, s := range m.byOther {
		fn(s)
	}
}

// groupName interns "job.group", so that a million allocations share a
// thousand strings.
func (h *hollowShared) groupName(job, group string) *string {
	key := job + "." + group
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.groups[key]
	if p == nil {
		p = &key
		if h.groups == nil {
			h.groups = map[string]*string{}
		}
		h.groups[key] = p
	}
	return p
}

type hollowNode struct {
	h    *hollowShared
	node *api.Node

	mu      sync.Mutex
	lease   clientv3.LeaseID
	allocs  allocStates
	pending map[string]*api.AllocStatus
	writing bool // a write is scheduled or on the wire
}

func newHollowNode(h *hollowShared, n *api.Node) *hollowNode {
	return &hollowNode{h: h, node: n, pending: map[string]*api.AllocStatus{}}
}

// run registers the node and has the sim's watches follow its
// allocations (hollowwatch.go), then returns: a hollow node keeps no
// goroutine; its lease is renewed by the sim's shared keeper, its watch
// served by a shared stream, its statuses written by a timer.
func (n *hollowNode) run(ctx context.Context, seq int) {
	if !n.register(ctx) {
		return
	}
	backoff := loop.Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		err := n.h.watches.add(ctx, n, seq)
		if err == nil {
			return
		}
		if ctx.Err() == nil {
			slog.Warn("hollow node: listing its allocations", "node", n.node.Name, "err", err)
			loop.Sleep(ctx, backoff.Next())
		}
	}
}

// leave revokes the node's lease: it goes down at once, as an agent that
// stops does.
func (n *hollowNode) leave(ctx context.Context) {
	n.mu.Lock()
	lease := n.lease
	n.mu.Unlock()
	if lease == 0 {
		return
	}
	n.h.leases.forget(lease)
	if ctx.Err() == nil {
		_, _ = n.h.cli.Revoke(ctx, lease)
	}
}

// register grants the node a lease and writes its record and heartbeat,
// retrying until it has or ctx ends.
func (n *hollowNode) register(ctx context.Context) bool {
	backoff := loop.Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		lease, err := n.h.leases.grant(ctx, func() {
			slog.Warn("hollow node lease lost; registering again", "node", n.node.Name)
			n.register(ctx)
		})
		if err == nil {
			if err = n.h.st.PutNode(ctx, n.node); err == nil {
				err = n.h.st.PutHeartbeat(ctx, n.node.ID, store.Lease(lease))
			}
			if err == nil {
				n.mu.Lock()
				n.lease = lease
				n.mu.Unlock()
				return true
			}
			n.h.leases.forget(lease)
		}
		if ctx.Err() == nil {
			slog.Warn("registering hollow node", "node", n.node.Name, "err", err)
			loop.Sleep(ctx, backoff.Next())
		}
	}
	return false
}

// changed follows a change of one of the node's allocations: its ID, and
// its record unless it was deleted.
func (n *hollowNode) changed(ctx context.Context, id string, deleted bool, value []byte) {
	if deleted {
		n.mu.Lock()
		if s, ok := n.allocs.get(id); ok && s.state == stateRunning {
			n.h.running.Add(-1)
		}
		n.allocs.del(id)
		delete(n.pending, id)
		n.mu.Unlock()
		return
	}
	a, err := store.DecodeAlloc(id, value)
	if err != nil {
		return
	}
	n.mu.Lock()
	s, known := n.allocs.get(a.ID)
	n.mu.Unlock()
	now := time.Now().UTC()
	var st *api.AllocStatus
	switch {
	case a.DesiredStatus == api.AllocDesiredRun && !known:
		st = &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: now, Tasks: map[string]*api.TaskState{}}
		for _, t := range n.h.tasks(ctx, a.Namespace, a.JobID, a.JobVersion, a.TaskGroup) {
			st.Tasks[t] = &api.TaskState{State: api.TaskStateRunning, StartedAt: now}
		}
		s = allocState{group: n.h.groupName(a.JobID, a.TaskGroup), index: int32(a.Index),
			cpu: int32(a.Resources.CPU), mem: int32(a.Resources.MemoryMB), state: stateRunning}
		n.h.running.Add(1)
	case a.DesiredStatus != api.AllocDesiredRun && known && s.state == stateRunning:
		st = &api.AllocStatus{ClientStatus: api.AllocClientComplete, UpdateTime: now, Tasks: map[string]*api.TaskState{}}
		zero := 0
		for _, t := range n.h.tasks(ctx, a.Namespace, a.JobID, a.JobVersion, a.TaskGroup) {
			st.Tasks[t] = &api.TaskState{State: api.TaskStateDead, ExitCode: &zero, FinishedAt: now}
		}
		s.state = stateDone
		n.h.running.Add(-1)
	default:
		return
	}
	n.mu.Lock()
	n.allocs.set(a.ID, s)
	n.pending[a.ID] = st
	start := !n.writing
	n.writing = true
	n.mu.Unlock()
	if start {
		// Statuses that come within 10 ms go in one transaction, as a
		// real agent coalesces them.
		time.AfterFunc(10*time.Millisecond, func() {
			if n.h.writeq == nil {
				n.write(ctx)
				return
			}
			n.h.writeq <- n
		})
	}
}

// simWriters is how many statuses the sim's nodes write at once: more
// than the relay's connections to two servers (256 each).
const simWriters = 1024

// startWriters starts the writers of the statuses of the nodes writeq
// holds, until ctx ends; a node is there at most once
// (hollowNode.writing). Called before any node starts.
func (h *hollowShared) startWriters(ctx context.Context, nodes int) {
	h.writeq = make(chan *hollowNode, nodes)
	for range simWriters {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case n := <-h.writeq:
					n.write(ctx)
				}
			}
		}()
	}
}

// write writes pending statuses until none are left; statuses that come
// while a write is on the wire go in the next one.
func (n *hollowNode) write(ctx context.Context) {
	for {
		n.mu.Lock()
		batch := n.pending
		if len(batch) == 0 || ctx.Err() != nil {
			n.writing = false
			n.mu.Unlock()
			return
		}
		n.pending = map[string]*api.AllocStatus{}
		n.mu.Unlock()
		backoff := loop.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
		for ctx.Err() == nil {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.h.put(wctx, n.node.ID, batch)
			cancel()
			if err == nil {
				n.h.written.Add(int64(len(batch)))
				n.h.txns.Add(1)
				break
			}
			slog.Warn("hollow node: writing statuses", "node", n.node.Name, "err", err)
			loop.Sleep(ctx, backoff.Next())
		}
	}
}

// put writes a node's statuses as a node agent does: through the servers'
// relay, or to etcd when it is off or failed in the last 30 seconds.
func (h *hollowShared) put(ctx context.Context, node string, batch map[string]*api.AllocStatus) error {
	if h.relay != nil && time.Now().UnixNano() >= h.relayOff.Load() {
		err := h.relay.PutAllocStatuses(ctx, node, batch)
		if err == nil || ctx.Err() != nil {
			return err
		}
		h.relayOff.Store(time.Now().Add(30 * time.Second).UnixNano())
		slog.Warn("hollow nodes: status relay failed: writing statuses to etcd for 30 s", "err", err)
	}
	return h.st.PutAllocStatuses(ctx, node, batch)
}

// hollowNodeRecord is the record a hollow node registers.
func hollowNodeRecord(i int, cpu, mem, racks int) *api.Node {
	name := fmt.Sprintf("sim-%05d", i)
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
	return &api.Node{
		ID: id, Name: name, Datacenter: fmt.Sprintf("dc%d", i%4), NodePool: api.DefaultNodePool, Eligible: true,
		Address: "127.0.0.1", RegisterTime: time.Now().UTC(),
		// The sim's credentials are the servers' (it writes every hollow
		// node's keys), which read job versions: as a real agent on them
		// reports, no copies are needed.
		ReadsJobs: true,
		Attributes: map[string]string{"kernel.name": "linux", "os.name": "linux", "cpu.numcores": "16",
			"unique.hostname": name, "simulated": "true"},
		Meta:      map[string]string{"rack": fmt.Sprintf("r%02d", i%max(racks, 1))},
		Drivers:   map[string]*api.DriverInfo{"mock": {Detected: true, Healthy: true}},
		Resources: api.Resources{CPU: cpu, MemoryMB: mem, DiskMB: 1 << 20},
	}
}

// simCheck is what a check of every hollow node found.
type simCheck struct {
	Running    int            `json:"running"`
	Jobs       map[string]int `json:"-"`
	JobCount   int            `json:"jobs"`
	Duplicates int            `json:"duplicate_slots"`
	Overfull   int            `json:"nodes_over_capacity"`
}

// check counts what the nodes run: allocations per job (by the job part
// of their names), slots (job.group[index]) running more than once, and
// nodes whose running allocations ask for more than they have.
func check(nodes []*hollowNode) *simCheck {
	out := &simCheck{Jobs: map[string]int{}}
	slots := map[string]int{}
	for _, n := range nodes {
		cpu, mem := 0, 0
		n.mu.Lock()
		n.allocs.each(func(s allocState) {
			if s.state != stateRunning {
				return
			}
			out.Running++
			slots[s.name()]++
			job := *s.group
			if i := strings.LastIndexByte(job, '.'); i > 0 {
				job = job[:i]
			}
			out.Jobs[job]++
			cpu += int(s.cpu)
			mem += int(s.mem)
		})
		n.mu.Unlock()
		if cpu > n.node.Resources.CPU || mem > n.node.Resources.MemoryMB {
			out.Overfull++
		}
	}
	for _, c := range slots {
		if c > 1 {
			out.Duplicates++
		}
	}
	out.JobCount = len(out.Jobs)
	return out
}
