package controllers

import (
	"context"
	"fmt"
	"log/slog"
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
	metricRefits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "plan_refits_total",
		Help: "Nodes that another plan had placed on since a plan's snapshot, where the plan's placements still fit and were committed without a new pass.",
	})
	metricPlaced = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "allocations_placed_total",
		Help: "Allocations placed by this server's plans.",
	})
	metricDeployments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "deployments_ended_total",
		Help: "Deployments this server's deployment watcher ended, by status (successful, failed, cancelled).",
	}, []string{"status"})
	metricEvalLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "nomadic", Subsystem: "server", Name: "evaluation_latency_seconds",
		Help:    "Time from an evaluation's creation to its end (complete or blocked), queueing included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 22),
	})
	metricNodesHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "nomadic", Name: "nodes_down_held",
		Help: "Down nodes whose allocations are held instead of replaced because most nodes went down at once (0 when none are held).",
	})
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
	metricDBQuota = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "etcd", Name: "db_quota_bytes",
		Help: "etcd's backend quota as this server knows it (-etcd-quota-bytes; etcd's default 2 GiB otherwise).",
	})
	metricDBQuotaUsed = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "etcd", Name: "db_quota_used_ratio",
		Help: "etcd's database size over its quota: alert at 0.8; at 1 etcd refuses writes until compacted and defragmented.",
	})
	metricEtcdLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "nomadic", Subsystem: "etcd", Name: "request_seconds",
		Help:    "Latency of a small etcd read, measured by the leader's census.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
)

func init() {
	prometheus.MustRegister(metricEvalLatency, metricNodesHeld, metricEvals, metricSchedule, metricConflicts, metricRefits, metricPlaced, metricDeployments, metricCompactions,
		metricNodes, metricAllocs, metricPendingEvals, metricDBSize, metricDBQuota, metricDBQuotaUsed, metricEtcdLatency)
}

// Census is a singleton controller that counts the cluster for the
// metrics every Interval: nodes by status, allocations by state, pending
// evaluations, etcd's database size and read latency.
type Census struct {
	Store *store.Store
	// Cache, when set, is the store's cache, which counts allocations
	// by status as they change.
	Cache    *store.Cache
	Interval time.Duration
	// QuotaBytes is etcd's backend quota (0: etcd's default, 2 GiB).
	QuotaBytes int64
}

// defaultQuota is etcd's default backend quota.
const defaultQuota = 2 << 30

// quotaAlert is the share of the quota past which the census warns.
const quotaAlert = 0.8

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

func (c *Census) countNodes(nodes []*api.Node) {
	metricNodes.Reset()
	for _, n := range nodes {
		e := "true"
		if !n.Eligible {
			e = "false"
		}
		metricNodes.WithLabelValues(n.Status, e).Inc()
	}
}

func (c *Census) count(ctx context.Context) {
	start := time.Now()
	if _, err := c.Store.Revision(ctx); err != nil {
		return
	}
	metricEtcdLatency.Observe(time.Since(start).Seconds())
	quota := c.QuotaBytes
	if quota <= 0 {
		quota = defaultQuota
	}
	metricDBQuota.Set(float64(quota))
	if size, err := c.Store.DBSize(ctx); err == nil {
		metricDBSize.Set(float64(size))
		used := float64(size) / float64(quota)
		metricDBQuotaUsed.Set(used)
		if used >= quotaAlert {
			slog.Warn("etcd's database is near its quota: compaction and defragmentation are due (docs/operations.md)",
				"db_size", size, "quota", quota, "used", fmt.Sprintf("%.0f%%", used*100))
		}
	}
	if c.Cache != nil {
		// The cache counts allocations as they change: a census of a
		// million of them read each one's status, a few per cent of the
		// server's CPU at that size.
		if nodes, err := c.Store.ListNodes(ctx); err == nil {
			c.countNodes(nodes)
			metricAllocs.Reset()
			for st, n := range c.Cache.AllocCounts() {
				metricAllocs.WithLabelValues(st).Set(float64(n))
			}
		}
	} else if snap, err := c.Store.ReadSnapshot(ctx); err == nil {
		c.countNodes(snap.Nodes)
		counts := map[string]int{}
		for _, a := range snap.Allocs {
			counts[a.ClientStatusOf()]++
		}
		metricAllocs.Reset()
		for st, n := range counts {
			metricAllocs.WithLabelValues(st).Set(float64(n))
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
