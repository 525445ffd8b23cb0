// Package nodeagent is the part of nomadic that runs on every node: it
// registers the node under an etcd lease (its heartbeat), watches only its
// own allocation prefix, runs each allocation's tasks through the drivers,
// and writes what it observes under a separate status key.
package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Config configures a node agent.
type Config struct {
	// NodeID is kept in DataDir across restarts; generated when empty.
	NodeID     string
	Name       string
	Datacenter string
	NodePool   string
	NodeClass  string
	Meta       map[string]string
	DataDir    string
	// TTL is the node's lease TTL: a node whose agent is gone this long is
	// down.
	TTL     time.Duration
	Drivers []driver.Driver
	// StopTasksOnShutdown stops every task when the agent stops (dev
	// mode). Otherwise tasks keep running and are re-attached when the
	// agent comes back, as in Nomad.
	StopTasksOnShutdown bool
	// Reserved is capacity kept back from allocations.
	Reserved api.Resources
	// HTTPAddr is where the agent serves logs to the servers (registered
	// in the node record); empty when it serves none.
	HTTPAddr string
	// HTTPTLS says the agent serves HTTPAddr over mutual TLS (registered
	// in the node record, so servers call it with their certificate).
	HTTPTLS bool
	// Resources, when set, replaces the fingerprinted capacity (simulated
	// nodes).
	Resources *api.Resources
	// Attributes are added to the fingerprinted ones.
	Attributes map[string]string
	// Variables is where templates read variables (nil: they cannot).
	Variables Variables
	// Artifacts bounds artifact downloads (zero: the defaults).
	Artifacts ArtifactLimits
	// JobWait is how long an allocation waits for the servers to copy its
	// job version into the node's tree before it fails (default 90 s).
	JobWait time.Duration
	// StatusRelay, when set, is tried first for status writes: the
	// servers write many nodes' statuses in one transaction. When it
	// fails the agent writes to etcd itself, and leaves the relay alone
	// for a while.
	StatusRelay StatusRelay
	// Logs is the agent's own log, which its HTTP endpoint streams to
	// the servers for nomad monitor -node-id (nil: it answers 501).
	Logs *logmon.Hub
}

// StatusRelay hands a node's allocation statuses to the servers
// (nodes.RelayClient).
type StatusRelay interface {
	PutAllocStatuses(ctx context.Context, node string, statuses map[string]*api.AllocStatus) error
}

// Agent is a running node agent.
type Agent struct {
	store   Store
	cfg     Config
	drivers map[string]driver.Driver
	node    *api.Node

	mu      sync.Mutex
	runners map[string]*allocRunner
	// lostAt is when the node lost its lease (unix nanoseconds); 0 while
	// it is registered.
	lostAt atomic.Int64
	wg     sync.WaitGroup
	jobs   *jobCache
	ready  chan struct{}
	// lease is the node's current lease, which service instances are
	// bound to.
	lease atomic.Int64
	// statuses coalesces the status writes of the agent's runners.
	statuses *statusWriter
	// readsJobs is whether the agent's etcd credentials read job
	// versions (api.Node.ReadsJobs): 0 not known yet, 1 no, 2 yes.
	readsJobs atomic.Int32

	vars Variables
	ids  *identities
	cat  *catalog
	// runCtx is Run's context, which the agent's own watches (the
	// catalog's namespaces) live in; watchers waits for them.
	runCtx context.Context
	// ended is closed when Run returns: exec sessions, whose connections
	// the HTTP server no longer owns, end with it.
	ended     chan struct{}
	endedOnce sync.Once
	// usage keeps the previous CPU samples of tasks and host.
	usage    usageState
	watchers sync.WaitGroup
}

// New prepares an agent: it loads or creates the node ID and fingerprints
// the node.
func New(st *store.Store, cfg Config) (*Agent, error) {
	return newAgent(etcdStore{st}, cfg)
}

