package controllers

import (
	"context"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// The servers' metrics, served at /metrics with the API.
var (
	metricEvals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "evaluations_total",
		Help: "Evaluations processed by this server, by outcome (complete, blocked, error).",
	}, []string{"outcome"})
	metricSchedule = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "scheduling_seconds",
		Help:    "Time of one scheduling pass of a job: snapshot, plan and commit.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})
	metricConflicts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "plan_conflicts_total",
		Help: "Plans that lost a race with another server's plan and were made again.",
	})
	metricPlaced = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "allocations_placed_total",
		Help: "Allocations placed by this server's plans.",
	})
	metricDeployments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "deployments_ended_total",
		Help: "Deployments this server's deployment watcher ended, by status (successful, failed, cancelled).",
	}, []string{"status"})
	metricCompactions = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "etcd_compactions_total",
		Help: "Compactions of etcd's history this server ran.",
	})
	metricNodes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "cluster", Name: "nodes",
		Help: "Nodes by status (ready, down) and eligibility, as the leader last counted.",
	}, []string{"status", "eligible"})
	metricAllocs = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "cluster", Name: "allocations",
		Help: "Allocations by client status, as the leader last counted.",
	}, []string{"status"})
	metricPendingEvals = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "cluster", Name: "evaluations_pending",
		Help: "Evaluations waiting to be worked, as the leader last counted.",
	})
	metricDBSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "etcd", Name: "db_size_bytes",
		Help: "Size of etcd's database (the quota applies to it).",
	})
	metricEtcdLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "nomadic", Subsystem: "etcd", Name: "request_seconds",
		Help:    "Latency of a small etcd read, measured by the leader's census.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
)

func init() {
	prometheus.MustRegister(metricEvals, metricSchedule, metricConflicts, metricPlaced, metricDeployments, metricCompactions,
		metricNodes, metricAllocs, metricPendingEvals, metricDBSize, metricEtcdLatency)
}

// Census is a singleton controller that counts the cluster for the
// metrics every Interval: nodes by status, allocations by state, pending
// evaluations, etcd's database size and read latency.
type Census struct {
	Store    *store.Store
	Interval time.Duration
}

// Run counts until ctx ends.
func (c *Census) Run(ctx context.Context) {
	t := time.NewTicker(max(c.Interval, time.Second))
	defer t.Stop()
	for {
		c.count(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Census) count(ctx context.Context) {
	start := time.Now()
	if _, err := c.Store.Revision(ctx); err != nil {
		return
	}
	metricEtcdLatency.Observe(time.Since(start).Seconds())
	for _, ep := range c.Store.Client().Endpoints() {
		if st, err := c.Store.Client().Status(ctx, ep); err == nil {
			metricDBSize.Set(float64(st.DbSize))
			break
		}
	}
	if nodes, err := c.Store.ListNodes(ctx); err == nil {
		metricNodes.Reset()
		for _, n := range nodes {
			e := "true"
			if !n.Eligible {
				e = "false"
			}
			metricNodes.WithLabelValues(n.Status, e).Inc()
		}
	}
	if allocs, err := c.Store.ListAllocs(ctx, store.AllocFilter{}); err == nil {
		metricAllocs.Reset()
		for _, a := range allocs {
			metricAllocs.WithLabelValues(a.ClientStatusOf()).Inc()
		}
	}
	if evals, err := c.Store.ListEvals(ctx, "", ""); err == nil {
		n := 0
		for _, e := range evals {
			if e.Status == api.EvalStatusPending {
				n++
			}
		}
		metricPendingEvals.Set(float64(n))
	}
}
