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
	running atomic.Int64 // allocations reported running, now
	written atomic.Int64 // status writes sent

	mu   sync.Mutex
	jobs map[string]*jobTasks
}

// jobTasks are the task names of each group of one job version.
type jobTasks struct {
	once   sync.Once
	groups map[string][]string
}

func (h *hollowShared) tasks(ctx context.Context, a *api.Allocation) []string {
	key := a.Namespace + "/" + a.JobID + "/" + strconv.FormatUint(a.JobVersion, 10)
	h.mu.Lock()
	jt := h.jobs[key]
	if jt == nil {
		jt = &jobTasks{}
		h.jobs[key] = jt
	}
	h.mu.Unlock()
	jt.once.Do(func() {
		jt.groups = map[string][]string{}
		j, err := h.st.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
		if err != nil {
			return
		}
		for _, g := range j.Groups {
			for _, t := range g.Tasks {
				jt.groups[g.Name] = append(jt.groups[g.Name], t.Name)
			}
		}
	})
	return jt.groups[a.TaskGroup]
}

// allocState is what a hollow node remembers of an allocation: enough to
// check, at the end of a run, that nothing runs twice and no node is over
// its capacity.
type allocState struct {
	state    uint8
	cpu, mem int32
	name     string // job.group[index], which names one allocation slot
}

const (
	stateRunning uint8 = iota + 1
	stateDone
)

type hollowNode struct {
	h    *hollowShared
	node *api.Node

	mu      sync.Mutex
	lease   clientv3.LeaseID
	allocs  map[string]*allocState
	pending map[string]*api.AllocStatus
	writing bool // a write is scheduled or on the wire
}

func newHollowNode(h *hollowShared, n *api.Node) *hollowNode {
	return &hollowNode{h: h, node: n, allocs: map[string]*allocState{}, pending: map[string]*api.AllocStatus{}}
}

// run registers the node and follows its allocations until ctx ends. A
// hollow node costs two goroutines: this one and its watch's; its lease
// is renewed by the sim's shared keeper, its statuses written by a timer.
func (n *hollowNode) run(ctx context.Context) {
	if !n.register(ctx) {
		return
	}
	n.h.st.WatchNodeAllocs(ctx, n.node.ID, store.Subscriber{
		Resync: func(all []store.Change) {
			for _, c := range all {
				n.changed(ctx, c)
			}
		},
		Changed: func(c store.Change) { n.changed(ctx, c) },
	})
	// Leaving: the node goes down at once, as an agent that stops does.
	n.mu.Lock()
	lease := n.lease
	n.mu.Unlock()
	n.h.leases.forget(lease)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _ = n.h.cli.Revoke(rctx, lease)
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

func (n *hollowNode) changed(ctx context.Context, c store.Change) {
	if c.Deleted {
		n.mu.Lock()
		if s := n.allocs[c.ID]; s != nil && s.state == stateRunning {
			n.h.running.Add(-1)
		}
		delete(n.allocs, c.ID)
		delete(n.pending, c.ID)
		n.mu.Unlock()
		return
	}
	a, err := store.Decode[api.Allocation](c)
	if err != nil {
		return
	}
	n.mu.Lock()
	var state uint8
	if s := n.allocs[a.ID]; s != nil {
		state = s.state
	}
	n.mu.Unlock()
	now := time.Now().UTC()
	var st *api.AllocStatus
	switch {
	case a.DesiredStatus == api.AllocDesiredRun && state == 0:
		st = &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: now, Tasks: map[string]*api.TaskState{}}
		for _, t := range n.h.tasks(ctx, a) {
			st.Tasks[t] = &api.TaskState{State: api.TaskStateRunning, StartedAt: now}
		}
		state = stateRunning
		n.h.running.Add(1)
	case a.DesiredStatus != api.AllocDesiredRun && state == stateRunning:
		st = &api.AllocStatus{ClientStatus: api.AllocClientComplete, UpdateTime: now, Tasks: map[string]*api.TaskState{}}
		zero := 0
		for _, t := range n.h.tasks(ctx, a) {
			st.Tasks[t] = &api.TaskState{State: api.TaskStateDead, ExitCode: &zero, FinishedAt: now}
		}
		state = stateDone
		n.h.running.Add(-1)
	default:
		return
	}
	n.mu.Lock()
	n.allocs[a.ID] = &allocState{state: state, cpu: int32(a.Resources.CPU), mem: int32(a.Resources.MemoryMB), name: a.Name}
	n.pending[a.ID] = st
	start := !n.writing
	n.writing = true
	n.mu.Unlock()
	if start {
		// Statuses that come within 10 ms go in one transaction, as a
		// real agent coalesces them.
		time.AfterFunc(10*time.Millisecond, func() { n.write(ctx) })
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
			err := n.h.st.PutAllocStatuses(wctx, n.node.ID, batch)
			cancel()
			if err == nil {
				n.h.written.Add(int64(len(batch)))
				break
			}
			slog.Warn("hollow node: writing statuses", "node", n.node.Name, "err", err)
			loop.Sleep(ctx, backoff.Next())
		}
	}
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
		for _, s := range n.allocs {
			if s.state != stateRunning {
				continue
			}
			out.Running++
			slots[s.name]++
			job := s.name
			if i := strings.LastIndexByte(job, '.'); i > 0 {
				job = job[:i]
			}
			out.Jobs[job]++
			cpu += int(s.cpu)
			mem += int(s.mem)
		}
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