// newAgent prepares an agent over any Store.
func newAgent(st Store, cfg Config) (*Agent, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node agent needs a data dir")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.JobWait <= 0 {
		cfg.JobWait = 90 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "alloc"), 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	if cfg.NodeID == "" {
		id, err := loadNodeID(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		cfg.NodeID = id
	}
	a := &Agent{store: st, cfg: cfg, drivers: map[string]driver.Driver{}, runners: map[string]*allocRunner{}, ready: make(chan struct{}),
		ended: make(chan struct{})}
	a.statuses = newStatusWriter(a)
	for _, d := range cfg.Drivers {
		a.drivers[d.Name()] = d
	}
	a.jobs = &jobCache{store: st, node: cfg.NodeID, jobs: map[string]*api.Job{}}
	a.vars = cfg.Variables
	if a.vars == nil {
		a.vars = noVariables{}
	}
	a.ids = newIdentities()
	a.cat = &catalog{a: a, ns: map[string]*nsCatalog{}}
	a.runCtx = context.Background()
	a.node = a.fingerprint(context.Background())
	return a, nil
}

// NodeID returns the node's ID.
func (a *Agent) NodeID() string { return a.cfg.NodeID }

// Ready is closed once the node is registered and its allocations listed.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// LoadNodeID returns the node ID kept in an agent's data dir, creating
// one on first use: what a node joins the cluster as before the agent
// starts.
func LoadNodeID(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("creating data dir: %w", err)
	}
	return loadNodeID(dataDir)
}

func loadNodeID(dir string) (string, error) {
	path := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading node id: %w", err)
	}
	id := api.NewID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing node id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing node id: %w", err)
	}
	return id, nil
}

// Run runs the agent until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	// The status writer outlives the rest: runners write their last
	// statuses while the agent shuts down.
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		a.statuses.run(wctx)
	}()
	defer func() {
		stopWriter()
		<-writerDone
	}()
	a.runCtx = ctx
	defer a.endedOnce.Do(func() { close(a.ended) })
	defer a.watchers.Wait()
	var wg sync.WaitGroup
	wg.Add(5)
	go func() {
		defer wg.Done()
		a.store.WatchIdentities(ctx, a.cfg.NodeID, a.ids.subscriber())
	}()
	go func() {
		defer wg.Done()
		a.heartbeat(ctx)
	}()
	go func() {
		defer wg.Done()
		a.stopAfterLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		a.rotateLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		a.store.WatchAllocs(ctx, a.cfg.NodeID, (&allocHandler{a: a}).subscriber())
	}()
	wg.Wait()
	a.shutdown()
}

// heartbeat keeps the node registered: a session (lease with keep-alive)
// holds the heartbeat key, and the node record is rewritten only when the
// fingerprint changes. A lost lease is replaced by a new session.
func (a *Agent) heartbeat(ctx context.Context) {
	readyOnce := sync.Once{}
	open := func(ctx context.Context) (Session, error) {
		return a.store.OpenSession(ctx, max(a.cfg.TTL, 2*time.Second))
	}
	loop.KeepSession(ctx, "node", open, func(sctx context.Context, sess Session) bool {
		if err := a.register(sctx, sess); err != nil {
			slog.Warn("registering node", "err", err)
			loop.Sleep(ctx, 500*time.Millisecond)
			return false
		}
		slog.Info("node registered", "node", a.cfg.NodeID, "name", a.node.Name)
		if old := a.lease.Swap(sess.Lease()); old != 0 && old != sess.Lease() {
			a.reregisterServices(ctx)
		}
		if a.lostAt.Swap(0) != 0 {
			// Status writes made while away may have been lost.
			a.rewriteStatuses(ctx)
		}
		readyOnce.Do(func() { close(a.ready) })
		refresh := time.NewTicker(time.Minute)
		defer refresh.Stop()
		for {
			select {
			case <-sctx.Done():
				if ctx.Err() == nil {
					a.lostAt.CompareAndSwap(0, time.Now().UnixNano())
					slog.Warn("node lease lost; registering again")
					return false
				}
				// Its tasks are stopped: revoke so that the node reads
				// down at once rather than after the TTL. An agent that
				// leaves its tasks running keeps its lease, so that a
				// restart within the TTL re-attaches to them without the
				// node going down.
				return a.cfg.StopTasksOnShutdown
			case <-refresh.C:
				a.node = a.fingerprint(ctx)
				a.node.ReadsJobs = a.probeReadsJobs(ctx)
				if err := a.store.PutNode(ctx, a.node); err != nil {
					slog.Warn("updating node", "err", err)
				}
			}
		}
	})
}

