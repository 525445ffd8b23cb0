package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobs"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
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

// jobSubmission serves GET /v1/job/{id}/submission?version=N: the job file
// a version was registered from (the current version without ?version=),
// with its variables when this server's keyring still holds their key.
func (s *Server) jobSubmission(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	var version uint64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("version %q is not a job version number", v))
			return
		}
		version = n
	} else {
		cur, _, err := s.Store.GetJob(ctx, ns, id)
		if err != nil {
			storeError(w, fmt.Sprintf("job %q", id), err)
			return
		}
		version = cur.Version
	}
	src, err := s.Store.GetJobSource(ctx, ns, id, version)
	if err != nil {
		storeError(w, fmt.Sprintf("the source of version %d of job %q", version, id), err)
		return
	}
	out := &api.JobSource{JobSubmission: api.JobSubmission{Source: src.Source, Format: src.Format},
		Namespace: src.Namespace, JobID: src.JobID, Version: src.Version}
	out.VariableFlags, out.Variables, out.VariablesMissing = variables.JobSourceVariables(ctx, s.Vars, src)
	writeJSON(w, http.StatusOK, out)
}
