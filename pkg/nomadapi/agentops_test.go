package nomadapi

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

// TestAgentOperatorCommands: nomad server force-leave, nomad node config
// -servers and nomad node meta read through Nomad's api package; what has
// no meaning here (join, gossip keys, setting a node's servers or
// metadata) is a 501 saying why.
func TestAgentOperatorCommands(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/agentops")
	ctx := context.Background()
	for _, name := range []string{"s1", "s2"} {
		if err := st.RegisterServer(ctx, &api.Server{Name: name, HTTPAddr: "127.0.0.9:4646"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	node := &api.Node{ID: "9f0c2d4e-0000-4000-8000-000000000001", Name: "n1", Datacenter: "dc1", Eligible: true,
		Meta: map[string]string{"rack": "r1"}, Resources: api.Resources{CPU: 1000, MemoryMB: 1024}}
	if err := st.PutNode(ctx, node); err != nil {
		t.Fatal(err)
	}
	srv := &Server{Store: st, Name: "s1", Version: "test", Addr: "127.0.0.9:4656"}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c, err := napi.NewClient(&napi.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}

	servers, err := c.Agent().Servers()
	if err != nil || strings.Join(servers, ",") != "127.0.0.9:4656,127.0.0.9:4656" {
		t.Fatalf("servers: %v %v", servers, err)
	}
	meta, err := c.Nodes().Meta().Read(node.ID[:8], nil)
	if err != nil || meta.Meta["rack"] != "r1" || meta.Static["rack"] != "r1" || meta.Dynamic == nil || len(meta.Dynamic) != 0 {
		t.Fatalf("node meta: %+v %v", meta, err)
	}
	if _, err := c.Nodes().Meta().Read("", nil); err == nil || !strings.Contains(err.Error(), "-node-id") {
		t.Fatalf("node meta without a node on a server without one: %v", err)
	}
	if _, err := c.Nodes().Meta().Read("ffffffff", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown node's meta: %v", err)
	}

	// nomad server force-leave s2.global (the member name as listed): a
	// live server stays, as in Nomad; one that is gone and ran no etcd
	// member of its own is not found.
	if err := c.Agent().ForceLeave("s2.global"); err == nil || !strings.Contains(err.Error(), "is alive") {
		t.Fatalf("force-leave of a live server: %v", err)
	}
	members, err := c.Agent().Members()
	if err != nil || len(members.Members) != 2 {
		t.Fatalf("members after force-leave: %+v %v", members, err)
	}
	if err := c.Agent().ForceLeave("s9"); err != nil {
		t.Fatalf("force-leave of no server (nothing to do, as in Nomad): %v", err)
	}

	v := "x"
	for what, err := range map[string]error{
		"join":        func() error { _, err := c.Agent().Join("10.0.0.1"); return err }(),
		"set servers": c.Agent().SetServers([]string{"10.0.0.1:4647"}),
		"keyring":     func() error { _, err := c.Agent().ListKeys(); return err }(),
		"meta apply": func() error {
			_, err := c.Nodes().Meta().Apply(&napi.NodeMetaApplyRequest{NodeID: node.ID, Meta: map[string]*string{"k": &v}}, nil)
			return err
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "501") {
			t.Errorf("%s: %v, want a 501", what, err)
		}
	}
}
