package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	runs    []*checkRun                         // the instances' checks
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
			reg.Checks = append(reg.Checks, api.CheckStatus{Name: checkName(c), Type: c.Type, Status: initialStatus(c)})
		}
		set.regs[reg.ID] = reg
		starts = append(starts, func() {
			_ = r.a.writeInstance(sctx, set, reg.ID) // the checks write it again if this failed
		})
		for ci, c := range x.s.Checks {
			cr := &checkRun{c: c, regID: reg.ID, idx: ci, addr: addr, port: port, task: x.task,
				onUpdate: firstNonEmpty(c.OnUpdate, x.s.OnUpdate, "require_healthy"), restart: c.CheckRestart}
			if cr.restart == nil {
				cr.restart = x.s.CheckRestart
			}
			if c.Port != "" {
				cr.addr, cr.port = r.a.serviceAddress(alloc, g, c.Port, x.s.AddressMode, netAddr)
			}
			set.runs = append(set.runs, cr)
			starts = append(starts, func() { r.runCheck(sctx, set, cr, job, g) })
		}
	}
	r.mu.Lock()
	r.services = set
	r.mu.Unlock()
	for _, fn := range starts {
		set.wg.Go(fn)
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func checkName(c *api.ServiceCheck) string { return c.DisplayName() }

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

// checkRun is one check of a service instance and what its runs keep.
type checkRun struct {
	c     *api.ServiceCheck
	regID string
	idx   int // in the instance's Checks
	addr  string
	port  int
	// onUpdate is how the check counts towards deployment health:
	// require_healthy, ignore_warnings or ignore (the check's, else its
	// service's).
	onUpdate string
	// restart is the check's check_restart (else its service's); task is
	// the task it restarts, "" for every task of the allocation (a group
	// service's check).
	restart *api.CheckRestart
	task    string

	oks, fails int // consecutive passing and failing results
	unhealthy  int // consecutive unhealthy statuses past check_restart's grace
}

// countsAsHealthy reports whether status counts as healthy for a
// deployment under the check's on_update, and whether the check counts
// at all.
func (cr *checkRun) countsAsHealthy(status string) (healthy, counts bool) {
	switch cr.onUpdate {
	case "ignore":
		return false, false
	case "ignore_warnings":
		return status == api.CheckPassing || status == api.CheckWarning, true
	}
	return status == api.CheckPassing, true
}

// nextStatus is the check's status after a run whose own result is raw,
// from its status before: success_before_passing passing results in a
// row make it passing, failures_before_warning and
// failures_before_critical failing ones (warning or critical) make it
// warning and then the result; one of each by default.
func (cr *checkRun) nextStatus(prev, raw string) string {
	if raw == api.CheckPassing {
		cr.fails = 0
		cr.oks++
		if cr.oks >= max(cr.c.SuccessBeforePassing, 1) {
			return api.CheckPassing
		}
		return prev
	}
	cr.oks = 0
	cr.fails++
	critical := max(cr.c.FailuresBeforeCritical, 1)
	warning := cr.c.FailuresBeforeWarning
	if warning <= 0 {
		warning = critical
	}
	switch {
	case cr.fails >= critical:
		return raw
	case cr.fails >= warning:
		return api.CheckWarning
	}
	return prev
}

// initialStatus is a check's status before its first run.
func initialStatus(c *api.ServiceCheck) string {
	switch c.InitialStatus {
	case api.CheckPassing, api.CheckWarning, api.CheckCritical:
		return c.InitialStatus
	}
	return api.CheckPending
}

// runCheck runs one check every interval and writes the instance again
// when the result changes.
func (r *allocRunner) runCheck(ctx context.Context, set *serviceSet, cr *checkRun, job *api.Job, g *api.TaskGroup) {
	c := cr.c
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
		raw, output := r.check(ctx, c, cr.addr, cr.port, timeout, job, g)
		if ctx.Err() != nil {
			return // stopped mid-run: the result says nothing of the service
		}
		set.mu.Lock()
		reg := set.regs[cr.regID]
		st := &reg.Checks[cr.idx]
		status := cr.nextStatus(st.Status, raw)
		changed := st.Status != status || st.Output != output
		st.Status, st.Output, st.Time = status, output, time.Now().UTC()
		set.mu.Unlock()
		if changed || unsaved {
			unsaved = !r.a.writeInstance(ctx, set, cr.regID)
		}
		r.watchRestart(cr, status)
		t.Reset(interval)
	}
}

