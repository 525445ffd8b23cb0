// Package client is a Go client of nomadic's HTTP API, used by nctl and the
// end-to-end tests.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// DefaultAddr is where a dev agent serves its API.
const DefaultAddr = "http://127.0.0.1:4646"

// Client talks to one nomadic server.
type Client struct {
	addr      string
	http      *http.Client
	token     string
	transport http.RoundTripper
	err       error
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends a bearer token with every request (servers started with
// -http-token-file require one).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithTLSFiles trusts a CA and presents a client certificate on https
// addresses; empty names are left out.
func WithTLSFiles(caFile, certFile, keyFile string) Option {
	return func(c *Client) {
		if caFile == "" && certFile == "" {
			return
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				c.err = fmt.Errorf("reading CA certificate: %w", err)
				return
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				c.err = fmt.Errorf("%s holds no PEM certificate", caFile)
				return
			}
			tc.RootCAs = pool
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				c.err = fmt.Errorf("loading client certificate: %w", err)
				return
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		c.transport = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}
	}
}

// New returns a client of the server at addr ("http://host:port" or
// "host:port").
func New(addr string, opts ...Option) *Client {
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	c := &Client{addr: strings.TrimRight(addr, "/")}
	for _, o := range opts {
		o(c)
	}
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: c.transport}
	return c
}

// HTTP returns the client's HTTP client (its TLS settings, a 30 s
// timeout) for requests the Client has no method for, or the error its
// options left.
func (c *Client) HTTP() (*http.Client, error) { return c.http, c.err }

// streaming is an HTTP client without an overall timeout, for blocking
// queries and followed logs.
func (c *Client) streaming() *http.Client { return &http.Client{Transport: c.transport} }

func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// reachError explains a failed request: the usual TLS mistakes in words,
// anything else as an unreachable server.
func (c *Client) reachError(err error) error {
	msg := err.Error()
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("the server at %s speaks plain HTTP: use an http:// address", c.addr)
	case strings.HasPrefix(c.addr, "http://") && (strings.Contains(msg, "malformed HTTP response") || strings.Contains(msg, "EOF")):
		return fmt.Errorf("the server at %s did not answer plain HTTP; if it serves TLS use https:// (and --ca-cert): %w", c.addr, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("the certificate of %s is not signed by a CA nctl trusts: pass --ca-cert (or the context's ca-cert): %w", c.addr, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("the certificate of %s is not valid for that address: %w", c.addr, err)
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate"):
		return fmt.Errorf("the server at %s requires a client certificate it trusts: pass --client-cert and --client-key: %w", c.addr, err)
	}
	return fmt.Errorf("cannot reach the nomadic server at %s (is an agent running? set --addr or NCTL_ADDR): %w", c.addr, err)
}

// Addr returns the server address.
func (c *Client) Addr() string { return c.addr }

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	_, err := c.doIndexed(ctx, method, path, query, body, out)
	return err
}

// doIndexed is do that also returns the index (etcd revision) the answer
// was read at, for blocking queries.
func (c *Client) doIndexed(ctx context.Context, method, path string, query url.Values, body, out any) (int64, error) {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		payload = b
	}
	u := c.addr + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	if c.err != nil {
		return 0, c.err
	}
	hc := c.http
	if query.Get("index") != "" {
		hc = c.streaming() // a blocking query may wait minutes
	}
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return 0, err
		}
		c.authorize(req)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err = hc.Do(req)
		if err != nil {
			return 0, c.reachError(err)
		}
		// Over the server's request rate (429): wait as it asks, as
		// client-go does, a few times.
		wait, again := retryAfter(resp)
		if !again || attempt == maxRateRetries {
			break
		}
		resp.Body.Close()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("reading answer from %s: %w", c.addr, err)
	}
	index, _ := strconv.ParseInt(resp.Header.Get("X-Nomadic-Index"), 10, 64)
	if resp.StatusCode >= 300 {
		var e api.ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return 0, &APIError{Status: resp.StatusCode, Message: e.Error}
		}
		if bytes.Contains(data, []byte("HTTP request to an HTTPS server")) {
			return 0, &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("the server at %s serves HTTPS: use an https:// address (and --ca-cert if its CA is private)", c.addr)}
		}
		return 0, &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("decoding answer of %s %s: %w", method, path, err)
		}
	}
	return index, nil
}

