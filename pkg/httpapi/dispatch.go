package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/jobs"
)

// DispatchRequest is the body of POST /v1/job/{id}/dispatch.
type DispatchRequest struct {
	Payload []byte            `json:"payload,omitempty"` // base64 in JSON
	Meta    map[string]string `json:"meta,omitempty"`
}

// DispatchResponse answers a dispatch.
type DispatchResponse struct {
	JobID  string `json:"job_id"`
	EvalID string `json:"eval_id"`
}

// dispatchJob launches a parameterized job: a child job with the given
// meta and payload.
func (s *Server) dispatchJob(w http.ResponseWriter, r *http.Request) {
	var req DispatchRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	child, resp, err := jobs.Dispatch(ctx, s.Store, namespace(r), r.PathValue("id"), req.Payload, req.Meta, s.Now().UTC())
	if errors.Is(err, jobs.ErrInvalid) {
		writeError(w, http.StatusBadRequest, err)
		return
	} else if err != nil {
		storeError(w, fmt.Sprintf("job %q", r.PathValue("id")), err)
		return
	}
	writeJSON(w, http.StatusOK, DispatchResponse{JobID: child.ID, EvalID: resp.EvalID})
}
