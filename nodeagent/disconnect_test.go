package nodeagent

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// cutProxy forwards TCP to a target until cut, which closes every
// connection and refuses new ones: a network partition on loopback.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestAllocationsStopAfterTheNodeWasAwayForStopAfter(t *testing.T) {
	direct, endpoint := testutil.EtcdWithEndpoint(t)
	st := store.New(direct, "/it")
	proxy := newCutProxy(t, strings.TrimPrefix(endpoint, "http://"))
	viaProxy, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + proxy.ln.Addr().String()}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer viaProxy.Close()
	agent, err := New(store.New(viaProxy, "/it"), Config{Name: "n1", DataDir: t.TempDir(), TTL: 2 * time.Second,
		Drivers: []driver.Driver{&rawexec.Driver{Enabled: true}}, StopTasksOnShutdown: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		agent.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	<-agent.Ready()

	j := &api.Job{ID: "away", Namespace: "default", Type: api.JobTypeService, Groups: []*api.TaskGroup{{Name: "g", Count: 1,
		Disconnect: &api.DisconnectStrategy{LostAfter: api.Duration(time.Minute), StopAfter: api.Duration(2 * time.Second)},
		Tasks: []*api.Task{{Name: "t", Driver: "raw_exec", Config: map[string]any{"command": "sleep", "args": []any{"60"}},
			Resources: &api.Resources{CPU: 10, MemoryMB: 10}}}}}}
	j.Canonicalize()
	if _, err := st.RegisterJob(ctx, j, time.Now()); err != nil {
		t.Fatal(err)
	}
	a := &api.Allocation{ID: "alloc-away", Name: "away.g[0]", Namespace: "default", JobID: "away", TaskGroup: "g",
		NodeID: agent.NodeID(), DesiredStatus: api.AllocDesiredRun, CreateTime: time.Now()}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: []*api.Allocation{a}}); err != nil {
		t.Fatal(err)
	}
	var pid int
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		s, err := st.GetAllocStatus(ctx, agent.NodeID(), a.ID)
		if err != nil {
			return false, err.Error()
		}
		if ts := s.Tasks["t"]; ts != nil {
			pid = ts.PID
		}
		return s.ClientStatus == api.AllocClientRunning && pid > 0, s.ClientStatus
	})
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	proxy.setCut(true)
	cutAt := time.Now()
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		return syscall.Kill(pid, 0) != nil, "the task still runs"
	})
	// Not before the lease was lost and stop_after passed.
	if away := time.Since(cutAt); away < 2*time.Second {
		t.Fatalf("the task stopped %v after the cut, before stop_after", away)
	}
	t.Logf("task stopped %.1fs after the agent was cut off (TTL 2s + stop_after 2s)", time.Since(cutAt).Seconds())
	// Back in touch, the agent writes the status it could not write.
	proxy.setCut(false)
	testutil.Eventually(t, 45*time.Second, func() (bool, string) {
		s, err := st.GetAllocStatus(ctx, agent.NodeID(), a.ID)
		if err != nil {
			return false, err.Error()
		}
		return api.IsTerminalClientStatus(s.ClientStatus) && strings.Contains(s.Description, "stop_after"), s.ClientStatus + ": " + s.Description
	})
}
