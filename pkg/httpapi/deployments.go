package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/deploy"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// deployKinds are what deployment reads wait on.
var deployKinds = []store.Kind{store.KindDeployments}

// listDeployments serves GET /v1/deployments (?namespace=, all when
// none) and GET /v1/job/{id}/deployments, newest first.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	job := r.PathValue("id")
	ns := listNamespace(r)
	if job != "" {
		ns = namespace(r)
	}
	ds, err := s.Store.ListDeployments(ctx, ns, job)
	if err != nil {
		storeError(w, "deployments", err)
		return
	}
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	writeJSON(w, http.StatusOK, nonNil(ds))
}

// latestDeployment serves GET /v1/job/{id}/deployment: the job's newest
// deployment.
func (s *Server) latestDeployment(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	d, err := s.Store.LatestDeployment(ctx, namespace(r), id)
	if err != nil {
		storeError(w, "deployment", err)
		return
	}
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("job %q has no deployment (only service jobs with an update block have them)", id))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	d, _, err := s.Store.GetDeployment(ctx, id)
	if err != nil {
		storeError(w, fmt.Sprintf("deployment %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// deploymentAction serves POST /v1/deployment/{id}/promote|pause|resume|fail.
func (s *Server) deploymentAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := reqCtx(r)
		defer cancel()
		d, err := deploy.Act(ctx, s.Store, r.PathValue("id"), action, s.Now().UTC())
		if err != nil {
			deploymentError(w, r.PathValue("id"), err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	}
}

// allocHealth serves POST /v1/deployment/{id}/allocation-health.
func (s *Server) allocHealth(w http.ResponseWriter, r *http.Request) {
	var req api.AllocHealthRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	d, err := deploy.SetAllocHealth(ctx, s.Store, r.PathValue("id"), &req, s.Now().UTC())
	if err != nil {
		deploymentError(w, r.PathValue("id"), err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// deploymentError answers 409 when the deployment's state forbids the
// action, and as storeError otherwise.
func deploymentError(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, deploy.ErrDeploymentState) {
		writeError(w, http.StatusConflict, err)
		return
	}
	storeError(w, fmt.Sprintf("deployment %q", id), err)
}
