package nomadapi

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestNomadMonitorFollowsTheAgentsLogBelowItsLevel(t *testing.T) {
	hub := logmon.NewHub()
	var own bytes.Buffer
	log := slog.New(hub.Handler(slog.NewTextHandler(&own, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ts := httptest.NewServer((&Server{Store: store.New(testutil.Etcd(t), "/monitor"), Name: "s1", Version: "test", Logs: hub}).Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections() // the follow ends with its connection
		ts.Close()
	})
	c, err := napi.NewClient(&napi.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	frames, errs := c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"log_level": "debug"}})
	// Monitor returns once the headers came, so the follower is there.
	deadline := time.After(10 * time.Second)
	log.Debug("placing allocations", "job", "web")
	var got string
	for !strings.Contains(got, "placing allocations") {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the stream ended: %v", <-errs)
			}
			got += string(f.Data)
		case err := <-errs:
			t.Fatal(err)
		case <-deadline:
			t.Fatalf("no line in 10 s; got %q", got)
		}
	}
	if !strings.Contains(got, "] placing allocations: job=web") || !strings.Contains(got, " [DEBUG] ") || own.Len() != 0 {
		t.Fatalf("the line followed: %q; the agent's own log: %q", got, own.String())
	}

	_, errs = c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"log_level": "loud"}})
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "Unknown log level") {
		t.Fatalf("an unknown level: %v", err)
	}
	_, errs = c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"node_id": "some-other-node"}})
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown node's log: %v", err)
	}
	_, errs = c.Agent().Monitor(stop, &napi.QueryOptions{Params: map[string]string{"server_id": "s2"}})
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "501") {
		t.Fatalf("another server's log: %v", err)
	}
}
