package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/mock"
	nodepkg "github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// runSim runs many simulated node agents in one process, like Kubernetes'
// kubemark: each has its own lease and its own watch of its allocations.
// By default they are hollow (hollow.go): they report allocations
// running without running anything; with -full-agents each is a real
// node agent running tasks with the mock driver.
func runSim(args []string) error {
	fs := flag.NewFlagSet("nomadic sim", flag.ContinueOnError)
	nodes := fs.Int("nodes", 100, "how many nodes to simulate")
	endpoints := fs.String("etcd-endpoints", "", "etcd client URLs of the cluster (required)")
	prefix := fs.String("etcd-prefix", "/nomadic", "key prefix of the cluster")
	dataDir := fs.String("data-dir", "", "directory for the nodes' state (default: a temporary one)")
	ttl := fs.Duration("node-ttl", 10*time.Second, "node lease TTL")
	cpu := fs.Int("cpu", 16000, "MHz of cpu per node")
	mem := fs.Int("memory", 65536, "MiB of memory per node")
	racks := fs.Int("racks", 25, "simulated racks (meta.rack) the nodes are spread over")
	rate := fs.Int("start-rate", 500, "nodes started per second")
	logLevel := fs.String("log-level", "warn", "log level")
	full := fs.Bool("full-agents", false, "run real node agents with the mock driver instead of hollow nodes (costs a goroutine set per allocation)")
	debugAddr := fs.String("debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address")
	statsAddr := fs.String("stats-addr", "", "serve the simulation's counters (JSON) on this address: allocations running, status writes, memory")
	relay := fs.Bool("status-relay", true, "hand the nodes' allocation statuses to the servers' status relay, as node agents do by default (false: write them to etcd, one transaction per node)")
	gcPercent := fs.Int("gc-percent", 50, "Go's GC target percent for the sim (GOGC, which overrides it): lower keeps it smaller at some CPU")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	setupLogging(*logLevel)
	if os.Getenv("GOGC") == "" {
		// Most of a sim's memory is garbage between collections: the
		// watch events and statuses of a million allocations.
		debug.SetGCPercent(*gcPercent)
	}
	if *endpoints == "" {
		return errors.New("-etcd-endpoints is required")
	}
	if *dataDir == "" {
		d, err := os.MkdirTemp("", "nomadic-sim-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dataDir = d
	}
	f := &agentFlags{etcdDial: 5 * time.Second}
	cli, err := newEtcdClient(f, splitList(*endpoints))
	if err != nil {
		return err
	}
	defer cli.Close()
	st := store.New(cli, *prefix)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	drv := &mock.Driver{}
	var wg sync.WaitGroup
	started := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(max(*rate, 1)))
	defer tick.Stop()
	shared := &hollowShared{st: st, cli: cli, leases: newLeaseKeeper(cli, *ttl), watches: newWatchMux(cli, st), jobs: map[string]*jobTasks{}}
	var statusRelay nodeagent.StatusRelay
	if *relay {
		// One pool of connections for all the nodes (a real agent has
		// its own): the servers see a few hundred connections, not 5,000.
		// A burst waits for one of them: beyond the idle limit each
		// request dialled a connection and closed it after (a quarter of
		// the sim's CPU in a profile). The idle limit is per server: the
		// default transport's 100 in all closed and dialled again most of
		// the connections to two servers (still 6 % of the sim's CPU).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, tr.MaxIdleConns = 256, 256, 0
		statusRelay = &nodepkg.RelayClient{HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}, Addrs: nodeagent.StoreServers(st)}
		shared.relay = statusRelay
	}
	if !*full {
		shared.startWriters(ctx, *nodes)
		wg.Add(2)
		go func() {
			defer wg.Done()
			shared.leases.run(ctx)
		}()
		go func() {
			defer wg.Done()
			shared.watches.run(ctx)
		}()
	}
	var hollow []*hollowNode
	if *debugAddr != "" {
		dbg, err := serveDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer dbg.Close()
	}
	if *statsAddr != "" {
		srv, err := serveSimStats(*statsAddr, shared, *nodes, func() []*hollowNode { return hollow })
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	for i := 0; i < *nodes && ctx.Err() == nil; i++ {
		<-tick.C
		if !*full {
			n := newHollowNode(shared, hollowNodeRecord(i, *cpu, *mem, *racks))
			shared.mu.Lock()
			hollow = append(hollow, n)
			shared.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.run(ctx, i)
			}()
			continue
		}
		name := fmt.Sprintf("sim-%05d", i)
		a, err := nodeagent.New(st, nodeagent.Config{
			Name: name, Datacenter: fmt.Sprintf("dc%d", i%4), DataDir: filepath.Join(*dataDir, name), TTL: *ttl,
			Drivers: []driver.Driver{drv}, StopTasksOnShutdown: true,
			Resources:   &api.Resources{CPU: *cpu, MemoryMB: *mem, DiskMB: 1 << 20},
			Meta:        map[string]string{"rack": fmt.Sprintf("r%02d", i%max(*racks, 1))},
			Attributes:  map[string]string{"simulated": "true"},
			StatusRelay: statusRelay,
		})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Run(ctx)
		}()
	}
	slog.Warn("simulated nodes started", "nodes", *nodes, "in", time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "%d simulated nodes running; Ctrl-C stops them\n", *nodes)
	<-ctx.Done()
	wg.Wait()
	leave(hollow)
	return nil
}

// leave revokes the hollow nodes' leases, 32 at a time and for 5 s at
// most (etcd may be gone too): they go down at once, as agents that stop
// do.
func leave(nodes []*hollowNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	work := make(chan *hollowNode)
	var wg sync.WaitGroup
	for range min(32, len(nodes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				n.leave(ctx)
			}
		}()
	}
	for _, n := range nodes {
		if ctx.Err() != nil {
			break
		}
		work <- n
	}
	close(work)
	wg.Wait()
}

// serveSimStats serves the simulation's counters as JSON.
func serveSimStats(addr string, h *hollowShared, nodes int, list func() []*hollowNode) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-stats-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"nodes": nodes, "running": h.running.Load(), "status_writes": h.written.Load(), "status_txns": h.txns.Load(),
			"heap_bytes": m.HeapInuse, "sys_bytes": m.Sys, "goroutines": runtime.NumGoroutine(),
		})
	})
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		nodes := append([]*hollowNode(nil), list()...)
		h.mu.Unlock()
		c := check(nodes)
		jobs := r.URL.Query().Get("count")
		out := map[string]any{"running": c.Running, "jobs": c.JobCount, "duplicate_slots": c.Duplicates, "nodes_over_capacity": c.Overfull}
		if want, err := strconv.Atoi(jobs); err == nil {
			short := 0
			for _, n := range c.Jobs {
				if n != want {
					short++
				}
			}
			out["jobs_not_at_count"] = short
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
