package nomadapi

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
)

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	list, err := s.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	out := []*NodeListStub{}
	for _, n := range list {
		if !idPrefix(n.ID, prefix) {
			continue
		}
		stub := toNodeStub(n, s.Version)
		if f.match(stub) {
			out = append(out, stub)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(n *NodeListStub) string { return n.ID }))
}

func (s *Server) findNode(r *http.Request) (*api.Node, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound("node not found")
	case errors.Is(err, store.ErrAmbiguous):
		return nil, badRequest("node prefix %q matches several nodes", r.PathValue("id"))
	}
	return n, err
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	return s.reply(w, r, toNode(n))
}

func (s *Server) nodeAllocations(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{NodeID: n.ID})
	if err != nil {
		return err
	}
	list, err := s.Store.ListJobs(ctx, "")
	if err != nil {
		return err
	}
	jobs := map[string]*api.Job{}
	for _, j := range list {
		jobs[jobKey(j.Namespace, j.ID)] = j
	}
	out := []*Allocation{}
	for _, a := range allocs {
		job := jobs[jobKey(a.Namespace, a.JobID)]
		if job != nil && job.Version != a.JobVersion {
			if v, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion); err == nil {
				job = v
			}
		}
		out = append(out, toAlloc(a, job, n.Name, s.Region))
	}
	return s.reply(w, r, out)
}

func (s *Server) nodeEligibility(w http.ResponseWriter, r *http.Request) error {
	var req NodeEligibilityUpdateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var eligible bool
	switch req.Eligibility {
	case "eligible":
		eligible = true
	case "ineligible":
	default:
		return badRequest("invalid scheduling eligibility %q: want eligible or ineligible", req.Eligibility)
	}
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := nodes.SetEligibility(ctx, s.Store, n.ID, eligible); err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: []string{}})
}

func (s *Server) nodeDrain(w http.ResponseWriter, r *http.Request) error {
	var req NodeDrainUpdateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	d := nodes.Drain{Enable: req.DrainSpec != nil, KeepIneligible: !req.MarkEligible}
	if req.DrainSpec != nil {
		if req.DrainSpec.Deadline < 0 {
			// Nomad's -force: everything moves at once.
			req.DrainSpec.Deadline = time.Nanosecond
		}
		d.Deadline, d.IgnoreSystemJobs = req.DrainSpec.Deadline, req.DrainSpec.IgnoreSystemJobs
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	evals, err := nodes.SetDrain(ctx, s.Store, n.ID, d, s.Now().UTC())
	if err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: append([]string{}, evals...)})
}

// nodePurge removes a down node (nodes.Purge); Nomad's answer has the
// same fields as a drain's.
func (s *Server) nodePurge(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	evals, err := nodes.Purge(ctx, s.Store, n.ID, s.Now().UTC())
	if err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: append([]string{}, evals...)})
}

func (s *Server) nodePools(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	list, err := s.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	pools := map[string]bool{api.DefaultNodePool: true, "all": true}
	for _, n := range list {
		pools[cmpOr(n.NodePool, api.DefaultNodePool)] = true
	}
	type pool struct {
		Name        string
		Description string
		Meta        map[string]string
	}
	out := []pool{}
	for _, name := range sortedKeys(pools) {
		out = append(out, pool{Name: name, Meta: map[string]string{}})
	}
	return s.reply(w, r, out)
}
