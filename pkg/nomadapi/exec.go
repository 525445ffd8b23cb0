package nomadapi

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// allocExec is `nomad alloc exec`: a websocket to the node agent that
// runs the allocation, through this server, which checks the request
// (alloc-exec on the allocation's namespace; alloc-node-exec too for a
// raw_exec task, whose commands run on the node itself, as in Nomad) and
// then carries the session's frames both ways unchanged.
func (s *Server) allocExec(w http.ResponseWriter, r *http.Request) error {
	a, job, node, err := s.execAlloc(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.execSession(w, r, job, a, node, r.URL.Query())
}

// execAlloc reads an allocation, the version of its job it runs and its
// node.
func (s *Server) execAlloc(r *http.Request, id string) (*api.Allocation, *api.Job, *api.Node, error) {
	a, node, err := s.allocNode(r, id)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	job, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, job, node, nil
}

// execSession checks an exec session of q (task, command, tty) in a,
// then carries it to node.
func (s *Server) execSession(w http.ResponseWriter, r *http.Request, job *api.Job, a *api.Allocation, node *api.Node, q url.Values) error {
	if why := nodes.CrossOrigin(r); why != "" {
		return &httpError{code: http.StatusForbidden, msg: why}
	}
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

// jobAction is `nomad action`: the command of a task's action block,
// run in an allocation of the job as an exec session (alloc-exec, and
// alloc-node-exec for raw_exec, as for any exec).
func (s *Server) jobAction(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ns, jobID, name := namespace(r), r.PathValue("id"), q.Get("action")
	if name == "" {
		return badRequest("action is required: the name of one of the task's action blocks")
	}
	a, job, node, err := s.execAlloc(r, q.Get("allocID"))
	if err != nil {
		return err
	}
	if a.Namespace != ns || a.JobID != jobID {
		return notFound("allocation %s is not of job %q in namespace %q", api.ShortID(a.ID), jobID, ns)
	}
	var action *api.Action
	if g := job.LookupGroup(a.TaskGroup); g != nil {
		for _, t := range g.Tasks {
			if t.Name != q.Get("task") {
				continue
			}
			for _, x := range t.Actions {
				if x.Name == name {
					action = x
				}
			}
		}
	}
	if action == nil {
		return notFound("task %q of allocation %s has no action %q", q.Get("task"), api.ShortID(a.ID), name)
	}
	cmd, err := json.Marshal(append([]string{action.Command}, action.Args...))
	if err != nil {
		return err
	}
	return s.execSession(w, r, job, a, node, url.Values{"task": {q.Get("task")}, "command": {string(cmd)}, "tty": {q.Get("tty")}})
}
