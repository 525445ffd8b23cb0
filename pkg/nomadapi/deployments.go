package nomadapi

import (
	"errors"
	"net/http"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/deploy"
	"github.com/nomadic-project/nomadic/pkg/store"
)

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns := nsFilter(namespace(r))
	ds, err := s.Store.ListDeployments(ctx, ns, "")
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	out := []*Deployment{}
	for i := len(ds) - 1; i >= 0; i-- {
		if !idPrefix(ds[i].ID, prefix) {
			continue
		}
		if d := toDeployment(ds[i]); f.match(d) {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(d *Deployment) string { return d.ID }))
}

func (s *Server) findDeployment(r *http.Request) (*api.Deployment, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, _, err := s.Store.GetDeployment(ctx, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound("deployment not found")
	case errors.Is(err, store.ErrAmbiguous):
		return nil, badRequest("deployment prefix %q matches several deployments", r.PathValue("id"))
	}
	return d, err
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	d, err := s.findDeployment(r)
	if err != nil {
		return err
	}
	return s.reply(w, r, toDeployment(d))
}

func (s *Server) deploymentAllocations(w http.ResponseWriter, r *http.Request) error {
	d, err := s.findDeployment(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: d.Namespace, JobID: d.JobID})
	if err != nil {
		return err
	}
	names, err := s.nodeNames(ctx)
	if err != nil {
		return err
	}
	typ := api.JobTypeService
	out := []*AllocationListStub{}
	for _, a := range allocs {
		if a.DeploymentID == d.ID {
			out = append(out, toAllocStub(a, typ, names[a.NodeID]))
		}
	}
	sortStubs(out)
	return s.reply(w, r, out)
}

// act carries out an operator's action on a deployment and answers as
// Nomad does.
func (s *Server) act(w http.ResponseWriter, r *http.Request, action string) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := deploy.Act(ctx, s.Store, r.PathValue("id"), action, s.Now().UTC())
	if errors.Is(err, deploy.ErrDeploymentState) {
		return badRequest("%v", err)
	} else if err != nil {
		return err
	}
	return s.reply(w, r, &DeploymentUpdateResponse{DeploymentModifyIndex: d.ModifyIndex})
}

func (s *Server) deploymentPromote(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		All    bool
		Groups []string
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if !req.All && len(req.Groups) > 0 {
		return &httpError{code: http.StatusNotImplemented, msg: "nomadic promotes every group of a deployment at once: promote with All (docs/nomad-compat.md)"}
	}
	return s.act(w, r, deploy.ActionPromote)
}

func (s *Server) deploymentFail(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, deploy.ActionFail)
}

func (s *Server) deploymentPause(w http.ResponseWriter, r *http.Request) error {
	var req struct{ Pause bool }
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Pause {
		return s.act(w, r, deploy.ActionPause)
	}
	return s.act(w, r, deploy.ActionResume)
}

func (s *Server) deploymentAllocHealth(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		HealthyAllocationIDs   []string
		UnhealthyAllocationIDs []string
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := deploy.SetAllocHealth(ctx, s.Store, r.PathValue("id"),
		&api.AllocHealthRequest{Healthy: req.HealthyAllocationIDs, Unhealthy: req.UnhealthyAllocationIDs}, s.Now().UTC())
	if errors.Is(err, deploy.ErrDeploymentState) {
		return badRequest("%v", err)
	} else if err != nil {
		return err
	}
	return s.reply(w, r, &DeploymentUpdateResponse{DeploymentModifyIndex: d.ModifyIndex})
}
