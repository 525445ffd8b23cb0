// Package nomadapi serves Nomad's HTTP API over nomadic's store, so that
// Nomad's CLI, its Go api package and the tools built on it (Terraform's
// provider, Levant, nomad-pack, the autoscaler) drive nomadic unchanged.
//
// It is a translation layer, not a second source of truth: every request
// reads or writes nomadic's own objects through pkg/store, and the
// answers are shaped the way Nomad shapes them (wire.go) — PascalCase
// fields, nanosecond times, X-Nomad-* headers, indexes that are etcd
// revisions. It listens on its own address because Nomad's clients drop
// any path prefix of their address and its paths collide with nomadic's
// native API. docs/nomad-compat.md lists what is served and what answers
// 501.
package nomadapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
	"github.com/prometheus/client_golang/prometheus"
)

// Server answers Nomad's API from one cluster's store.
type Server struct {
	Store *store.Store
	// Name is the server's name; Region and Datacenter how it presents
	// itself (default "global" and "dc1").
	Name       string
	Region     string
	Datacenter string
	Version    string
	// Addr is the address this API listens on, as members and the leader
	// are shown.
	Addr string
	Now  func() time.Time
	// Gate bounds bodies, limits rates and checks ACLs (nil: no ACLs, no
	// rate limit).
	Gate *access.Gate
	// ACL serves the ACL endpoints (nil: ACLs are off and they answer
	// 400).
	ACL *access.Service
	// RequestTimeout bounds the etcd work of each request (default 15 s).
	RequestTimeout time.Duration
	// Vars serves variables (nil: the server has no keyring; the
	// variable endpoints answer 501).
	Vars *variables.Service
	// NodeTLS is what the server calls node agents that serve over
	// mutual TLS with (its client certificate and the node CA).
	NodeTLS *tls.Config
	// Logs is the agent's log, which /v1/agent/monitor streams (nil:
	// it answers 501).
	Logs *logmon.Hub
	// UIPort is the port of the native API, whose /ui/ is nomadic's web
	// UI: Nomad's UI addresses (/ui/..., and /) are sent there ("": 404).
	UIPort string
	// Metrics is what GET /v1/metrics shows (nil: the process's default
	// Prometheus registry, what the native API's /metrics serves).
	Metrics prometheus.Gatherer
	// SnapshotDir is where GET /v1/operator/snapshot spools etcd's
	// snapshot to compute its digest ("": the system's temporary
	// directory).
	SnapshotDir string
	// Secured says the API authenticates every request (-acl, or
	// -http-token-file), and EmbeddedEtcd that etcd is this server's own:
	// snapshots, which hold all of etcd, are served only with either.
	Secured, EmbeddedEtcd bool
	// Stopping, closed when the server begins to shut down, ends streams
	// (the event stream, monitors, followed logs and files) as a clean
	// end of their responses, and answers blocking queries at once, so
	// that a graceful shutdown need not cut them (nil: never).
	Stopping <-chan struct{}

	mu        sync.Mutex
	localNode string
}

// SetLocalNode tells the API the node agent that runs in the same process
// (dev mode), which /v1/agent/self names as Nomad's client agents do.
func (s *Server) SetLocalNode(id string) {
	s.mu.Lock()
	s.localNode = id
	s.mu.Unlock()
}

func (s *Server) node() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.localNode
}

// maxBody bounds a request body, below etcd's request limit.
const maxBody = 1 << 20

// Blocking queries wait at most this long, as in Nomad.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
)

// The kinds each blocking query waits on.
var (
	jobKinds    = []store.Kind{store.KindJobs, store.KindAllocs, store.KindAllocStatus, store.KindEvals}
	allocKinds  = []store.Kind{store.KindAllocs, store.KindAllocStatus}
	evalKinds   = []store.Kind{store.KindEvals}
	nodeKinds   = []store.Kind{store.KindNodes, store.KindHeartbeats, store.KindNodeAdmin}
	deployKinds = []store.Kind{store.KindDeployments}
	// Node agents write instances under their own tree; the API reads the
	// index the leader mirrors them into.
	serviceKinds = []store.Kind{store.KindServices}
	anyKinds     = []store.Kind{store.KindJobs, store.KindAllocs, store.KindAllocStatus, store.KindEvals,
		store.KindNodes, store.KindHeartbeats, store.KindNodeAdmin, store.KindDeployments, store.KindServices}
)

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Region == "" {
		s.Region = "global"
	}
	if s.Datacenter == "" {
		s.Datacenter = "dc1"
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 15 * time.Second
	}
	return recoverPanics(s.routes().Serve(s.Gate, func(w http.ResponseWriter, code int, msg string) {
		writeErr(w, &httpError{code: code, msg: msg})
	}))
}

