package nomadapi

import (
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// allocExec is `nomad alloc exec`: a websocket to the node agent that
// runs the allocation, through this server, which checks the request
// (alloc-exec on the allocation's namespace; alloc-node-exec too for a
// raw_exec task, whose commands run on the node itself, as in Nomad) and
// then carries the session's frames both ways unchanged.
func (s *Server) allocExec(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	a, err := s.findAlloc(ctx, r.PathValue("id"))
	if err != nil {
		cancel()
		return err
	}
	job, jerr := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
	node, nerr := s.Store.GetNode(ctx, a.NodeID)
	cancel()
	if jerr != nil {
		return jerr
	}
	if nerr != nil {
		return nerr
	}
	q := r.URL.Query()
	task, code, msg := nodes.ExecTarget(job, a, q, allowedBy(r))
	if code != 0 {
		return &httpError{code: code, msg: msg}
	}
	proxy, err := nodes.ExecProxy(node, s.NodeTLS, a.ID, task, q, func(w http.ResponseWriter, code int, msg string) {
		writeErr(w, &httpError{code: code, msg: msg})
	})
	if err != nil {
		return &httpError{code: http.StatusServiceUnavailable, msg: err.Error()}
	}
	proxy.ServeHTTP(w, r)
	return nil
}

// allowedBy is what the request's token may do (nil without ACLs).
func allowedBy(r *http.Request) func(ns, capability string) bool {
	id := access.FromContext(r.Context())
	if id == nil || id.ACL == nil {
		return nil
	}
	return id.ACL.AllowNamespaceOp
}