func nsQuery(ns string) url.Values {
	q := url.Values{}
	if ns != "" {
		q.Set("namespace", ns)
	}
	return q
}

// Health checks that the server and its etcd answer.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v1/agent/health", nil, nil, nil)
}

// RegisterJob submits a job.
func (c *Client) RegisterJob(ctx context.Context, job *api.Job) (*api.RegisterResponse, error) {
	return c.RegisterJobFrom(ctx, job, nil)
}

// RegisterJobFrom is RegisterJob with the job file the job was read from,
// which the servers keep with the version it registers (nil: none).
func (c *Client) RegisterJobFrom(ctx context.Context, job *api.Job, sub *api.JobSubmission) (*api.RegisterResponse, error) {
	body := map[string]any{"job": job}
	if sub != nil {
		body["submission"] = sub
	}
	var out api.RegisterResponse
	err := c.do(ctx, http.MethodPut, "/v1/jobs", nil, body, &out)
	var ae *APIError
	if sub != nil && errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, `unknown field "submission"`) {
		// A server from before sources were kept: the job alone.
		out = api.RegisterResponse{}
		err = c.do(ctx, http.MethodPut, "/v1/jobs", nil, map[string]any{"job": job}, &out)
	}
	return &out, err
}

// JobSubmission reads the job file a version of a job was registered
// from (the current version when version is negative).
func (c *Client) JobSubmission(ctx context.Context, ns, id string, version int64) (*api.JobSource, error) {
	q := nsQuery(ns)
	if version >= 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	var out api.JobSource
	return &out, c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(id)+"/submission", q, nil, &out)
}

// StopJob stops a job, and with purge deletes it.
func (c *Client) StopJob(ctx context.Context, ns, id string, purge bool) (string, error) {
	q := nsQuery(ns)
	if purge {
		q.Set("purge", "true")
	}
	var out struct {
		EvalID string `json:"eval_id"`
	}
	err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(id), q, nil, &out)
	return out.EvalID, err
}

// Jobs lists jobs (all namespaces when ns is empty).
func (c *Client) Jobs(ctx context.Context, ns string) ([]*api.Job, error) {
	var out []*api.Job
	return out, c.do(ctx, http.MethodGet, "/v1/jobs", nsQuery(ns), nil, &out)
}

// Job reads one job.
func (c *Client) Job(ctx context.Context, ns, id string) (*api.Job, error) {
	var out api.Job
	return &out, c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(id), nsQuery(ns), nil, &out)
}

// AllocFilter selects allocations.
type AllocFilter struct {
	Namespace, Job, Node, Status string
}