// routes registers every route of the API, each with its rule in
// access.NomadRules.
func (s *Server) routes() *access.Mux {
	mux := access.NewMux(access.NomadRules)
	get := func(path string, kinds []store.Kind, h handler) {
		mux.HandleFunc("GET "+path, s.read(kinds, h))
	}
	write := func(methods, path string, h handler) {
		for _, m := range strings.Split(methods, ",") {
			mux.HandleFunc(m+" "+path, s.write(h))
		}
	}
	// Jobs.
	get("/v1/jobs", jobKinds, s.listJobs)
	write("PUT,POST", "/v1/jobs", s.registerJob)
	write("PUT,POST", "/v1/jobs/parse", s.parseJob)
	write("PUT,POST", "/v1/validate/job", s.validateJob)
	get("/v1/job/{id}", append(slices.Clone(jobKinds), store.KindJobTags), s.getJob)
	write("PUT,POST", "/v1/job/{id}", s.registerJob)
	write("DELETE", "/v1/job/{id}", s.deregisterJob)
	get("/v1/job/{id}/versions", []store.Kind{store.KindJobs, store.KindJobVersions, store.KindJobTags}, s.jobVersions)
	get("/v1/job/{id}/submission", []store.Kind{store.KindJobs, store.KindJobSources}, s.jobSubmission)
	write("PUT,POST", "/v1/job/{id}/versions/{name}/tag", s.tagVersion)
	write("DELETE", "/v1/job/{id}/versions/{name}/tag", s.untagVersion)
	get("/v1/job/{id}/allocations", allocKinds, s.jobAllocations)
	get("/v1/job/{id}/evaluations", evalKinds, s.jobEvaluations)
	get("/v1/job/{id}/deployments", deployKinds, s.jobDeployments)
	get("/v1/job/{id}/deployment", deployKinds, s.jobDeployment)
	get("/v1/job/{id}/summary", jobKinds, s.jobSummary)
	get("/v1/job/{id}/scale", jobKinds, s.jobScaleStatus)
	get("/v1/scaling/policies", []store.Kind{store.KindJobs}, s.listScalingPolicies)
	get("/v1/scaling/policy/{id}", []store.Kind{store.KindJobs}, s.getScalingPolicy)
	get("/v1/job/{id}/services", serviceKinds, s.jobServices)
	mux.HandleFunc("GET /v1/job/{id}/action", s.plain(s.jobAction))
	write("PUT,POST", "/v1/job/{id}/plan", s.planJob)
	write("PUT,POST", "/v1/job/{id}/dispatch", s.dispatchJob)
	write("PUT,POST", "/v1/job/{id}/revert", s.revertJob)
	write("PUT,POST", "/v1/job/{id}/scale", s.scaleJob)
	write("PUT,POST", "/v1/job/{id}/evaluate", s.evaluateJob)
	write("PUT,POST", "/v1/job/{id}/periodic/force", s.forcePeriodic)
	// Allocations.
	get("/v1/allocations", allocKinds, s.listAllocations)
	get("/v1/allocation/{id}", allocKinds, s.getAllocation)
	write("PUT,POST", "/v1/allocation/{id}/stop", s.stopAllocation)
	write("PUT,POST", "/v1/client/allocation/{id}/restart", s.allocRequest("restart"))
	write("PUT,POST", "/v1/client/allocation/{id}/signal", s.allocRequest("signal"))
	mux.HandleFunc("GET /v1/client/allocation/{id}/stats", s.plain(s.allocStats))
	mux.HandleFunc("GET /v1/client/allocation/{id}/checks", s.plain(s.allocChecks))
	mux.HandleFunc("GET /v1/client/allocation/{id}/exec", s.plain(s.allocExec))
	get("/v1/allocation/{id}/services", serviceKinds, s.allocationServices)
	mux.HandleFunc("GET /v1/agent/monitor", s.plain(s.agentMonitor))
	mux.HandleFunc("GET /v1/metrics", s.plain(s.metrics))
	mux.HandleFunc("GET /.well-known/jwks.json", s.plain(s.jwks))
	mux.HandleFunc("GET /{$}", s.plain(s.uiRedirect))
	mux.HandleFunc("GET /ui/", s.plain(s.uiRedirect))
	write("PUT,POST", "/v1/agent/force-leave", s.forceLeave)
	get("/v1/agent/servers", []store.Kind{store.KindServers}, s.agentServers)
	get("/v1/client/metadata", nodeKinds, s.nodeMeta)
	mux.HandleFunc("GET /v1/client/fs/logs/{alloc}", s.plain(s.allocLogs))
	mux.HandleFunc("GET /v1/client/fs/ls/{alloc}", s.plain(s.fsList))
	mux.HandleFunc("GET /v1/client/fs/stat/{alloc}", s.plain(s.fsStat))
	mux.HandleFunc("GET /v1/client/fs/cat/{alloc}", s.plain(s.fsCat(false)))
	mux.HandleFunc("GET /v1/client/fs/readat/{alloc}", s.plain(s.fsCat(true)))
	mux.HandleFunc("GET /v1/client/fs/stream/{alloc}", s.plain(s.fsStream))
	mux.HandleFunc("GET /v1/client/stats", s.plain(s.hostStats))
	// Service discovery.
	get("/v1/services", serviceKinds, s.listServices)
	get("/v1/service/{name}", serviceKinds, s.getService)
	write("DELETE", "/v1/service/{name}/{id}", s.deleteService)
	// Evaluations.
	get("/v1/evaluations", evalKinds, s.listEvaluations)
	get("/v1/evaluation/{id}", evalKinds, s.getEvaluation)
	get("/v1/evaluation/{id}/allocations", allocKinds, s.evaluationAllocations)
	// Deployments.
	get("/v1/deployments", deployKinds, s.listDeployments)
	get("/v1/deployment/{id}", deployKinds, s.getDeployment)
	get("/v1/deployment/allocations/{id}", allocKinds, s.deploymentAllocations)
	write("PUT,POST", "/v1/deployment/promote/{id}", s.deploymentPromote)
	write("PUT,POST", "/v1/deployment/fail/{id}", s.deploymentFail)
	write("PUT,POST", "/v1/deployment/pause/{id}", s.deploymentPause)
	write("PUT,POST", "/v1/deployment/allocation-health/{id}", s.deploymentAllocHealth)
	// Nodes.
	get("/v1/nodes", nodeKinds, s.listNodes)
	get("/v1/node/{id}", nodeKinds, s.getNode)
	get("/v1/node/{id}/{sub}", append(append([]store.Kind{store.KindNodePools}, nodeKinds...), allocKinds...), s.nodeSub)
	get("/v1/node/pool/{name}/nodes", nodeKinds, s.poolNodes)
	get("/v1/node/pool/{name}/jobs", jobKinds, s.poolJobs)
	write("PUT,POST", "/v1/node/{id}/eligibility", s.nodeEligibility)
	write("PUT,POST", "/v1/node/{id}/drain", s.nodeDrain)
	write("PUT,POST", "/v1/node/{id}/purge", s.nodePurge)
	get("/v1/node/pools", []store.Kind{store.KindNodes, store.KindNodePools}, s.nodePools)
	write("PUT,POST", "/v1/node/pools", s.putNodePool)
	write("DELETE", "/v1/node/pool/{name}", s.deleteNodePool)
	// Agent, status, operator.
	get("/v1/agent/self", nil, s.agentSelf)
	get("/v1/agent/members", []store.Kind{store.KindServers}, s.agentMembers)
	get("/v1/agent/health", nil, s.agentHealth)
	get("/v1/status/leader", []store.Kind{store.KindElection}, s.statusLeader)
	get("/v1/status/peers", []store.Kind{store.KindServers}, s.statusPeers)
	get("/v1/regions", nil, s.regions)
	get("/v1/namespaces", []store.Kind{store.KindNamespaces, store.KindJobs}, s.namespaces)
	get("/v1/namespace/{name}", []store.Kind{store.KindNamespaces, store.KindJobs}, s.getNamespace)
	write("PUT,POST", "/v1/namespace/{name}", s.putNamespace)
	write("PUT,POST", "/v1/namespace", s.putNamespace)
	write("DELETE", "/v1/namespace/{name}", s.deleteNamespace)
	write("PUT,POST", "/v1/search", s.search)
	get("/v1/operator/scheduler/configuration", []store.Kind{store.KindSchedConfig}, s.getSchedulerConfig)
	get("/v1/operator/raft/configuration", []store.Kind{store.KindEtcdMembers}, s.raftConfiguration)
	write("PUT,POST", "/v1/operator/scheduler/configuration", s.setSchedulerConfig)
	mux.HandleFunc("GET /v1/operator/snapshot", s.plain(s.operatorSnapshot))
	write("PUT,POST", "/v1/system/gc", s.systemGC)
	write("PUT,POST", "/v1/system/reconcile/summaries", s.systemGC)
	mux.HandleFunc("GET /v1/event/stream", s.plain(s.eventStream))
	// Variables and the keyring.
	s.varsRoutes(get, write)
	s.aclRoutes(get, write)
	mux.HandleFunc("/", s.plain(func(w http.ResponseWriter, r *http.Request) error {
		for _, u := range unsupported {
			if strings.HasPrefix(r.URL.Path, u.prefix) {
				return &httpError{code: http.StatusNotImplemented, msg: fmt.Sprintf("nomadic does not serve %s %s: %s (docs/nomad-compat.md)", r.Method, r.URL.Path, u.why)}
			}
		}
		return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint in nomadic's Nomad API: %s %s (docs/nomad-compat.md lists what is served)", r.Method, r.URL.Path)}
	}))
	return mux
}

