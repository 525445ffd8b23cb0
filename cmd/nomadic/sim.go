package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/mock"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// runSim runs many simulated node agents in one process, like Kubernetes'
// kubemark: each has its own lease and its own watch of its allocations,
// and runs tasks with the mock driver.
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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	setupLogging(*logLevel)
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
	for i := 0; i < *nodes && ctx.Err() == nil; i++ {
		<-tick.C
		name := fmt.Sprintf("sim-%05d", i)
		a, err := nodeagent.New(st, nodeagent.Config{
			Name: name, Datacenter: fmt.Sprintf("dc%d", i%4), DataDir: filepath.Join(*dataDir, name), TTL: *ttl,
			Drivers: []driver.Driver{drv}, StopTasksOnShutdown: true,
			Resources:  &api.Resources{CPU: *cpu, MemoryMB: *mem, DiskMB: 1 << 20},
			Meta:       map[string]string{"rack": fmt.Sprintf("r%02d", i%max(*racks, 1))},
			Attributes: map[string]string{"simulated": "true"},
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
	return nil
}
