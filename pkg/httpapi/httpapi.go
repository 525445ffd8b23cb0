// Package httpapi serves nomadic's HTTP API (/v1, JSON). Every server runs
// it; it reads and writes etcd through the store and holds no state.
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/deploy"
	"github.com/nomadic-project/nomadic/pkg/jobs"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/ui"
	"github.com/nomadic-project/nomadic/pkg/variables"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxBodyBytes bounds a request body; etcd takes at most 1.5 MiB a request.
const maxBodyBytes = 1 << 20

// Server is the HTTP API of one nomadic server.
type Server struct {
	Store   *store.Store
	Name    string
	Version string
	Now     func() time.Time
	// Gate bounds bodies, limits rates and checks ACLs (nil: no ACLs, no
	// rate limit).
	Gate *access.Gate
	// ACL serves the ACL endpoints (nil: ACLs are off and they answer
	// 400).
	ACL *access.Service
	// RequestTimeout bounds the etcd work of each request (default
	// DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Vars serves variables (nil: the server has no keyring, and the
	// variable endpoints answer 501).
	Vars *variables.Service
	// NodeTLS is what the server calls node agents that serve over
	// mutual TLS with (its client certificate and the node CA).
	NodeTLS *tls.Config
	// SnapshotDir is where GET /v1/operator/snapshot spools etcd's
	// snapshot ("": the system's temporary directory).
	SnapshotDir string
	// Secured says the API authenticates every request (-acl, or
	// -http-token-file), and EmbeddedEtcd that etcd is this server's own:
	// snapshots, which hold all of etcd, are served only with either.
	Secured, EmbeddedEtcd bool
	// Stopping, closed when the server begins to shut down, ends event
	// streams cleanly and answers blocking queries at once (nil: never).
	Stopping <-chan struct{}
}

// The key kinds each blocking query waits on.
var (
	jobKinds   = []store.Kind{store.KindJobs, store.KindAllocs, store.KindAllocStatus, store.KindEvals}
	allocKinds = []store.Kind{store.KindAllocs, store.KindAllocStatus}
	nodeKinds  = []store.Kind{store.KindNodes, store.KindHeartbeats, store.KindNodeAdmin}
	evalKinds  = []store.Kind{store.KindEvals}
)

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	mux := s.routes()
	timeout := s.RequestTimeout
	guarded := mux.Serve(s.Gate, func(w http.ResponseWriter, code int, msg string) {
		writeError(w, code, errors.New(msg))
	})
	return logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guarded.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), timeoutKey{}, timeout)))
	}))
}

