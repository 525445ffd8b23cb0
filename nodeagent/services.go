package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// The built-in service catalog, node side: an allocation's services are
// registered once its main tasks run, each instance a key bound to the
// node's lease (a dead node's instances vanish with its lease), with the
// results of its health checks, which the agent runs. They are removed
// when the allocation stops.

// serviceSet is what an allocation has registered.
type serviceSet struct {
	// writeMu orders the writes of the set's instances: a write copies
	// the instance while holding it, so the last write carries the
	// newest results of every check.
	writeMu sync.Mutex
	mu      sync.Mutex
	regs    map[string]*api.ServiceRegistration // by instance ID
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startServices registers the allocation's services and starts their
// checks. The writes and the checks run in goroutines of the set, which
// stopServices ends, so that an etcd out of reach never holds up the
// allocation.
func (r *allocRunner) startServices(ctx context.Context, job *api.Job, g *api.TaskGroup) {
	alloc := r.current()
	type svc struct {
		s    *api.Service
		task string
	}
	var all []svc
	for _, s := range g.Services {
		all = append(all, svc{s, ""})
	}
	for _, t := range g.Tasks {
		for _, s := range t.Services {
			all = append(all, svc{s, t.Name})
		}
	}
	if len(all) == 0 {
		return
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	set := &serviceSet{regs: map[string]*api.ServiceRegistration{}, cancel: cancel}
	r.mu.Lock()
	netAddr := r.status.NetworkAddress
	r.mu.Unlock()
	var starts []func()
	for i, x := range all {
		addr, port := r.a.serviceAddress(alloc, g, x.s.Port, x.s.AddressMode, netAddr)
		reg := &api.ServiceRegistration{
			ID: fmt.Sprintf("%s-%d", alloc.ID, i), ServiceName: x.s.Name, Namespace: alloc.Namespace, JobID: alloc.JobID,
			AllocID: alloc.ID, NodeID: r.a.cfg.NodeID, Task: x.task, Address: addr, Port: port, Tags: x.s.Tags, Meta: x.s.Meta,
		}
		if x.s.Address != "" {
			reg.Address = x.s.Address
		}
		for _, c := range x.s.Checks {
			reg.Checks = append(reg.Checks, api.CheckStatus{Name: checkName(c), Type: c.Type, Status: api.CheckPending})
		}
		set.regs[reg.ID] = reg
		starts = append(starts, func() {
			_ = r.a.writeInstance(sctx, set, reg.ID) // the checks write it again if this failed
		})
		for ci, c := range x.s.Checks {
			caddr, cport := addr, port
			if c.Port != "" {
				caddr, cport = r.a.serviceAddress(alloc, g, c.Port, x.s.AddressMode, netAddr)
			}
			starts = append(starts, func() { r.runCheck(sctx, set, reg.ID, ci, c, caddr, cport, job, g) })
		}
	}
	r.mu.Lock()
	r.services = set
	r.mu.Unlock()
	for _, fn := range starts {
		set.wg.Go(fn)
	}
}

func checkName(c *api.ServiceCheck) string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type + " check"
}

// stopServices stops the checks and removes the allocation's instances.
func (r *allocRunner) stopServices() {
	r.mu.Lock()
	set := r.services
	r.services = nil
	r.mu.Unlock()
	if set == nil {
		return
	}
	set.cancel()
	set.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, reg := range set.regs {
		if err := r.a.store.DeleteService(ctx, r.a.cfg.NodeID, reg.Namespace, reg.ServiceName, reg.ID); err != nil {
			slog.Warn("removing service instance", "service", reg.ServiceName, "err", err)
		}
	}
}

// serviceAddress resolves a service port (a label of the group's network
// or a number) to the address and port it is reached on.
func (a *Agent) serviceAddress(alloc *api.Allocation, g *api.TaskGroup, port, mode, netAddr string) (string, int) {
	host := a.node.Address
	if n, err := strconv.Atoi(port); err == nil {
		return host, n
	}
	for _, p := range alloc.Ports {
		if p.Label != port {
			continue
		}
		if mode == "alloc" && netAddr != "" {
			to := p.To
			if to <= 0 {
				to = p.Value
			}
			return netAddr, to
		}
		if p.HostIP != "" {
			host = p.HostIP
		}
		return host, p.Value
	}
	return host, 0
}

// putService writes an instance under the node's lease; it reports
// whether the write went through, so a failed one is tried again.
func (a *Agent) putService(ctx context.Context, reg *api.ServiceRegistration) bool {
	lease := a.lease.Load()
	if lease == 0 {
		return false
	}
	if err := a.store.PutService(ctx, reg, lease); err != nil {
		if ctx.Err() == nil {
			slog.Warn("registering service instance", "service", reg.ServiceName, "err", err)
		}
		return false
	}
	return true
}

// writeInstance writes an instance as it is now, in order with the other
// writes of its set. It reports whether etcd has it.
func (a *Agent) writeInstance(ctx context.Context, set *serviceSet, regID string) bool {
	set.writeMu.Lock()
	defer set.writeMu.Unlock()
	set.mu.Lock()
	c := *set.regs[regID]
	c.Checks = append([]api.CheckStatus(nil), c.Checks...)
	set.mu.Unlock()
	return a.putService(ctx, &c)
}

// reregisterServices writes every instance again under a new lease.
func (a *Agent) reregisterServices(ctx context.Context) {
	a.mu.Lock()
	var sets []*serviceSet
	for _, r := range a.runners {
		r.mu.Lock()
		if r.services != nil {
			sets = append(sets, r.services)
		}
		r.mu.Unlock()
	}
	a.mu.Unlock()
	for _, set := range sets {
		set.mu.Lock()
		ids := make([]string, 0, len(set.regs))
		for id := range set.regs {
			ids = append(ids, id)
		}
		set.mu.Unlock()
		for _, id := range ids {
			a.writeInstance(ctx, set, id)
		}
	}
}

// runCheck runs one check every interval and writes the instance again
// when the result changes.
func (r *allocRunner) runCheck(ctx context.Context, set *serviceSet, regID string, idx int, c *api.ServiceCheck, addr string, port int, job *api.Job, g *api.TaskGroup) {
	interval := max(c.Interval.Std(), 100*time.Millisecond)
	timeout := max(c.Timeout.Std(), 100*time.Millisecond)
	t := time.NewTimer(0)
	defer t.Stop()
	unsaved := false // the last result is not in etcd yet
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, output := r.check(ctx, c, addr, port, timeout, job, g)
		set.mu.Lock()
		reg := set.regs[regID]
		changed := reg.Checks[idx].Status != status || reg.Checks[idx].Output != output
		reg.Checks[idx].Status, reg.Checks[idx].Output, reg.Checks[idx].Time = status, output, time.Now().UTC()
		set.mu.Unlock()
		if changed || unsaved {
			unsaved = !r.a.writeInstance(ctx, set, regID)
		}
		t.Reset(interval)
	}
}

