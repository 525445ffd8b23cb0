package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// allocFile proxies a request about an allocation (its files: ls, stat,
// cat; its usage) to the node agent that has it; a task's secrets
// directory is not read.
func (s *Server) allocFile(nodePath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := reqCtx(r)
		defer cancel()
		a, err := s.Store.GetAlloc(ctx, r.PathValue("alloc"))
		if err != nil {
			storeError(w, fmt.Sprintf("allocation %q", r.PathValue("alloc")), err)
			return
		}
		s.proxyToNode(w, r, a.NodeID, nodePath+url.PathEscape(a.ID), url.Values{"path": {r.URL.Query().Get("path")}})
	}
}

// allocLogs streams a task's logs from the node that runs it: the API
// finds the allocation's node and proxies to the node agent, so logs work
// from anywhere the API is reachable.
func (s *Server) allocLogs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	// The lookups are bounded; the stream itself lives as long as the
	// client's request.
	id := r.PathValue("alloc")
	a, err := s.Store.GetAlloc(ctx, id)
	if err != nil {
		storeError(w, fmt.Sprintf("allocation %q", id), err)
		return
	}
	q := r.URL.Query()
	task := q.Get("task")
	if task == "" {
		var tasks []string
		if a.Status != nil {
			for name := range a.Status.Tasks {
				tasks = append(tasks, name)
			}
		}
		sort.Strings(tasks)
		if len(tasks) != 1 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("allocation %s has tasks %s: name one", a.ID[:8], strings.Join(tasks, ", ")))
			return
		}
		task = tasks[0]
	}
	s.proxyToNode(w, r, a.NodeID, "/v1/client/logs/"+url.PathEscape(a.ID)+"/"+url.PathEscape(task), q)
}

// proxyToNode forwards a request to the agent of a node, streaming its
// answer back.
func (s *Server) proxyToNode(w http.ResponseWriter, r *http.Request, nodeID, path string, q url.Values) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	node, err := s.Store.GetNode(ctx, nodeID)
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", nodeID), err)
		return
	}
	if node.HTTPAddr == "" {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("node %s does not serve files", node.Name))
		return
	}
	target := &url.URL{Scheme: "http", Host: node.HTTPAddr}
	var transport http.RoundTripper
	if node.HTTPTLS {
		// One connection per request: log requests are few and long.
		if s.NodeTLS == nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("node %s serves over mutual TLS and this server has no node CA (-node-ca-cert)", node.Name))
			return
		}
		target.Scheme = "https"
		tr := &http.Transport{TLSClientConfig: nodes.ForNode(s.NodeTLS, node.ID), ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		transport = tr
	}
	proxy := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = path
			pr.Out.URL.RawQuery = q.Encode()
		},
		FlushInterval: 100 * time.Millisecond,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, http.StatusBadGateway, fmt.Errorf("node %s (%s) did not answer: %w", node.Name, node.HTTPAddr, err))
		},
	}
	proxy.ServeHTTP(w, r)
}
