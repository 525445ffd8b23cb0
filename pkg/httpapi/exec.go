package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// allocExec is nctl alloc exec (and Nomad's exec protocol on the native
// API): the server checks the request, then carries the websocket to the
// node agent that runs the allocation (pkg/nodes.ExecProxy).
func (s *Server) allocExec(w http.ResponseWriter, r *http.Request) {
	if why := nodes.CrossOrigin(r); why != "" {
		writeError(w, http.StatusForbidden, errors.New(why))
		return
	}
	ctx, cancel := reqCtx(r)
	a, err := s.Store.GetAlloc(ctx, r.PathValue("id"))
	if err != nil {
		cancel()
		storeError(w, fmt.Sprintf("allocation %q", r.PathValue("id")), err)
		return
	}
	job, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
	if err != nil {
		cancel()
		storeError(w, "the allocation's job", err)
		return
	}
	node, err := s.Store.GetNode(ctx, a.NodeID)
	cancel()
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", a.NodeID), err)
		return
	}
	var allowed func(ns, capability string) bool
	if id := access.FromContext(r.Context()); id != nil && id.ACL != nil {
		allowed = id.ACL.AllowNamespaceOp
	}
	task, code, msg := nodes.ExecTarget(job, a, r.URL.Query(), allowed)
	if code != 0 {
		writeError(w, code, errors.New(msg))
		return
	}
	proxy, err := nodes.ExecProxy(node, s.NodeTLS, a.ID, task, r.URL.Query(), func(w http.ResponseWriter, code int, msg string) {
		writeError(w, code, errors.New(msg))
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	proxy.ServeHTTP(w, r)
}
