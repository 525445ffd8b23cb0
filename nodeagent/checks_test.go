package nodeagent

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestCheckThresholdsDelayStatusChanges(t *testing.T) {
	const p, w, c = api.CheckPassing, api.CheckWarning, api.CheckCritical
	cases := []struct {
		name    string
		check   api.ServiceCheck
		initial string
		results []string
		want    []string // the status after each result
	}{
		{"each result is the status by default", api.ServiceCheck{}, api.CheckPending,
			[]string{p, c, w, p}, []string{p, c, w, p}},
		{"success_before_passing", api.ServiceCheck{SuccessBeforePassing: 3}, api.CheckCritical,
			[]string{p, p, c, p, p, p}, []string{c, c, c, c, c, p}},
		{"failures_before_critical", api.ServiceCheck{FailuresBeforeCritical: 2}, api.CheckPassing,
			[]string{c, p, c, c, c}, []string{p, p, p, c, c}},
		{"failures_before_warning comes first", api.ServiceCheck{FailuresBeforeWarning: 1, FailuresBeforeCritical: 3}, api.CheckPassing,
			[]string{c, c, c, p}, []string{w, w, c, p}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := &checkRun{c: &tc.check}
			status := tc.initial
			var got []string
			for _, r := range tc.results {
				status = cr.nextStatus(status, r)
				got = append(got, status)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("statuses %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHTTPChecksSendTheJobsRequest(t *testing.T) {
	t.Parallel()
	var got struct {
		method, host, body, header string
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.host, got.body, got.header = r.Method, r.Host, string(b), r.Header.Get("X-Probe")
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
		io.WriteString(w, "all good")
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	secure := httptest.NewTLSServer(handler)
	defer secure.Close()
	target := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	}
	ctx := context.Background()

	c := &api.ServiceCheck{Type: "http", Path: "/health", Method: "POST", Body: `{"ping":1}`,
		Header: map[string][]string{"Host": {"example.test"}, "X-Probe": {"yes"}}}
	status, out := httpCheck(ctx, c, target(plain))
	if status != api.CheckPassing || !strings.Contains(out, "200") || !strings.Contains(out, "all good") {
		t.Fatalf("status %s (%s), want passing with the answer", status, out)
	}
	if got.method != "POST" || got.host != "example.test" || got.body != `{"ping":1}` || got.header != "yes" {
		t.Fatalf("the server saw %+v", got)
	}
	if status, out := httpCheck(ctx, &api.ServiceCheck{Path: "/teapot"}, target(plain)); status != api.CheckCritical || !strings.Contains(out, "418") {
		t.Fatalf("a 418 is %s (%s), want critical", status, out)
	}
	if status, _ := httpCheck(ctx, &api.ServiceCheck{Path: "/teapot", ExpectedStatus: 418}, target(plain)); status != api.CheckPassing {
		t.Fatalf("expected_status 418 is %s for a 418", status)
	}
	if status, _ := httpCheck(ctx, &api.ServiceCheck{Path: "/", Protocol: "https"}, target(secure)); status != api.CheckCritical {
		t.Fatalf("an unknown certificate is %s, want critical", status)
	}
	if status, out := httpCheck(ctx, &api.ServiceCheck{Path: "/", Protocol: "https", TLSSkipVerify: true}, target(secure)); status != api.CheckPassing {
		t.Fatalf("with tls_skip_verify: %s (%s), want passing", status, out)
	}
}

func TestGRPCChecksAskTheHealthService(t *testing.T) {
	t.Parallel()
	serve := func(t *testing.T, opts ...grpc.ServerOption) (string, *health.Server) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(opts...)
		hs := health.NewServer()
		healthpb.RegisterHealthServer(srv, hs)
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
		return ln.Addr().String(), hs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, hs := serve(t)
	hs.SetServingStatus("web", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	for _, c := range []struct {
		service, want, output string
	}{
		{"", api.CheckPassing, "SERVING"},
		{"web", api.CheckPassing, "SERVING"},
		{"db", api.CheckCritical, "NOT_SERVING"},
		{"unknown", api.CheckCritical, "NotFound"},
	} {
		status, out := grpcCheck(ctx, &api.ServiceCheck{Type: "grpc", GRPCService: c.service}, addr)
		if status != c.want || !strings.Contains(out, c.output) {
			t.Errorf("service %q: %s (%s), want %s (%s)", c.service, status, out, c.want, c.output)
		}
	}
	if status, out := grpcCheck(ctx, &api.ServiceCheck{Type: "grpc"}, tcpAddr(t, false)); status != api.CheckCritical {
		t.Errorf("a closed port: %s (%s), want critical", status, out)
	}

	// grpc_use_tls, with a certificate the check takes on tls_skip_verify.
	cert := httptest.NewUnstartedServer(nil)
	cert.StartTLS()
	tlsCert := cert.TLS.Certificates[0]
	cert.Close()
	taddr, _ := serve(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{tlsCert}})))
	if status, out := grpcCheck(ctx, &api.ServiceCheck{Type: "grpc", GRPCUseTLS: true, TLSSkipVerify: true}, taddr); status != api.CheckPassing {
		t.Errorf("over TLS with tls_skip_verify: %s (%s), want passing", status, out)
	}
	if status, _ := grpcCheck(ctx, &api.ServiceCheck{Type: "grpc", GRPCUseTLS: true}, taddr); status != api.CheckCritical {
		t.Errorf("over TLS with an unknown certificate: %s, want critical", status)
	}
	if status, _ := grpcCheck(ctx, &api.ServiceCheck{Type: "grpc"}, taddr); status != api.CheckCritical {
		t.Errorf("plain text to a TLS server: %s, want critical", status)
	}
}

func tcpAddr(t *testing.T, open bool) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort(t, open)))
}