// Allocs lists allocations.
func (c *Client) Allocs(ctx context.Context, f AllocFilter) ([]*api.Allocation, error) {
	q := nsQuery(f.Namespace)
	for k, v := range map[string]string{"job": f.Job, "node": f.Node, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []*api.Allocation
	return out, c.do(ctx, http.MethodGet, "/v1/allocations", q, nil, &out)
}

// Alloc reads one allocation by ID or unique ID prefix.
func (c *Client) Alloc(ctx context.Context, id string) (*api.Allocation, error) {
	var out api.Allocation
	return &out, c.do(ctx, http.MethodGet, "/v1/allocation/"+url.PathEscape(id), nil, nil, &out)
}

// Nodes lists nodes.
func (c *Client) Nodes(ctx context.Context) ([]*api.Node, error) {
	var out []*api.Node
	return out, c.do(ctx, http.MethodGet, "/v1/nodes", nil, nil, &out)
}

// Node reads one node by ID, ID prefix or name.
func (c *Client) Node(ctx context.Context, id string) (*api.Node, error) {
	var out api.Node
	return &out, c.do(ctx, http.MethodGet, "/v1/node/"+url.PathEscape(id), nil, nil, &out)
}

// Evals lists evaluations, of one job when job is set.
func (c *Client) Evals(ctx context.Context, ns, job string) ([]*api.Evaluation, error) {
	q := nsQuery(ns)
	if job != "" {
		q.Set("job", job)
	}
	var out []*api.Evaluation
	return out, c.do(ctx, http.MethodGet, "/v1/evaluations", q, nil, &out)
}

// Eval reads one evaluation by ID or unique ID prefix.
func (c *Client) Eval(ctx context.Context, id string) (*api.Evaluation, error) {
	var out api.Evaluation
	return &out, c.do(ctx, http.MethodGet, "/v1/evaluation/"+url.PathEscape(id), nil, nil, &out)
}

// Servers lists the live servers.
func (c *Client) Servers(ctx context.Context) ([]*api.Server, error) {
	var out []*api.Server
	return out, c.do(ctx, http.MethodGet, "/v1/servers", nil, nil, &out)
}

// PlanJob runs the scheduler on a job without submitting it.
func (c *Client) PlanJob(ctx context.Context, job *api.Job) (*api.PlanResponse, error) {
	var out api.PlanResponse
	err := c.do(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(job.ID)+"/plan", nil, map[string]any{"job": job}, &out)
	return &out, err
}

// GetSchedulerConfig reads the scheduler configuration.
func (c *Client) GetSchedulerConfig(ctx context.Context) (*api.SchedulerConfig, error) {
	var out api.SchedulerConfig
	return &out, c.do(ctx, http.MethodGet, "/v1/operator/scheduler/configuration", nil, nil, &out)
}

// SetSchedulerConfig writes the scheduler configuration.
func (c *Client) SetSchedulerConfig(ctx context.Context, cfg *api.SchedulerConfig) error {
	return c.do(ctx, http.MethodPut, "/v1/operator/scheduler/configuration", nil, cfg, nil)
}

// Logs streams a task's log; the caller closes it. With follow the stream
// goes on as the task writes.
func (c *Client) Logs(ctx context.Context, alloc, task string, stderr, follow bool, tailBytes int64) (io.ReadCloser, error) {
	q := url.Values{}
	if task != "" {
		q.Set("task", task)
	}
	if stderr {
		q.Set("type", "stderr")
	}
	if follow {
		q.Set("follow", "true")
	}
	if tailBytes > 0 {
		q.Set("tail_bytes", fmt.Sprint(tailBytes))
	}
	return c.stream(ctx, "/v1/client/fs/logs/"+url.PathEscape(alloc), q)
}

// Snapshot streams a snapshot of the cluster's etcd, and the SHA-256
// (hex) the server computed of it, for the caller to check and close.
func (c *Client) Snapshot(ctx context.Context) (io.ReadCloser, string, error) {
	resp, err := c.streamResponse(ctx, "/v1/operator/snapshot", nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get("X-Nomadic-Snapshot-SHA256"), nil
}

// stream GETs path and hands its body over as it comes, for the caller to
// close: no overall timeout, a followed log lasts as long as the caller
// wants.
func (c *Client) stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	resp, err := c.streamResponse(ctx, path, q)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// streamResponse is stream's answer, headers and all.
func (c *Client) streamResponse(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.addr+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	c.authorize(req)
	resp, err := c.streaming().Do(req)
	if err != nil {
		return nil, c.reachError(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e api.ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
		}
		return nil, &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	}
	return resp, nil
}

// SetNodeEligibility marks a node eligible or not for new allocations.
func (c *Client) SetNodeEligibility(ctx context.Context, node string, eligible bool) (*api.Node, error) {
	var out api.Node
	return &out, c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(node)+"/eligibility", nil, map[string]any{"eligible": eligible}, &out)
}

// DrainRequest starts or stops a node drain.
type DrainRequest struct {
	Enable           bool         `json:"enable"`
	Deadline         api.Duration `json:"deadline,omitempty"`
	IgnoreSystemJobs bool         `json:"ignore_system_jobs,omitempty"`
	KeepIneligible   bool         `json:"keep_ineligible,omitempty"`
}

// DrainNode starts or stops draining a node.
func (c *Client) DrainNode(ctx context.Context, node string, req *DrainRequest) (*api.Node, error) {
	var out api.Node
	return &out, c.do(ctx, http.MethodPut, "/v1/node/"+url.PathEscape(node)+"/drain", nil, req, &out)
}

// PurgeNode removes a down node for good; its jobs are evaluated so that
// its allocations are replaced.
func (c *Client) PurgeNode(ctx context.Context, node string) (*api.NodePurgeResponse, error) {
	var out api.NodePurgeResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/node/"+url.PathEscape(node)+"/purge", nil, nil, &out)
}

// Watch reads a list or object path as a blocking query: it answers once
// something changed after index (0: at once), with the new index.
func (c *Client) Watch(ctx context.Context, path string, query url.Values, index int64, wait time.Duration, out any) (int64, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if index > 0 {
		q.Set("index", strconv.FormatInt(index, 10))
		q.Set("wait", wait.String())
	}
	return c.doIndexed(ctx, http.MethodGet, path, q, nil, out)
}

// StopAlloc stops an allocation; the scheduler replaces it if its job
// wants one.
func (c *Client) StopAlloc(ctx context.Context, id string) (*api.Allocation, error) {
	var out api.Allocation
	return &out, c.do(ctx, http.MethodPost, "/v1/allocation/"+url.PathEscape(id)+"/stop", nil, nil, &out)
}

// RestartAlloc restarts an allocation's tasks in place (one task when
// task is set).
func (c *Client) RestartAlloc(ctx context.Context, id, task string) (*api.Allocation, error) {
	var out api.Allocation
	return &out, c.do(ctx, http.MethodPost, "/v1/allocation/"+url.PathEscape(id)+"/restart", nil, map[string]string{"task": task}, &out)
}

// SignalAlloc sends a signal to an allocation's tasks (one task when task
// is set).
func (c *Client) SignalAlloc(ctx context.Context, id, task, signal string) (*api.Allocation, error) {
	var out api.Allocation
	return &out, c.do(ctx, http.MethodPost, "/v1/allocation/"+url.PathEscape(id)+"/signal", nil, map[string]string{"task": task, "signal": signal}, &out)
}

// JobVersions lists the kept versions of a job, oldest first.
func (c *Client) JobVersions(ctx context.Context, ns, id string) ([]*api.Job, error) {
	var out []*api.Job
	return out, c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(id)+"/versions", nsQuery(ns), nil, &out)
}