// routes registers every route of the API, each with its rule in
// access.NativeRules.
func (s *Server) routes() *access.Mux {
	mux := access.NewMux(access.NativeRules)
	mux.HandleFunc("GET /v1/agent/health", s.health)
	mux.HandleFunc("GET /v1/agent/self", s.self)
	mux.HandleFunc("GET /v1/jobs", s.blocking(jobKinds, s.listJobs))
	mux.HandleFunc("PUT /v1/jobs", s.registerJob)
	mux.HandleFunc("POST /v1/jobs", s.registerJob)
	mux.HandleFunc("GET /v1/job/{id}", s.blocking(jobKinds, s.getJob))
	mux.HandleFunc("POST /v1/job/{id}/plan", s.planJob)
	mux.HandleFunc("GET /v1/job/{id}/versions", s.blocking([]store.Kind{store.KindJobs, store.KindJobVersions}, s.jobVersions))
	mux.HandleFunc("GET /v1/job/{id}/submission", s.blocking([]store.Kind{store.KindJobs, store.KindJobSources}, s.jobSubmission))
	mux.HandleFunc("POST /v1/job/{id}/revert", s.revertJob)
	mux.HandleFunc("POST /v1/job/{id}/dispatch", s.dispatchJob)
	mux.HandleFunc("POST /v1/job/{id}/scale", s.scaleJob)
	mux.HandleFunc("DELETE /v1/server/{name}", s.forceLeave)
	mux.HandleFunc("GET /v1/operator/scheduler/configuration", s.getSchedulerConfig)
	mux.HandleFunc("PUT /v1/operator/scheduler/configuration", s.putSchedulerConfig)
	mux.HandleFunc("GET /v1/operator/snapshot", s.snapshot)
	mux.HandleFunc("DELETE /v1/job/{id}", s.stopJob)
	mux.HandleFunc("GET /v1/job/{id}/allocations", s.blocking(allocKinds, s.jobAllocs))
	mux.HandleFunc("GET /v1/job/{id}/evaluations", s.blocking(evalKinds, s.jobEvals))
	mux.HandleFunc("GET /v1/allocations", s.blocking(allocKinds, s.listAllocs))
	mux.HandleFunc("GET /v1/allocation/{id}", s.blocking(allocKinds, s.getAlloc))
	mux.HandleFunc("GET /v1/client/fs/logs/{alloc}", s.allocLogs)
	mux.HandleFunc("GET /v1/client/fs/ls/{alloc}", s.allocFile("/v1/client/ls/"))
	mux.HandleFunc("GET /v1/client/allocation/{id}/exec", s.allocExec)
	mux.HandleFunc("GET /v1/client/allocation/{alloc}/stats", s.allocFile("/v1/client/usage/"))
	mux.HandleFunc("GET /v1/client/fs/stat/{alloc}", s.allocFile("/v1/client/stat/"))
	mux.HandleFunc("GET /v1/client/fs/cat/{alloc}", s.allocFile("/v1/client/cat/"))
	mux.HandleFunc("POST /v1/allocation/{id}/stop", s.allocStop)
	mux.HandleFunc("POST /v1/allocation/{id}/restart", s.allocRequest("restart"))
	mux.HandleFunc("POST /v1/allocation/{id}/signal", s.allocRequest("signal"))
	mux.HandleFunc("GET /v1/nodes", s.blocking(nodeKinds, s.listNodes))
	mux.HandleFunc("GET /v1/node/{id}", s.blocking(nodeKinds, s.getNode))
	mux.HandleFunc("PUT /v1/node/{id}/eligibility", s.nodeEligibility)
	mux.HandleFunc("PUT /v1/node/{id}/drain", s.nodeDrain)
	mux.HandleFunc("POST /v1/node/{id}/purge", s.nodePurge)
	mux.HandleFunc("PUT /v1/node/{id}/purge", s.nodePurge)
	mux.HandleFunc("GET /v1/evaluations", s.blocking(evalKinds, s.listEvals))
	mux.HandleFunc("GET /v1/evaluation/{id}", s.blocking(evalKinds, s.getEval))
	mux.HandleFunc("GET /v1/servers", s.blocking([]store.Kind{store.KindServers, store.KindElection}, s.listServers))
	mux.HandleFunc("GET /v1/event/stream", s.eventStream)
	mux.HandleFunc("GET /v1/services", s.blocking([]store.Kind{store.KindServices}, s.listServices))
	mux.HandleFunc("GET /v1/service/{name}", s.blocking([]store.Kind{store.KindServices}, s.getService))
	mux.HandleFunc("GET /v1/namespaces", s.blocking(namespaceKinds, s.listNamespaces))
	mux.HandleFunc("GET /v1/namespace/{name}", s.blocking(namespaceKinds, s.getNamespace))
	mux.HandleFunc("PUT /v1/namespace/{name}", s.putNamespace)
	mux.HandleFunc("POST /v1/namespace/{name}", s.putNamespace)
	mux.HandleFunc("DELETE /v1/namespace/{name}", s.deleteNamespace)
	mux.HandleFunc("GET /v1/deployments", s.blocking(deployKinds, s.listDeployments))
	mux.HandleFunc("GET /v1/deployment/{id}", s.blocking(deployKinds, s.getDeployment))
	mux.HandleFunc("GET /v1/job/{id}/deployments", s.blocking(deployKinds, s.listDeployments))
	// Rollouts follow this one: it also wakes when the job's evaluation
	// ends blocked.
	mux.HandleFunc("GET /v1/job/{id}/deployment", s.blocking(append([]store.Kind{store.KindEvals}, deployKinds...), s.latestDeployment))
	for _, action := range []string{deploy.ActionPromote, deploy.ActionPause, deploy.ActionResume, deploy.ActionFail} {
		mux.HandleFunc("POST /v1/deployment/{id}/"+action, s.deploymentAction(action))
	}
	mux.HandleFunc("POST /v1/deployment/{id}/allocation-health", s.allocHealth)
	s.varsRoutes(mux)
	s.aclRoutes(mux)
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.Handle("GET "+ui.Prefix, ui.Handler())
	mux.HandleFunc("GET /{$}", redirectToUI)
	mux.HandleFunc("GET /v1/ui/snapshot", s.uiSnapshot)
	mux.HandleFunc("POST /v1/jobs/parse", s.parseJob)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				slog.Error("panic serving request", "path", r.URL.Path, "panic", p)
				writeError(w, http.StatusInternalServerError, errors.New("internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, api.ErrorResponse{Error: err.Error()})
}

// storeError maps a store error to an HTTP answer.
func storeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("%s not found", what))
	case errors.Is(err, store.ErrAmbiguous):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("etcd did not answer in time: %w", err))
	case store.TooLarge(err):
		writeError(w, http.StatusRequestEntityTooLarge, err)
	case store.NoSpace(err):
		writeError(w, http.StatusInsufficientStorage, fmt.Errorf("etcd's database is full (its NOSPACE alarm is raised): nothing can be written until an operator compacts and defragments etcd and disarms the alarm (docs/operations.md): %w", err))
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}

func namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return api.DefaultNamespace
}

// listNamespace is the namespace a list asks for: "" (and "*", as in
// Nomad's API) for all.
func listNamespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "*" {
		return ns
	}
	return ""
}

