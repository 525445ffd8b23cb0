package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
)

// scaleJob changes one group's count (POST /v1/job/{id}/scale), within
// the bounds of the group's scaling block, as a new version of the job.
func (s *Server) scaleJob(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleRequest
	if !decodeBody(w, r, &req) {
		return
	}
	group := req.Target["group"]
	if group == "" {
		writeError(w, http.StatusBadRequest, errors.New(`a scale request names its group: {"target": {"group": "..."}, "count": N}`))
		return
	}
	if req.Count == nil {
		writeError(w, http.StatusBadRequest, errors.New("a scale request needs a count"))
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	job, _, err := s.Store.GetJob(ctx, namespace(r), id)
	if err != nil {
		storeError(w, fmt.Sprintf("job %q", id), err)
		return
	}
	if job.Stop {
		writeError(w, http.StatusBadRequest, fmt.Errorf("job %q is stopped: apply it again before scaling it", id))
		return
	}
	next := *job
	next.Groups = make([]*api.TaskGroup, len(job.Groups))
	for i, g := range job.Groups {
		cp := *g
		next.Groups[i] = &cp
	}
	if err := next.Scale(group, *req.Count); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	next.Version, next.Status = 0, ""
	if err := catalog.ValidateJob(&next); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	resp, err := s.Store.RegisterJob(ctx, &next, s.Now().UTC())
	if err != nil {
		storeError(w, "job", err)
		return
	}
	resp.Warnings = next.Warnings()
	writeJSON(w, http.StatusOK, resp)
}
