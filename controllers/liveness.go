package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// NodeLiveness is a singleton controller: when a node's heartbeat key
// vanishes (its lease expired), it creates an evaluation for every job with
// allocations on that node, and the scheduler replaces them. Detection takes
// the node's lease TTL, plus up to one etcd election timeout if etcd's
// leader changes meanwhile.
type NodeLiveness struct {
	Store  *store.Store
	Cache  *store.Cache
	Guard  store.Guard
	Now    func() time.Time
	Resync time.Duration
	// Settle is how long a node that went down waits before its
	// allocations are replaced (default scheduler.DefaultDownSettle, 2 s,
	// which the scheduler waits too): long enough to tell one node
	// failing from many failing together, which holds them
	// (scheduler.HoldDown).
	Settle time.Duration

	// Recovery is how long the hold lasts once most nodes are back
	// (default 1 min), so that nodes still reconnecting are not replaced
	// on the way.
	Recovery time.Duration

	// Stalls, when set, tells of etcd's stalls (StallWatch): node leases
	// that expire during or just after one were starved by the control
	// plane, not lost by their nodes, so a stall sets the hold.
	Stalls *StallWatch

	q *queue
	// releasing is when most nodes were first seen back during a hold;
	// only the single worker reads and writes it.
	releasing time.Time
	// stallSeen is the end of the last stall the worker acted on.
	stallSeen time.Time

	// seen are the nodes this controller has seen with a heartbeat, and
	// downs when each node last lost it.
	seenMu sync.Mutex
	seen   map[string]bool
	downs  map[string]time.Time
	// readyAt is when each node queued for nodeReady was seen ready.
	readyAt map[string]time.Time

	// systemJobs are the system and sysbatch jobs as read at
	// systemJobsAt (only the worker uses them): a node seen ready before
	// that read needs no read of its own. Each node that registers or
	// comes back needs them, and listing every job from etcd for each of
	// 5,000 nodes registering at once took a fifth of the leader's CPU.
	systemJobs   []*api.Job
	systemJobsAt time.Time
}

// Flapping: when more than flapShare of the nodes (and at least
// scheduler.HoldMinNodes) lost their heartbeat within flapWindow, however
// few are down at any one moment, the cause is more likely the control
// plane than the nodes — leases starved by an overloaded etcd expire here
// and there, and their nodes come back a few seconds later — so their
// allocations are held as for a mass failure. Kubernetes' node lifecycle
// controller likewise slows evictions in a zone where many nodes fail.
const (
	flapWindow = time.Minute
	flapShare  = 0.1
)

// noteDown records that a node lost its heartbeat.
func (c *NodeLiveness) noteDown(node string, at time.Time) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if c.downs == nil {
		c.downs = map[string]time.Time{}
	}
	c.downs[node] = at
}

// recentlyDown counts the nodes that lost their heartbeat within
// flapWindow before now, forgetting older ones.
func (c *NodeLiveness) recentlyDown(now time.Time) int {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	for node, at := range c.downs {
		if now.Sub(at) > flapWindow {
			delete(c.downs, node)
		}
	}
	return len(c.downs)
}

// flapping reports whether so many nodes lost their heartbeat lately that
// their allocations are held (flapWindow, flapShare).
func flapping(recent, total int) bool {
	return recent >= scheduler.HoldMinNodes && float64(recent) > flapShare*float64(total)
}

// joinGrace is how long after it registered a node that has not been
// ready yet counts as joining rather than down.
const joinGrace = time.Minute

// census counts the nodes that are down, and all nodes, for the hold. A
// node that registered less than joinGrace ago and was never seen with a
// heartbeat is joining, not down (an agent writes its record, then its
// heartbeat): it counts in neither, so that a cluster's first nodes
// registering together are not taken for a mass failure.
func (c *NodeLiveness) census(nodes []*api.Node, now time.Time) (down, total int) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	for _, n := range nodes {
		if n.Status == api.NodeStatusReady {
			total++
			continue
		}
		if age := now.Sub(n.RegisterTime); !c.seen[n.ID] && !n.RegisterTime.IsZero() && age < joinGrace && age > -joinGrace {
			continue
		}
		down++
		total++
	}
	return down, total
}

// sawReady notes nodes seen with a heartbeat.
func (c *NodeLiveness) sawReady(ids ...string) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	for _, id := range ids {
		c.seen[id] = true
	}
}

// queueReady notes when a node was seen ready, as it is queued for
// nodeReady.
func (c *NodeLiveness) queueReady(id string) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	if c.readyAt == nil {
		c.readyAt = map[string]time.Time{}
	}
	c.readyAt[id] = time.Now()
}

// takeReadyAt returns when a node queued for nodeReady was seen ready (now
// when unknown) and forgets it.
func (c *NodeLiveness) takeReadyAt(id string) time.Time {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	at, ok := c.readyAt[id]
	delete(c.readyAt, id)
	if !ok {
		return time.Now()
	}
	return at
}

