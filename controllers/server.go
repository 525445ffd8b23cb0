package controllers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
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
	if !s.Cfg.NoCache {
		cache := store.NewCache(s.Store)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache.Run(ctx)
		}()
		s.Store.UseCache(cache)
		defer func() {
			s.Store.DropCache(cache)
			wg.Wait()
		}()
	}
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(s.Store.Client(), concurrency.WithTTL(int(max(s.Cfg.SessionTTL, 2*time.Second)/time.Second)), concurrency.WithContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("cannot open server session; retrying", "err", err, "in", backoff)
				sleepCtx(ctx, backoff)
				backoff = min(backoff*2, 10*time.Second)
			}
			continue
		}
		backoff = 500 * time.Millisecond
		s.runSession(ctx, sess)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_, _ = s.Store.Client().Revoke(cctx, sess.Lease())
		cancel()
		sess.Orphan()
		if ctx.Err() == nil {
			slog.Warn("server session lost; starting a new one")
		}
	}
}

func (s *Server) runSession(ctx context.Context, sess *concurrency.Session) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	member := &api.Server{Name: s.Cfg.Name, HTTPAddr: s.Cfg.HTTPAddr, Version: s.Cfg.Version, StartTime: s.Now()}
	if err := s.Store.RegisterServer(sctx, member, sess.Lease()); err != nil {
		slog.Warn("registering server", "err", err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		(&Compactor{Store: s.Store, Interval: s.Cfg.CompactInterval}).Run(sctx)
	}()
	go func() {
		defer wg.Done()
		(&EvalController{Store: s.Store, Server: s.Cfg.Name, Lease: sess.Lease(), Workers: s.Cfg.Workers, Now: s.Now, PassTimeout: s.Cfg.PassTimeout}).Run(sctx)
	}()
	go func() {
		defer wg.Done()
		(&Leader{Session: sess, Prefix: s.Store.Keys().Election(), Name: s.Cfg.Name, Singletons: s.singletons}).Run(sctx)
	}()
	wg.Wait()
}

func (s *Server) singletons(ctx context.Context, guard clientv3.Cmp) {
	var wg sync.WaitGroup
	wg.Add(7)
	go func() {
		defer wg.Done()
		(&DeploymentWatcher{Store: s.Store, Guard: guard, Now: s.Now}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&PeriodicLauncher{Store: s.Store, Guard: guard, Now: s.Now, Tick: time.Second}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&Census{Store: s.Store, Interval: 15 * time.Second, QuotaBytes: s.Cfg.EtcdQuotaBytes}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&DrainWatcher{Store: s.Store, Guard: guard, Now: s.Now, Interval: 2 * time.Second}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&NodeLiveness{Store: s.Store, Guard: guard, Now: s.Now, Resync: s.Cfg.LivenessResync}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&AllocWatcher{Store: s.Store, Guard: guard, Now: s.Now}).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		(&GC{Store: s.Store, Guard: guard, Now: s.Now, Interval: s.Cfg.GCInterval, AllocAge: s.Cfg.GCAllocAge, KeepVersions: 10}).Run(ctx)
	}()
	wg.Wait()
}