// watchRestart applies the check's check_restart to its status after a
// run: limit unhealthy statuses in a row (critical, and warning unless
// ignore_warnings), each seen when the tasks it restarts have been running
// for longer than grace, restart them, under the group's restart policy.
func (r *allocRunner) watchRestart(cr *checkRun, status string) {
	rs := cr.restart
	if rs == nil || rs.Limit <= 0 {
		return
	}
	if status == api.CheckPassing || status == api.CheckPending || (status == api.CheckWarning && rs.IgnoreWarnings) {
		cr.unhealthy = 0
		return
	}
	grace := rs.Grace.Std()
	if rs.Grace == 0 {
		grace = time.Second // Nomad's default
	}
	now := time.Now()
	service := r.serviceOf(cr)
	r.mu.Lock()
	var targets []*taskRunner
	for name, tr := range r.tasks {
		if cr.task != "" && name != cr.task {
			continue
		}
		ts := r.status.Tasks[name]
		if ts == nil || ts.State != api.TaskStateRunning || tr.hook() != "" && !tr.sidecar() {
			continue
		}
		if now.Sub(ts.StartedAt) < grace {
			// Too early to judge this start of the task.
			r.mu.Unlock()
			cr.unhealthy = 0
			return
		}
		targets = append(targets, tr)
	}
	if len(targets) == 0 {
		r.mu.Unlock()
		cr.unhealthy = 0
		return
	}
	cr.unhealthy++
	if cr.unhealthy < rs.Limit {
		r.mu.Unlock()
		return
	}
	cr.unhealthy = 0
	why := fmt.Sprintf("check %q of service %q is %s: restarted by its check_restart (limit %d)", checkName(cr.c), service, status, rs.Limit)
	r.requests.Add(len(targets))
	r.mu.Unlock()
	slog.Info("restarting tasks for an unhealthy check", "alloc", r.current().ID, "check", checkName(cr.c), "status", status)
	for _, tr := range targets {
		go func() {
			defer r.requests.Done()
			tr.restartUnhealthy(why)
		}()
	}
}

// serviceOf is the name of the service a check belongs to.
func (r *allocRunner) serviceOf(cr *checkRun) string {
	r.mu.Lock()
	set := r.services
	r.mu.Unlock()
	if set == nil {
		return ""
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if reg := set.regs[cr.regID]; reg != nil {
		return reg.ServiceName
	}
	return ""
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
		return httpCheck(cctx, c, target)
	case "grpc":
		return grpcCheck(cctx, c, target)
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
		var exit *exec.ExitError
		switch {
		case err == nil:
			return api.CheckPassing, trim(out)
		case cctx.Err() != nil:
			return api.CheckCritical, fmt.Sprintf("timed out after %s: %s", timeout, trim(out))
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			// Exit code 1 is a warning, as Nomad's and Consul's scripts.
			return api.CheckWarning, trim(out)
		}
		return api.CheckCritical, fmt.Sprintf("%v: %s", err, trim(out))
	}
	return api.CheckCritical, fmt.Sprintf("%s checks are not supported", c.Type)
}

// httpCheck sends the check's request: any 2xx answer passes (or exactly
// expected_status, when set). A Host header sets the request's host.
func httpCheck(ctx context.Context, c *api.ServiceCheck, target string) (string, string) {
	proto := "http"
	if c.Protocol == "https" {
		proto = "https"
	}
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	path := c.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, proto+"://"+target+path, body)
	if err != nil {
		return api.CheckCritical, err.Error()
	}
	for k, vs := range c.Header {
		if strings.EqualFold(k, "Host") && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	client := http.DefaultClient
	if proto == "https" && (c.TLSSkipVerify || c.TLSServerName != "") {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: c.TLSSkipVerify, ServerName: c.TLSServerName} //nolint:gosec // the job asked for it
		tr.DisableKeepAlives = true
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	if err != nil {
		return api.CheckCritical, err.Error()
	}
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if client != http.DefaultClient {
		client.CloseIdleConnections()
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if c.ExpectedStatus != 0 {
		ok = resp.StatusCode == c.ExpectedStatus
	}
	output := "HTTP " + resp.Status
	if s := strings.TrimSpace(string(out)); s != "" {
		output += ": " + s
	}
	if !ok {
		return api.CheckCritical, output
	}
	return api.CheckPassing, output
}

// grpcCheck asks the target's gRPC health service (grpc.health.v1) of
// the check's grpc_service ("" is the server as a whole): SERVING passes.
func grpcCheck(ctx context.Context, c *api.ServiceCheck, target string) (string, string) {
	creds := insecure.NewCredentials()
	if c.GRPCUseTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: c.TLSSkipVerify, ServerName: c.TLSServerName}) //nolint:gosec // the job asked for it
	}
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return api.CheckCritical, err.Error()
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: c.GRPCService})
	if err != nil {
		return api.CheckCritical, "gRPC health check: " + err.Error()
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return api.CheckCritical, "gRPC health: " + s.String()
	}
	return api.CheckPassing, "gRPC health: SERVING"
}

func trim(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}