func (r *allocRunner) check(ctx context.Context, c *api.ServiceCheck, addr string, port int, timeout time.Duration, job *api.Job, g *api.TaskGroup) (string, string) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := net.JoinHostPort(addr, strconv.Itoa(port))
	switch c.Type {
	case "tcp":
		conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", target)
		if err != nil {
			return api.CheckCritical, err.Error()
		}
		conn.Close()
		return api.CheckPassing, "connected to " + target
	case "http":
		proto := "http"
		if c.Protocol == "https" {
			proto = "https"
		}
		req, err := http.NewRequestWithContext(cctx, c.Method, proto+"://"+target+c.Path, nil)
		if err != nil {
			return api.CheckCritical, err.Error()
		}
		for k, vs := range c.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return api.CheckCritical, err.Error()
		}
		resp.Body.Close()
		ok := resp.StatusCode >= 200 && resp.StatusCode < 300
		if c.ExpectedStatus != 0 {
			ok = resp.StatusCode == c.ExpectedStatus
		}
		if !ok {
			return api.CheckCritical, "HTTP " + resp.Status
		}
		return api.CheckPassing, "HTTP " + resp.Status
	case "script":
		// Scripts run on the node with the task's environment.
		cmd := exec.CommandContext(cctx, c.Command, c.Args...)
		alloc := r.current()
		task := c.Task
		var t *api.Task
		for _, x := range g.Tasks {
			if x.Name == task || (task == "" && len(g.Tasks) == 1) {
				t = x
			}
		}
		if t != nil {
			allocDir := r.a.AllocDir(alloc.ID)
			cmd.Env = taskEnv(r.a, job, g, t, alloc, allocDir, allocDir+"/"+t.Name)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return api.CheckCritical, fmt.Sprintf("%v: %s", err, trim(out))
		}
		return api.CheckPassing, trim(out)
	}
	return api.CheckCritical, fmt.Sprintf("%s checks are not supported yet", c.Type)
}

func trim(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}