func TestScriptChecksThatExitOneWarn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := newAllocRunner(h.agent, &api.Allocation{ID: api.NewID()})
	g := &api.TaskGroup{Name: "g"}
	for code, want := range map[string]string{"0": api.CheckPassing, "1": api.CheckWarning, "2": api.CheckCritical} {
		c := &api.ServiceCheck{Type: "script", Command: "/bin/sh", Args: []string{"-c", "echo out; exit " + code}}
		status, out := r.check(context.Background(), c, "", 0, 5*time.Second, &api.Job{}, g)
		if status != want || !strings.Contains(out, "out") {
			t.Errorf("exit %s: %s (%q), want %s", code, status, out, want)
		}
	}
}

func TestCheckRestartRestartsTheTaskUnderItsRestartPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever()))
	g := j.Groups[0]
	g.Restart = &api.RestartPolicy{Attempts: 1, Interval: api.Duration(time.Hour), Delay: api.Duration(10 * time.Millisecond), Mode: "fail"}
	g.Services = []*api.Service{{Name: "web", Port: "http", Checks: []*api.ServiceCheck{{Type: "tcp",
		Interval: api.Duration(50 * time.Millisecond), Timeout: api.Duration(time.Second),
		CheckRestart: &api.CheckRestart{Limit: 3, Grace: api.Duration(200 * time.Millisecond)}}}}}
	a := h.place(j, func(a *api.Allocation) {
		a.Ports = []api.AllocatedPort{{Label: "http", Value: tcpPort(t, false), HostIP: "127.0.0.1"}}
	})
	// The check never passes: restarted once, then the policy gives up.
	st := h.waitTerminal(a)
	ts := st.Tasks["t"]
	if st.ClientStatus != api.AllocClientFailed || ts.Restarts != 1 || !ts.Failed {
		t.Fatalf("status %s, restarts %d, failed %v; want failed after 1 restart (events %v)", st.ClientStatus, ts.Restarts, ts.Failed, eventTypes(ts))
	}
	if !hasEvent(ts, "Restart Signaled", `check "tcp check" of service "web" is critical`) || !hasEvent(ts, "Not Restarting", "attempts") {
		t.Fatalf("events %+v", ts.Events)
	}
	// Each start ran for at least the grace and limit-1 intervals.
	var signaled []time.Time
	for _, e := range ts.Events {
		if e.Type == "Restart Signaled" {
			signaled = append(signaled, e.Time)
		}
	}
	if len(signaled) != 2 {
		t.Fatalf("%d restart signals, want 2 (the restart and the one the policy refused)", len(signaled))
	}
}