func (a *Agent) register(ctx context.Context, sess Session) error {
	a.node.ReadsJobs = a.probeReadsJobs(ctx)
	if err := a.store.PutNode(ctx, a.node); err != nil {
		return err
	}
	return a.store.PutHeartbeat(ctx, a.cfg.NodeID, sess.Lease())
}

// probeReadsJobs finds out, once, whether the agent's credentials read job
// versions. Until etcd answered it says no, which only costs the copies.
func (a *Agent) probeReadsJobs(ctx context.Context) bool {
	switch a.readsJobs.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ok, err := a.store.ReadsJobs(pctx)
	if err != nil {
		slog.Debug("cannot tell yet whether this node's credentials read job versions", "err", err)
		return false
	}
	if ok {
		a.readsJobs.Store(2)
	} else {
		a.readsJobs.Store(1)
		slog.Info("this node's etcd credentials do not read job versions: it runs them from the copies the servers make in its tree")
	}
	return ok
}

// allocHandler applies the agent's allocation prefix to its runners.
type allocHandler struct{ a *Agent }

func (h *allocHandler) subscriber() store.Subscriber {
	return store.Subscriber{Resync: h.resync, Changed: h.changed}
}

func (h *allocHandler) resync(all []store.Change) {
	seen := map[string]bool{}
	for _, ch := range all {
		if id := h.a.update(ch.ID, ch.Value); id != "" {
			seen[id] = true
		}
	}
	// Allocations removed while the agent was not watching.
	h.a.mu.Lock()
	var gone []string
	for id := range h.a.runners {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	h.a.mu.Unlock()
	for _, id := range gone {
		h.a.remove(id)
	}
}

func (h *allocHandler) changed(ch store.Change) {
	if ch.Deleted {
		h.a.remove(ch.ID)
		return
	}
	h.a.update(ch.ID, ch.Value)
}

// update starts a runner for a new allocation or hands a changed one to its
// runner. It returns the allocation's ID.
func (a *Agent) update(key string, value []byte) string {
	var alloc api.Allocation
	if err := json.Unmarshal(value, &alloc); err != nil {
		slog.Warn("skipping undecodable allocation", "key", key, "err", err)
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.runners[alloc.ID]; r != nil {
		r.update(&alloc)
		return alloc.ID
	}
	slog.Debug("running a new allocation", "alloc", api.ShortID(alloc.ID), "name", alloc.Name, "job", alloc.JobID, "version", alloc.JobVersion)
	r := newAllocRunner(a, &alloc)
	a.runners[alloc.ID] = r
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		r.run()
	}()
	return alloc.ID
}

// remove stops an allocation whose key was deleted.
func (a *Agent) remove(id string) {
	a.mu.Lock()
	r := a.runners[id]
	delete(a.runners, id)
	a.mu.Unlock()
	if r != nil {
		r.destroy()
	}
}

// shutdown waits for the runners: in dev mode after stopping every task,
// otherwise after detaching from them.
func (a *Agent) shutdown() {
	a.mu.Lock()
	runners := make([]*allocRunner, 0, len(a.runners))
	for _, r := range a.runners {
		runners = append(runners, r)
	}
	a.mu.Unlock()
	for _, r := range runners {
		if a.cfg.StopTasksOnShutdown {
			r.destroy()
		} else {
			r.detach()
		}
	}
	a.wg.Wait()
}

// jobCache keeps the job versions that allocations refer to, so that one
// version is read from etcd once however many allocations use it.
type jobCache struct {
	store Store
	node  string
	mu    sync.Mutex
	jobs  map[string]*api.Job
}

func (c *jobCache) get(ctx context.Context, ns, id string, version uint64) (*api.Job, error) {
	key := fmt.Sprintf("%s/%s/%d", ns, id, version)
	c.mu.Lock()
	j := c.jobs[key]
	c.mu.Unlock()
	if j != nil {
		return j, nil
	}
	j, err := c.store.GetJobVersion(ctx, c.node, ns, id, version)
	if err != nil {
		return nil, fmt.Errorf("reading job %q version %d: %w", id, version, err)
	}
	c.mu.Lock()
	if len(c.jobs) > 1000 {
		c.jobs = map[string]*api.Job{}
	}
	c.jobs[key] = j
	c.mu.Unlock()
	return j, nil
}

// AllocDir is the directory of an allocation on this node.
func (a *Agent) AllocDir(allocID string) string {
	return filepath.Join(a.cfg.DataDir, "alloc", allocID)
}
