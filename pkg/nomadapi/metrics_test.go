package nomadapi

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestNomadMetricsInBothFormats(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_nodes_up", Help: "Nodes up."})
	placed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_placed_total", Help: "Placements."}, []string{"job"})
	pass := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_pass_seconds", Help: "Passes.", Buckets: []float64{0.1, 1}})
	huge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_huge", Help: "Out of float32's range."}, []string{"kind"})
	lat := prometheus.NewSummary(prometheus.SummaryOpts{Name: "test_latency_seconds", Help: "Latency."})
	reg.MustRegister(up, placed, pass, huge, lat)
	huge.WithLabelValues("big").Set(1e300)
	huge.WithLabelValues("nan").Set(math.NaN())
	huge.WithLabelValues("inf").Set(math.Inf(-1))
	lat.Observe(3)
	up.Set(3)
	placed.WithLabelValues("web").Add(5)
	pass.Observe(0.5)
	pass.Observe(1.5)

	now := time.Date(2026, 12, 8, 2, 0, 7, 0, time.UTC)
	ts, c := serveNomad(t, &Server{Name: "s1", Version: "test", Metrics: reg, Now: func() time.Time { return now }})
	sum, _, err := c.Operator().MetricsSummary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Timestamp != "2026-12-08 02:00:00 +0000 UTC" {
		t.Errorf("timestamp %q", sum.Timestamp)
	}
	gauges := map[string]float32{}
	for _, g := range sum.Gauges {
		gauges[g.Name+"/"+g.DisplayLabels["kind"]] = g.Value
	}
	if len(gauges) != 4 || gauges["test_nodes_up/"] != 3 || gauges["test_huge/big"] != math.MaxFloat32 ||
		gauges["test_huge/nan"] != 0 || gauges["test_huge/inf"] != 0 {
		t.Errorf("gauges %v", gauges)
	}
	if len(sum.Counters) != 1 || sum.Counters[0].Name != "test_placed_total" || sum.Counters[0].AggregateSample == nil ||
		sum.Counters[0].Sum != 5 || sum.Counters[0].DisplayLabels["job"] != "web" {
		t.Errorf("counters %+v", sum.Counters)
	}
	if len(sum.Samples) != 2 || sum.Samples[0].AggregateSample == nil || sum.Samples[0].Name != "test_latency_seconds" ||
		sum.Samples[0].Count != 1 || sum.Samples[0].Sum != 3 ||
		sum.Samples[1].AggregateSample == nil || sum.Samples[1].Count != 2 || sum.Samples[1].Sum != 2 || sum.Samples[1].Mean != 1 {
		t.Errorf("samples %+v", sum.Samples)
	}
	if sum.Points == nil {
		t.Error("points: null, want []")
	}

	// What nomad operator metrics -format prometheus asks, and what a
	// Prometheus scrape of metrics_path /v1/metrics?format=prometheus reads.
	raw, err := c.Operator().Metrics(&napi.QueryOptions{Params: map[string]string{"format": "prometheus"}})
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, raw)
	}
	if f := fams["test_placed_total"]; f == nil || f.GetType() != dto.MetricType_COUNTER || f.GetMetric()[0].GetCounter().GetValue() != 5 {
		t.Errorf("the counter in the exposition: %v", f)
	}
	if f := fams["test_pass_seconds"]; f == nil || f.GetMetric()[0].GetHistogram().GetSampleCount() != 2 {
		t.Errorf("the histogram in the exposition: %v", f)
	}

	resp, err := http.Get(ts.URL + "/v1/metrics?pretty")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "\n    \"Gauges\": [") {
		t.Errorf("pretty: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(ts.URL + "/v1/metrics?format=statsd")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "want prometheus or json") {
		t.Errorf("an unknown format: %d %s", resp.StatusCode, body)
	}
}

func TestNomadMetricsOfTheProcessByDefault(t *testing.T) {
	_, c := serveNomad(t, &Server{Name: "s1", Version: "test"})
	sum, _, err := c.Operator().MetricsSummary(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The default registry holds Go's runtime metrics.
	found := false
	for _, g := range sum.Gauges {
		found = found || g.Name == "go_goroutines"
	}
	if !found {
		t.Errorf("no go_goroutines among %d gauges", len(sum.Gauges))
	}
}