// unsupported are Nomad's endpoints of features nomadic does not have:
// they answer 501 saying why, where an unknown path answers 404.
var unsupported = []struct{ prefix, why string }{
	{"/v1/volume", "CSI and dynamic host volumes are not supported; use host_volume blocks in the node agent's configuration"},
	{"/v1/plugin", "CSI plugins are not supported"},
	{"/v1/quota", "resource quotas are a Nomad Enterprise feature"},
	{"/v1/sentinel", "Sentinel policies are a Nomad Enterprise feature"},
	{"/v1/recommendation", "recommendations are a Nomad Enterprise feature"},
	{"/v1/operator/autopilot", "the servers hold no raft state (etcd is the consensus); see etcd's own member health"},
	{"/v1/operator/snapshot", "a snapshot (GET) is etcd's: restore it with etcdutl snapshot restore on the etcd members, as docs/operations.md says"},
	{"/v1/operator/license", "there is no license"},
	{"/v1/agent/monitor/export", "agent logs are not exported over the API; read the agent's standard error (or its journal)"},
	{"/v1/agent/pprof", "profiles are served on the agent's -debug-addr"},
	{"/v1/agent/join", "servers find each other through etcd; there is no gossip pool to join"},
	{"/v1/agent/keyring", "there is no gossip encryption (no gossip); the keyring of variables and workload identities is /v1/operator/keyring"},
	{"/v1/agent/servers", "node agents find the servers through etcd; their server list cannot be set"},
	{"/v1/client/metadata", "dynamic node metadata (nomad node meta apply) is not supported: set it with the node agent's -meta"},
	{"/v1/acl/auth-method", "SSO auth methods are not supported; use ACL tokens"},
	{"/v1/acl/binding-rule", "SSO auth methods are not supported; use ACL tokens"},
	{"/v1/acl/oidc", "SSO auth methods are not supported; use ACL tokens"},
	{"/v1/acl/login", "SSO auth methods are not supported; use ACL tokens"},
}