// DefaultRequestTimeout bounds the etcd work of one API request when the
// server sets no RequestTimeout.
const DefaultRequestTimeout = 15 * time.Second

type timeoutKey struct{}

// reqCtx bounds the etcd work of a request by the server's request
// timeout, so that a hung etcd is answered with a 503 rather than waited
// on forever.
func reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	d, _ := r.Context().Value(timeoutKey{}).(time.Duration)
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return context.WithTimeout(r.Context(), d)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Store.Health(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("etcd is unreachable: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "server": s.Name})
}

func (s *Server) self(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": s.Name, "version": s.Version})
}

func (s *Server) registerJob(w http.ResponseWriter, r *http.Request) {
	job, sub, ok := s.readSubmittedJob(w, r)
	if !ok {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	src, srcWarning := variables.KeepJobSource(s.Vars, job.Namespace, job.ID, sub)
	resp, err := s.Store.RegisterJobFrom(ctx, job, s.Now().UTC(), -1, src)
	if err != nil {
		storeError(w, "job", err)
		return
	}
	resp.Warnings = append(job.Warnings(), resp.Warnings...)
	if srcWarning != "" {
		resp.Warnings = append(resp.Warnings, srcWarning)
	}
	writeJSON(w, http.StatusOK, resp)
}

// withStatus computes a job's status from its allocations and
// evaluations (jobs.Status).
func (s *Server) withStatus(ctx context.Context, j *api.Job) error {
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: j.Namespace, JobID: j.ID})
	if err != nil {
		return err
	}
	evals, err := s.Store.ListEvals(ctx, j.Namespace, j.ID)
	if err != nil {
		return err
	}
	j.Status = jobs.Status(j, allocs, evals)
	return nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	list, err := s.Store.ListJobs(ctx, listNamespace(r))
	if err != nil {
		storeError(w, "jobs", err)
		return
	}
	for _, j := range list {
		if err := s.withStatus(ctx, j); err != nil {
			storeError(w, "jobs", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	j, _, err := s.Store.GetJob(ctx, namespace(r), id)
	if err != nil {
		storeError(w, fmt.Sprintf("job %q", id), err)
		return
	}
	if err := s.withStatus(ctx, j); err != nil {
		storeError(w, "job", err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) stopJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	purge := r.URL.Query().Get("purge") == "true"
	evalID, err := s.Store.StopJob(ctx, namespace(r), id, purge, s.Now().UTC())
	if err != nil {
		storeError(w, fmt.Sprintf("job %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"job_id": id, "eval_id": evalID, "purged": purge})
}

func (s *Server) jobAllocs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: namespace(r), JobID: r.PathValue("id")})
	if err != nil {
		storeError(w, "allocations", err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(allocs))
}

func (s *Server) jobEvals(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	evals, err := s.Store.ListEvals(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		storeError(w, "evaluations", err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(evals))
}

func (s *Server) listAllocs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	q := r.URL.Query()
	f := store.AllocFilter{Namespace: listNamespace(r), JobID: q.Get("job"), NodeID: q.Get("node")}
	if f.JobID != "" && f.Namespace == "" {
		f.Namespace = api.DefaultNamespace
	}
	if f.NodeID != "" {
		n, err := s.Store.GetNode(ctx, f.NodeID)
		if err != nil {
			storeError(w, fmt.Sprintf("node %q", f.NodeID), err)
			return
		}
		f.NodeID = n.ID
	}
	allocs, err := s.Store.ListAllocs(ctx, f)
	if err != nil {
		storeError(w, "allocations", err)
		return
	}
	if st := q.Get("status"); st != "" {
		out := allocs[:0]
		for _, a := range allocs {
			if a.ClientStatusOf() == st {
				out = append(out, a)
			}
		}
		allocs = out
	}
	writeJSON(w, http.StatusOK, nonNil(allocs))
}

func (s *Server) getAlloc(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	a, err := s.Store.GetAlloc(ctx, id)
	if err != nil {
		storeError(w, fmt.Sprintf("allocation %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	nodes, err := s.Store.ListNodes(ctx)
	if err != nil {
		storeError(w, "nodes", err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(nodes))
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	n, err := s.Store.GetNode(ctx, id)
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) listEvals(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	job := r.URL.Query().Get("job")
	ns := ""
	if job != "" {
		ns = namespace(r)
	}
	evals, err := s.Store.ListEvals(ctx, ns, job)
	if err != nil {
		storeError(w, "evaluations", err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(evals))
}

func (s *Server) getEval(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	e, err := s.Store.GetEval(ctx, id)
	if err != nil {
		storeError(w, fmt.Sprintf("evaluation %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		storeError(w, "servers", err)
		return
	}
	leader, err := s.Store.ElectionLeader(ctx)
	if err != nil {
		storeError(w, "servers", err)
		return
	}
	for _, srv := range servers {
		srv.Leader = srv.Name == leader
	}
	writeJSON(w, http.StatusOK, nonNil(servers))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
