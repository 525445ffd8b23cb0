package controllers

import (
	"context"
	"testing"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a gauge.
func value(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestCensusReportsQuotaUseAndCounts(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/census")
	ctx := context.Background()
	if err := st.PutNode(ctx, &api.Node{ID: "n1", Name: "n1", Eligible: true}); err != nil {
		t.Fatal(err)
	}
	const quota = 1 << 20
	(&Census{Store: st, QuotaBytes: quota}).count(ctx)
	if got := value(t, metricDBQuota); got != quota {
		t.Fatalf("quota metric %v, want %v", got, quota)
	}
	size := value(t, metricDBSize)
	if used := value(t, metricDBQuotaUsed); size <= 0 || used != size/quota {
		t.Fatalf("db size %v, used ratio %v", size, used)
	}
	if down := value(t, metricNodes.WithLabelValues(api.NodeStatusDown, "true")); down != 1 {
		t.Fatalf("nodes down and eligible: %v, want 1", down)
	}
	(&Census{Store: st}).count(ctx)
	if got := value(t, metricDBQuota); got != defaultQuota {
		t.Fatalf("default quota metric %v", got)
	}
}