// liveSystemJobs returns the system and sysbatch jobs that are not stopped,
// as read from etcd after since: a list read later than a node was seen
// ready holds every system job created before the node's heartbeat (a
// job created after it places on the node by its own evaluation).
func (c *NodeLiveness) liveSystemJobs(ctx context.Context, since time.Time) ([]*api.Job, error) {
	if c.systemJobs != nil && c.systemJobsAt.After(since) {
		return c.systemJobs, nil
	}
	at := time.Now()
	jobs, err := c.Store.ListJobs(ctx, "")
	if err != nil {
		return nil, err
	}
	system := []*api.Job{}
	for _, j := range jobs {
		if (j.Type == api.JobTypeSystem || j.Type == api.JobTypeSysbatch) && !j.Stop {
			system = append(system, j)
		}
	}
	c.systemJobs, c.systemJobsAt = system, at
	return system, nil
}

// holdKey is the queue key that re-checks the hold.
const holdKey = "hold:"

// Run watches heartbeats until ctx ends.
func (c *NodeLiveness) Run(ctx context.Context) {
	settle := c.Settle
	if settle == 0 {
		settle = scheduler.DefaultDownSettle
	}
	q := newQueue()
	c.q = q
	enqueueAll := func() {
		q.add(holdKey)
		nodes, err := c.Store.ListNodes(ctx)
		if err != nil {
			return
		}
		for _, n := range nodes {
			if n.Status == api.NodeStatusDown {
				// As for a node seen going down: a new leader's first
				// look waits too, so that it learns of a stall first.
				q.addAfter(n.ID, settle)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		// A stall that ended is acted on at once, before the nodes whose
		// leases it starved are (they wait Settle).
		var seen time.Time
		for ctx.Err() == nil {
			if _, ended := c.Stalls.Last(); !ended.Equal(seen) {
				seen = ended
				q.add(holdKey)
			}
			loop.Sleep(ctx, 200*time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		c.Cache.Subscribe(ctx, store.Subscriber{
			Kinds: []store.Kind{store.KindHeartbeats},
			Resync: func(all []store.Change) {
				ids := make([]string, 0, len(all))
				for _, ch := range all {
					ids = append(ids, ch.Node)
				}
				c.sawReady(ids...)
				enqueueAll()
			},
			Changed: func(ch store.Change) {
				if ch.Deleted {
					c.noteDown(ch.Node, c.Now())
					q.addAfter(ch.Node, settle)
				} else {
					c.sawReady(ch.Node)
					c.queueReady(ch.Node)
					// A node that joined or came back: system jobs may
					// now run on it, and a hold may end.
					q.add(systemPrefix + ch.Node)
					q.add(holdKey)
				}
			},
		})
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(c.Resync, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				enqueueAll()
			}
		}
	}()
	runWorkers(ctx, q, 1, c.work)
	wg.Wait()
}

// systemPrefix marks queue keys of nodes that became ready.
const systemPrefix = "ready:"

func (c *NodeLiveness) work(ctx context.Context, key string) error {
	if nodeID, ok := strings.CutPrefix(key, systemPrefix); ok {
		return c.nodeReady(ctx, nodeID)
	}
	nodeID := key
	nodes, err := c.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	alive := false
	for _, n := range nodes {
		if n.Status == api.NodeStatusReady && n.ID == nodeID {
			alive = true
		}
	}
	down, total := c.census(nodes, c.Now())
	held, err := c.hold(ctx, down, total)
	if err != nil || held || alive || nodeID == holdKey {
		// Held nodes are looked at again when the hold ends.
		return err
	}
	allocs, err := c.Store.ListAllocs(ctx, store.AllocFilter{NodeID: nodeID})
	if err != nil {
		return err
	}
	jobs := map[[2]string]bool{}
	for _, a := range allocs {
		if a.DesiredStatus == api.AllocDesiredRun && !a.Terminal() {
			jobs[[2]string{a.Namespace, a.JobID}] = true
		}
	}
	for j := range jobs {
		if err := ensureEval(ctx, c.Store, j[0], j[1], api.EvalTriggerNodeUpdate, nodeID, c.Now(), c.Guard); err != nil {
			return err
		}
		slog.Info("node down: evaluating its job", "node", nodeID, "job", j[1])
	}
	return nil
}

// hold decides whether down nodes' allocations are held, and keeps the
// hold (store.NodeHold) in step: set when so many nodes are down at once
// that the cause is more likely etcd, the network or the servers than the
// nodes (scheduler.HoldDown), kept for Recovery once most are back, then
// ended, when every down node is looked at again.
func (c *NodeLiveness) hold(ctx context.Context, down, total int) (bool, error) {
	now := c.Now()
	h, err := c.Store.GetNodeHold(ctx)
	if err != nil {
		return false, err
	}
	if c.Stalls.Stalling() {
		// etcd is slow or away right now: nothing is decided about nodes
		// until it answers (and then the stall holds them).
		if c.q != nil {
			c.q.addAfter(holdKey, time.Second)
		}
		return true, nil
	}
	if d, ended := c.Stalls.Last(); !ended.IsZero() && !ended.Equal(c.stallSeen) && time.Since(ended) < c.recovery() {
		// etcd stalled a moment ago: whatever leases expired meanwhile
		// were the control plane's doing. Hold until the recovery time
		// from the stall's end has passed.
		if h == nil {
			h = &store.NodeHold{Since: now, Down: down, Nodes: total, Reason: fmt.Sprintf("etcd stalled for %v", d.Round(100*time.Millisecond))}
			if err := c.Store.PutNodeHold(ctx, h, c.Guard); err != nil {
				return true, err
			}
			slog.Warn("etcd stalled: holding the allocations of nodes that went down until they had time to reconnect",
				"stalled_for", d.Round(100*time.Millisecond), "down", down, "nodes", total)
		}
		c.stallSeen = ended
		if !scheduler.HoldDown(down, total) {
			left := c.recovery() - time.Since(ended)
			c.releasing = now.Add(-time.Since(ended))
			if c.q != nil {
				c.q.addAfter(holdKey, left)
			}
			metricNodesHeld.Set(float64(down))
			return true, nil
		}
	}
	if scheduler.HoldDown(down, total) {
		c.releasing = time.Time{}
		metricNodesHeld.Set(float64(down))
		if h == nil {
			if err := c.Store.PutNodeHold(ctx, &store.NodeHold{Since: now, Down: down, Nodes: total, Reason: "most nodes are down at once"}, c.Guard); err != nil {
				return true, err
			}
			slog.Warn("many nodes are down at once: holding their allocations instead of replacing them",
				"down", down, "nodes", total)
		}
		return true, nil
	}
	if recent := c.recentlyDown(now); flapping(recent, total) {
		c.releasing = time.Time{}
		metricNodesHeld.Set(float64(down))
		if c.q != nil {
			// Looked at again once the window may have passed.
			c.q.addAfter(holdKey, flapWindow/4)
		}
		if h == nil {
			reason := fmt.Sprintf("%d of %d nodes lost their heartbeat within %v", recent, total, flapWindow)
			if err := c.Store.PutNodeHold(ctx, &store.NodeHold{Since: now, Down: down, Nodes: total, Reason: reason}, c.Guard); err != nil {
				return true, err
			}
			slog.Warn("many nodes lost their heartbeat lately: holding the allocations of those down instead of replacing them",
				"recently_down", recent, "down", down, "nodes", total, "window", flapWindow)
		}
		return true, nil
	}
	if h == nil {
		c.releasing = time.Time{}
		metricNodesHeld.Set(0)
		return false, nil
	}
	recovery := c.recovery()
	if c.releasing.IsZero() {
		c.releasing = now
		slog.Info("most nodes are back: the hold ends once the rest had time to reconnect",
			"down", down, "nodes", total, "in", recovery)
	}
	if left := recovery - now.Sub(c.releasing); left > 0 {
		metricNodesHeld.Set(float64(down))
		if c.q != nil {
			c.q.addAfter(holdKey, left)
		}
		return true, nil
	}
	if err := c.Store.DeleteNodeHold(ctx, c.Guard); err != nil {
		return true, err
	}
	c.releasing = time.Time{}
	metricNodesHeld.Set(0)
	slog.Info("the hold ended: replacing the allocations of nodes still down", "down", down, "nodes", total,
		"held_for", now.Sub(h.Since).Round(time.Second))
	if c.q != nil && down > 0 {
		nodes, err := c.Store.ListNodes(ctx)
		if err != nil {
			return false, err
		}
		for _, n := range nodes {
			if n.Status != api.NodeStatusReady {
				c.q.add(n.ID)
			}
		}
	}
	return false, nil
}

func (c *NodeLiveness) recovery() time.Duration {
	if c.Recovery > 0 {
		return c.Recovery
	}
	return time.Minute
}

// nodeReady evaluates every system and sysbatch job for a node that became
// ready, and every job with an allocation there that was kept as unknown
// while the node was away (disconnect.lost_after).
func (c *NodeLiveness) nodeReady(ctx context.Context, nodeID string) error {
	readyAt := c.takeReadyAt(nodeID)
	allocs, err := c.Store.ListAllocs(ctx, store.AllocFilter{NodeID: nodeID})
	if err != nil {
		return err
	}
	for _, a := range allocs {
		if !a.DisconnectTime.IsZero() && a.DesiredStatus == api.AllocDesiredRun {
			if err := ensureEval(ctx, c.Store, a.Namespace, a.JobID, api.EvalTriggerNodeUpdate, nodeID, c.Now(), c.Guard); err != nil {
				return err
			}
			slog.Info("node back: evaluating its disconnected job", "node", nodeID, "job", a.JobID)
		}
	}
	// A retry after an error finds no readyAt and reads the jobs anew.
	jobs, err := c.liveSystemJobs(ctx, readyAt)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := ensureEval(ctx, c.Store, j.Namespace, j.ID, api.EvalTriggerNodeUpdate, nodeID, c.Now(), c.Guard); err != nil {
			return err
		}
	}
	return nil
}