// handler serves one request; it writes its answer or returns an error,
// which the wrapper turns into Nomad's plain-text error answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// httpError is an answer other than 200.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// writeErr answers an error the way Nomad does: the status code and a
// plain-text message, which Nomad's clients print as they are.
func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	switch {
	case errors.As(err, &he):
		code = he.code
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, store.ErrAmbiguous):
		code = http.StatusBadRequest
	case errors.Is(err, store.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
		err = fmt.Errorf("etcd did not answer in time: %w", err)
	case store.TooLarge(err):
		code = http.StatusRequestEntityTooLarge
	case store.NoSpace(err):
		code = http.StatusInsufficientStorage
		err = fmt.Errorf("etcd's database is full (its NOSPACE alarm is raised): nothing can be written until an operator compacts and defragments etcd and disarms the alarm (docs/operations.md): %w", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, err.Error())
}

func recoverPanics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				slog.Error("panic serving Nomad API request", "path", r.URL.Path, "panic", p)
				writeErr(w, errors.New("internal error"))
			}
		}()
		start := time.Now()
		h.ServeHTTP(w, r)
		// What nomad monitor -log-level=debug shows of the API, as
		// Nomad's agents log each request; the path only (a query may
		// carry a variable's path or a search term).
		if slog.Default().Enabled(r.Context(), slog.LevelDebug) && r.URL.Path != "/v1/agent/monitor" {
			slog.Debug("Nomad API request complete", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start).Round(time.Microsecond))
		}
	})
}