// RevertJob submits an earlier version of a job again.
func (c *Client) RevertJob(ctx context.Context, ns, id string, version uint64) (*api.RegisterResponse, error) {
	var out api.RegisterResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(id)+"/revert", nsQuery(ns), map[string]uint64{"version": version}, &out)
}

// ForceLeave removes a dead server's membership and, if it ran an
// embedded etcd member, that member.
func (c *Client) ForceLeave(ctx context.Context, name string) (*api.ForceLeaveResult, error) {
	var out api.ForceLeaveResult
	return &out, c.do(ctx, http.MethodDelete, "/v1/server/"+url.PathEscape(name), nil, nil, &out)
}

// ListAllocDir lists a directory of an allocation ("" or "/" for its
// root).
func (c *Client) ListAllocDir(ctx context.Context, alloc, path string) ([]api.FileInfo, error) {
	var out []api.FileInfo
	q := url.Values{}
	q.Set("path", path)
	return out, c.do(ctx, http.MethodGet, "/v1/client/fs/ls/"+url.PathEscape(alloc), q, nil, &out)
}

// StatAllocFile describes a file or directory of an allocation.
func (c *Client) StatAllocFile(ctx context.Context, alloc, path string) (*api.FileInfo, error) {
	var out api.FileInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/client/fs/stat/"+url.PathEscape(alloc), url.Values{"path": {path}}, nil, &out)
}

// AllocUsage reads what an allocation's running tasks use, as its node
// measures it.
func (c *Client) AllocUsage(ctx context.Context, alloc string) (*api.AllocUsage, error) {
	var out api.AllocUsage
	return &out, c.do(ctx, http.MethodGet, "/v1/client/allocation/"+url.PathEscape(alloc)+"/stats", nil, nil, &out)
}

// CatAllocFile reads a file of an allocation; the caller closes it.
func (c *Client) CatAllocFile(ctx context.Context, alloc, path string) (io.ReadCloser, error) {
	return c.stream(ctx, "/v1/client/fs/cat/"+url.PathEscape(alloc), url.Values{"path": {path}})
}

