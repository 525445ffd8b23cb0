package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/jobs"
	"github.com/nomadic-project/nomadic/pkg/store"
)

func (s *Server) jobVersions(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	id := r.PathValue("id")
	versions, err := s.Store.ListJobVersions(ctx, namespace(r), id)
	if err != nil {
		storeError(w, "job versions", err)
		return
	}
	if len(versions) == 0 {
		writeError(w, http.StatusNotFound, fmt.Errorf("job %q not found", id))
		return
	}
	writeJSON(w, http.StatusOK, versions)
}

// RevertRequest is the body of POST /v1/job/{id}/revert.
type RevertRequest struct {
	Version uint64 `json:"version"`
}

// revertJob submits an earlier version's specification again, as a new
// version.
func (s *Server) revertJob(w http.ResponseWriter, r *http.Request) {
	var req RevertRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	resp, err := jobs.Revert(ctx, s.Store, ns, id, req.Version, s.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	} else if err != nil {
		storeError(w, "job", err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) forceLeave(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	name := r.PathValue("name")
	res, err := s.Store.ForceLeave(ctx, name)
	if err != nil {
		storeError(w, fmt.Sprintf("server %q", name), err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