// plain runs a handler that writes its own headers (streams).
func (s *Server) plain(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeErr(w, err)
		}
	}
}

// read makes h a blocking query: with ?index=N it answers once an object
// of one of the kinds changed after revision N (or after ?wait=, default
// 5 minutes); every answer carries X-Nomad-Index, the etcd revision it
// read at.
func (s *Server) read(kinds []store.Kind, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if v := q.Get("index"); v != "" && len(kinds) > 0 {
			index, err := strconv.ParseUint(v, 10, 63)
			if err != nil {
				writeErr(w, badRequest("index %q is not an index", v))
				return
			}
			wait := defaultWait
			if v := q.Get("wait"); v != "" {
				d, err := parseWait(v)
				if err != nil {
					writeErr(w, err)
					return
				}
				wait = min(d, maxWait)
			}
			if index > 0 {
				wctx, wcancel := s.streamCtx(r)
				err := s.Store.WaitForChange(wctx, kinds, int64(index), wait)
				wcancel()
				if err != nil && r.Context().Err() != nil {
					return // the client went away
				}
				// Or the server is stopping (or the wait failed): the
				// answer as it is now, as at the end of the wait.
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.RequestTimeout)
		rev, err := s.Store.Revision(ctx)
		cancel()
		if err != nil {
			writeErr(w, err)
			return
		}
		setMeta(w, rev)
		if err := h(w, r); err != nil {
			writeErr(w, err)
		}
	}
}

// parseWait reads a wait such as "30s", "300000ms", or a bare number of
// seconds.
func parseWait(v string) (time.Duration, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badRequest("wait %q is not a duration such as \"30s\"", v)
	}
	return d, nil
}

// write runs a handler that changes state: the body is bounded, and the
// answer carries the revision after the write.
func (s *Server) write(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r); err != nil {
			writeErr(w, err)
		}
	}
}

func setMeta(w http.ResponseWriter, rev int64) {
	w.Header().Set("X-Nomad-Index", strconv.FormatInt(max(rev, 1), 10))
	w.Header().Set("X-Nomad-KnownLeader", "true")
	w.Header().Set("X-Nomad-LastContact", "0")
}

// reply writes a 200 with a JSON body; after a write it also sets
// X-Nomad-Index to the revision the change made.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Method != http.MethodGet {
		ctx, cancel := context.WithTimeout(r.Context(), s.RequestTimeout)
		rev, err := s.Store.Revision(ctx)
		cancel()
		if err == nil {
			setMeta(w, rev)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	if pretty(r) {
		enc.SetIndent("", "    ")
	}
	return enc.Encode(v)
}

// ctx bounds the etcd work of a request.
func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.RequestTimeout)
}

// streamCtx is the context of a long request (a stream, a blocking
// query's wait): it ends with the request or when the server begins to
// stop.
func (s *Server) streamCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return loop.WithStop(r.Context(), s.Stopping)
}

// decode reads a JSON body. Unknown fields are allowed: Nomad's clients
// send fields nomadic has no use for.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
		}
		if errors.Is(err, io.EOF) {
			return badRequest("the request needs a JSON body")
		}
		return badRequest("reading the request body: %v", err)
	}
	if dec.More() {
		return badRequest("the request body holds more than one JSON value")
	}
	return nil
}

// namespace is the request's namespace: "*" for all, default otherwise.
func namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return api.DefaultNamespace
}

// allNamespaces is the store's way of saying "*".
func nsFilter(ns string) string {
	if ns == "*" {
		return ""
	}
	return ns
}
