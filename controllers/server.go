package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ServerConfig configures the controllers of one server.
type ServerConfig struct {
	Name     string
	HTTPAddr string
	Version  string
	// SessionTTL is the TTL of the server's lease, which holds its
	// membership, its evaluation claims and its election key.
	SessionTTL time.Duration
	Workers    int
	GCInterval time.Duration
	GCAllocAge time.Duration
	// GCNodeAge is how long a node stays down, with no live allocation,
	// before it is purged (0: never).
	GCNodeAge time.Duration
	// LivenessResync is how often the leader re-checks every down node.
	LivenessResync time.Duration
	// CompactInterval is how often etcd's history is compacted, keeping
	// about one interval of history (default 5m).
	CompactInterval time.Duration
	// NoCache makes scheduling passes read the cluster from etcd instead
	// of the server's informer cache (for comparisons).
	NoCache bool
	// EtcdQuotaBytes is etcd's backend quota, for the quota metrics (0:
	// etcd's default).
	EtcdQuotaBytes int64
	// PassTimeout bounds one scheduling pass (0: none).
	PassTimeout time.Duration
}

// Server runs all the controllers of one stateless server: evaluation
// workers on every server, and the singleton controllers on the elected
// leader. Everything it knows is in etcd; it can be killed at any moment.
type Server struct {
	Store *store.Store
	Cfg   ServerConfig
	Now   func() time.Time
	// Singletons are leader-only loops that live outside this package
	// (the keyring's re-encryption, the workload identity issuer); the
	// leader runs them beside its own, with its cache and term's guard.
	Singletons []func(ctx context.Context, cache *store.Cache, guard store.Guard)

	cache  *store.Cache
	stalls *StallWatch
}

// Run runs the server until ctx ends. If the server's lease is lost (etcd
// unreachable for longer than its TTL) it starts over with a new one.
func (s *Server) Run(ctx context.Context) {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Cfg.CompactInterval <= 0 {
		s.Cfg.CompactInterval = 5 * time.Minute
	}
	// The cache's one watch feeds every controller of this server; with
	// NoCache, scheduling passes and API reads still go to etcd.
	s.cache = store.NewCache(s.Store)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.cache.Run(ctx)
	}()
	defer wg.Wait()
	// Every server watches etcd for stalls all along, so that a leader
	// elected because of one knows of it.
	s.stalls = &StallWatch{Store: s.Store}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.stalls.Run(ctx)
	}()
	if !s.Cfg.NoCache {
		s.Store.UseCache(s.cache)
		defer s.Store.DropCache(s.cache)
	}
	s.Store.KeepSession(ctx, s.Cfg.SessionTTL, "server", func(ctx context.Context, sess *store.Session) bool {
		s.runSession(ctx, sess)
		return true
	})
}

func (s *Server) runSession(ctx context.Context, sess *store.Session) {
	// Plans are committed under the servers' plan lock, which needs the
	// cache (a server without one bumps a plan key per node, as servers
	// from before the lock do).
	var lock *store.PlanLock
	if !s.Cfg.NoCache {
		lock = sess.PlanLock()
	}
	member := &api.Server{Name: s.Cfg.Name, HTTPAddr: s.Cfg.HTTPAddr, Version: s.Cfg.Version, StartTime: s.Now(), PlanLock: lock != nil}
	if err := s.Store.RegisterServer(ctx, member, sess.Lease()); err != nil {
		slog.Warn("registering server", "err", err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		c := s.Store.Compactor()
		loop.Every(ctx, max(s.Cfg.CompactInterval, time.Second), "compaction failed", func(ctx context.Context) error { return s.compact(ctx, c) })
	}()
	go func() {
		defer wg.Done()
		(&EvalController{Store: s.Store, Cache: s.cache, Server: s.Cfg.Name, Lease: sess.Lease(), PlanLock: lock, Workers: s.Cfg.Workers, Now: s.Now, PassTimeout: s.Cfg.PassTimeout}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&Leader{Session: sess, Name: s.Cfg.Name, Singletons: s.singletons}).Run(ctx)
	}()
	wg.Wait()
}

// compact takes this server's turn at compacting etcd's history
// (store.Compactor).
func (s *Server) compact(ctx context.Context, c *store.Compactor) error {
	rev, err := c.Round(ctx)
	if err == nil && rev > 0 {
		slog.Debug("compacted etcd history", "revision", rev)
		metricCompactions.Inc()
	}
	return err
}

func (s *Server) singletons(ctx context.Context, guard store.Guard) {
	var wg sync.WaitGroup
	run := func(fn func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(ctx)
		}()
	}
	c := s.cache
	run((&DeploymentWatcher{Store: s.Store, Cache: c, Guard: guard, Now: s.Now}).Run)
	run((&PeriodicLauncher{Store: s.Store, Cache: c, Guard: guard, Now: s.Now, Tick: time.Second}).Run)
	run((&Census{Store: s.Store, Cache: c, Interval: 15 * time.Second, QuotaBytes: s.Cfg.EtcdQuotaBytes}).Run)
	run((&DrainWatcher{Store: s.Store, Guard: guard, Now: s.Now, Interval: 2 * time.Second}).Run)
	run((&NodeLiveness{Store: s.Store, Cache: c, Guard: guard, Now: s.Now, Resync: s.Cfg.LivenessResync, Stalls: s.stalls}).Run)
	run((&AllocWatcher{Store: s.Store, Cache: c, Guard: guard, Now: s.Now}).Run)
	run((&NodeCopies{Store: s.Store, Cache: c, Guard: guard}).Run)
	run((&GC{Store: s.Store, Cache: c, Guard: guard, Now: s.Now, Interval: s.Cfg.GCInterval, AllocAge: s.Cfg.GCAllocAge, NodeAge: s.Cfg.GCNodeAge, KeepVersions: 10}).Run)
	for _, fn := range s.Singletons {
		run(func(ctx context.Context) { fn(ctx, c, guard) })
	}
	wg.Wait()
}
