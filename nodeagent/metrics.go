package nodeagent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The node agent's metrics, served at /metrics on its HTTP address.
var (
	metricTaskStarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "task_starts_total",
		Help: "Tasks started, by driver.",
	}, []string{"driver"})
	metricTaskRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "task_restarts_total",
		Help: "Tasks restarted in place by their restart policy, by driver.",
	}, []string{"driver"})
	metricOOMKills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "task_oom_kills_total",
		Help: "Tasks killed for exceeding their memory limit, by driver.",
	}, []string{"driver"})
	metricDriverErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "driver_errors_total",
		Help: "Tasks a driver failed to start, by driver.",
	}, []string{"driver"})
	metricStartLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "task_start_seconds",
		Help:    "Time from an allocation reaching the node to its task running, by driver.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"driver"})
	metricStatusWrites = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "status_writes_total",
		Help: "Allocation statuses written; coalesced writes of one allocation count once.",
	})
	metricStatusRelayed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "status_relayed_total",
		Help: "Allocation statuses of status_writes_total that the servers' status relay wrote (the others the agent wrote to etcd itself).",
	})
	metricTasks = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "nomadic", Subsystem: "client", Name: "tasks",
		Help: "Tasks of this node's allocations, by state.",
	}, []string{"state"})
)

func init() {
	prometheus.MustRegister(metricTaskStarts, metricTaskRestarts, metricOOMKills, metricDriverErrors, metricStartLatency, metricStatusWrites, metricStatusRelayed, metricTasks)
}

// countTasks refreshes the tasks-by-state gauge from the runners.
func (a *Agent) countTasks() {
	counts := map[string]int{"pending": 0, "running": 0, "dead": 0}
	a.mu.Lock()
	for _, r := range a.runners {
		r.mu.Lock()
		for _, ts := range r.status.Tasks {
			counts[ts.State]++
		}
		r.mu.Unlock()
	}
	a.mu.Unlock()
	for state, n := range counts {
		metricTasks.WithLabelValues(state).Set(float64(n))
	}
}