// DispatchJob launches a parameterized job; it returns the child job's ID
// and its evaluation.
func (c *Client) DispatchJob(ctx context.Context, ns, id string, payload []byte, meta map[string]string) (string, string, error) {
	var out struct {
		JobID  string `json:"job_id"`
		EvalID string `json:"eval_id"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(id)+"/dispatch", nsQuery(ns), map[string]any{"payload": payload, "meta": meta}, &out)
	return out.JobID, out.EvalID, err
}

// Services lists the services of the catalog.
func (c *Client) Services(ctx context.Context, ns string) ([]*api.ServiceSummary, error) {
	var out []*api.ServiceSummary
	return out, c.do(ctx, http.MethodGet, "/v1/services", nsQuery(ns), nil, &out)
}

// Service lists the instances of a service, only the healthy ones when
// healthy is set.
func (c *Client) Service(ctx context.Context, ns, name string, healthy bool) ([]*api.ServiceRegistration, error) {
	q := nsQuery(ns)
	if healthy {
		q.Set("healthy", "true")
	}
	var out []*api.ServiceRegistration
	return out, c.do(ctx, http.MethodGet, "/v1/service/"+url.PathEscape(name), q, nil, &out)
}

// Deployments lists deployments, newest first: of one job when job is
// set, of a namespace (all when empty) otherwise.
func (c *Client) Deployments(ctx context.Context, ns, job string) ([]*api.Deployment, error) {
	var out []*api.Deployment
	path := "/v1/deployments"
	if job != "" {
		path = "/v1/job/" + url.PathEscape(job) + "/deployments"
	}
	return out, c.do(ctx, http.MethodGet, path, nsQuery(ns), nil, &out)
}

// Deployment reads one deployment by ID or unique ID prefix.
func (c *Client) Deployment(ctx context.Context, id string) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.do(ctx, http.MethodGet, "/v1/deployment/"+url.PathEscape(id), nil, nil, &out)
}

// LatestDeployment reads a job's newest deployment.
func (c *Client) LatestDeployment(ctx context.Context, ns, job string) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(job)+"/deployment", nsQuery(ns), nil, &out)
}

// DeploymentAction promotes, pauses, resumes or fails a deployment.
func (c *Client) DeploymentAction(ctx context.Context, id, action string) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.do(ctx, http.MethodPost, "/v1/deployment/"+url.PathEscape(id)+"/"+action, nil, nil, &out)
}

// SetAllocHealth judges allocations of a deployment whose health_check is
// manual.
func (c *Client) SetAllocHealth(ctx context.Context, id string, req *api.AllocHealthRequest) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.do(ctx, http.MethodPost, "/v1/deployment/"+url.PathEscape(id)+"/allocation-health", nil, req, &out)
}

// maxRateRetries bounds the attempts of a request the server answers 429.
const maxRateRetries = 5

// retryAfter says whether an answer asks to try again later (429) and
// after how long: its Retry-After, between 100 ms and 10 s (1 s without).
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	wait := time.Second
	if secs, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil {
		wait = time.Duration(secs * float64(time.Second))
	}
	return min(max(wait, 100*time.Millisecond), 10*time.Second), true
}

// Namespaces lists every namespace: created by operators, used by jobs,
// and default.
func (c *Client) Namespaces(ctx context.Context) ([]*api.Namespace, error) {
	var out []*api.Namespace
	return out, c.do(ctx, http.MethodGet, "/v1/namespaces", nil, nil, &out)
}

// Namespace reads one namespace.
func (c *Client) Namespace(ctx context.Context, name string) (*api.Namespace, error) {
	var out api.Namespace
	return &out, c.do(ctx, http.MethodGet, "/v1/namespace/"+url.PathEscape(name), nil, nil, &out)
}

// PutNamespace creates or updates a namespace (needs a management token
// when ACLs are on).
func (c *Client) PutNamespace(ctx context.Context, n *api.Namespace) (*api.Namespace, error) {
	var out api.Namespace
	return &out, c.do(ctx, http.MethodPut, "/v1/namespace/"+url.PathEscape(n.Name), nil, n, &out)
}

// DeleteNamespace removes a namespace an operator created; one with jobs
// is refused.
func (c *Client) DeleteNamespace(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/namespace/"+url.PathEscape(name), nil, nil, nil)
}
