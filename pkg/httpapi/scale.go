package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobs"
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
	next, resp, err := jobs.Scale(ctx, s.Store, namespace(r), id, group, *req.Count, s.Now().UTC())
	if errors.Is(err, jobs.ErrInvalid) {
		writeError(w, http.StatusBadRequest, err)
		return
	} else if err != nil {
		storeError(w, fmt.Sprintf("job %q", id), err)
		return
	}
	resp.Warnings = next.Warnings()
	writeJSON(w, http.StatusOK, resp)
}
