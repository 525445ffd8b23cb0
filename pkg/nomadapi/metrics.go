package nomadapi

import (
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// metricsSummary is Nomad's JSON view of an agent's metrics
// (GET /v1/metrics, nomad operator metrics).
type metricsSummary struct {
	Timestamp string
	Gauges    []gaugeValue
	Points    []pointValue
	Counters  []sampledValue
	Samples   []sampledValue
}

type gaugeValue struct {
	Name   string
	Value  float32
	Labels map[string]string
}

type pointValue struct {
	Name   string
	Points []float32
}

type sampledValue struct {
	Name   string
	Count  int
	Rate   float64
	Sum    float64
	Min    float64
	Max    float64
	Mean   float64
	Stddev float64
	Labels map[string]string
}

// metrics serves this server process's metrics: with ?format=prometheus
// the Prometheus exposition that GET /metrics serves on the native API
// (so a scrape configured for Nomad, metrics_path /v1/metrics with
// format=prometheus, works unchanged); otherwise Nomad's JSON summary of
// the same metrics. nomadic keeps Prometheus metrics, not go-metrics'
// 10-second intervals, so a counter is shown as one reading of its value
// since the process started (Count 1, Sum the value) and a histogram or
// summary by its count, sum and mean.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	g := s.Metrics
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	switch f := r.URL.Query().Get("format"); f {
	case "prometheus":
		promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
		return nil
	case "", "json":
	default:
		return badRequest("format %q: want prometheus or json", f)
	}
	families, err := g.Gather()
	if err != nil && len(families) == 0 {
		return &httpError{code: http.StatusInternalServerError, msg: "gathering metrics: " + err.Error()}
	}
	return s.reply(w, r, summarizeMetrics(families, s.Now()))
}

// summarizeMetrics turns gathered families into Nomad's summary, each list in
// name order.
func summarizeMetrics(families []*dto.MetricFamily, now time.Time) *metricsSummary {
	out := &metricsSummary{Timestamp: now.UTC().Truncate(10 * time.Second).Format("2006-01-02 15:04:05 -0700 MST"),
		Gauges: []gaugeValue{}, Points: []pointValue{}, Counters: []sampledValue{}, Samples: []sampledValue{}}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				out.Gauges = append(out.Gauges, gaugeValue{Name: name, Value: gauge32(m.GetGauge().GetValue()), Labels: labels})
			case dto.MetricType_UNTYPED:
				out.Gauges = append(out.Gauges, gaugeValue{Name: name, Value: gauge32(m.GetUntyped().GetValue()), Labels: labels})
			case dto.MetricType_COUNTER:
				v := finite(m.GetCounter().GetValue())
				out.Counters = append(out.Counters, sampledValue{Name: name, Count: 1, Sum: v, Min: v, Max: v, Mean: v, Labels: labels})
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out.Samples = append(out.Samples, sample(name, h.GetSampleCount(), h.GetSampleSum(), labels))
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				out.Samples = append(out.Samples, sample(name, sm.GetSampleCount(), sm.GetSampleSum(), labels))
			}
		}
	}
	sort.SliceStable(out.Gauges, func(i, j int) bool { return out.Gauges[i].Name < out.Gauges[j].Name })
	sort.SliceStable(out.Counters, func(i, j int) bool { return out.Counters[i].Name < out.Counters[j].Name })
	sort.SliceStable(out.Samples, func(i, j int) bool { return out.Samples[i].Name < out.Samples[j].Name })
	return out
}

func sample(name string, count uint64, sum float64, labels map[string]string) sampledValue {
	v := sampledValue{Name: name, Count: int(min(count, uint64(math.MaxInt))), Sum: finite(sum), Labels: labels}
	if count > 0 {
		v.Mean = v.Sum / float64(count)
	}
	return v
}

// gauge32 is a gauge as Nomad's summary holds it, a float32: finite,
// and clamped to float32's range.
func gauge32(v float64) float32 {
	return float32(max(-math.MaxFloat32, min(math.MaxFloat32, finite(v))))
}

// finite keeps JSON encodable: NaN and infinities (a gauge may hold them)
// are shown as 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// pretty says whether ?pretty asks for indented JSON: present without a
// value, or a true boolean.
func pretty(r *http.Request) bool {
	vs, ok := r.URL.Query()["pretty"]
	if !ok {
		return false
	}
	switch vs[0] {
	case "", "1", "t", "T", "true", "TRUE", "True":
		return true
	}
	return false
}