func TestCheckRestartLeavesAHealthyTaskAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	j := newJob(api.JobTypeService, mockTask("t", forever()))
	g := j.Groups[0]
	g.Services = []*api.Service{{Name: "web", Port: "http", CheckRestart: &api.CheckRestart{Limit: 1},
		Checks: []*api.ServiceCheck{{Type: "tcp", Interval: api.Duration(20 * time.Millisecond), Timeout: api.Duration(time.Second)}}}}
	a := h.place(j, func(a *api.Allocation) {
		a.Ports = []api.AllocatedPort{{Label: "http", Value: tcpPort(t, true), HostIP: "127.0.0.1"}}
	})
	h.waitFor("the check passing", func() bool {
		for _, s := range h.store.serviceList() {
			if s.reg.AllocID == a.ID && len(s.reg.Checks) == 1 && s.reg.Checks[0].Status == api.CheckPassing {
				return true
			}
		}
		return false
	})
	time.Sleep(1500 * time.Millisecond) // past the default grace, many checks
	if ts := h.store.status(h.agent.NodeID(), a.ID).Tasks["t"]; ts.Restarts != 0 || ts.State != api.TaskStateRunning {
		t.Fatalf("a task with a passing check: %s after %d restarts", ts.State, ts.Restarts)
	}
}

func TestOnUpdateDecidesHowChecksCountForDeploymentHealth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		onUpdate    string
		script      string // exit code of the check
		wantHealthy bool
	}{
		{"a warning is not healthy by default", "", "1", false},
		{"ignore_warnings takes a warning as healthy", "ignore_warnings", "1", true},
		{"ignore_warnings still fails on critical", "ignore_warnings", "2", false},
		{"ignore leaves the check out", "ignore", "2", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			j := newJob(api.JobTypeService, mockTask("t", forever()))
			g := j.Groups[0]
			g.Update = &api.UpdateStrategy{HealthCheck: "checks", MinHealthyTime: api.Duration(100 * time.Millisecond), HealthyDeadline: api.Duration(1500 * time.Millisecond)}
			g.Services = []*api.Service{{Name: "web", Port: "80", Checks: []*api.ServiceCheck{{Type: "script", Task: "t",
				Command: "/bin/sh", Args: []string{"-c", "exit " + c.script}, OnUpdate: c.onUpdate,
				Interval: api.Duration(50 * time.Millisecond), Timeout: api.Duration(5 * time.Second)}}}}
			a := h.place(j, func(a *api.Allocation) { a.DeploymentID = "deployment-1" })
			st := h.waitStatus(a, "a health verdict", func(st *api.AllocStatus) bool { return st.Health != nil })
			if st.Health.Healthy != c.wantHealthy {
				t.Fatalf("healthy %v (%s), want %v", st.Health.Healthy, st.Health.Description, c.wantHealthy)
			}
		})
	}
}

func TestInitialStatusIsTheStatusBeforeTheFirstRun(t *testing.T) {
	if got := initialStatus(&api.ServiceCheck{InitialStatus: "warning"}); got != api.CheckWarning {
		t.Fatalf("initial_status warning: %s", got)
	}
	if got := initialStatus(&api.ServiceCheck{}); got != api.CheckPending {
		t.Fatalf("no initial_status: %s", got)
	}
}
