package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
)

// NodeEligibilityRequest is the body of PUT /v1/node/{id}/eligibility.
type NodeEligibilityRequest struct {
	Eligible bool `json:"eligible"`
}

// NodeDrainRequest is the body of PUT /v1/node/{id}/drain.
type NodeDrainRequest struct {
	Enable bool `json:"enable"`
	// Deadline after which remaining allocations are stopped regardless
	// of their migrate policy; zero for none.
	Deadline         api.Duration `json:"deadline,omitempty"`
	IgnoreSystemJobs bool         `json:"ignore_system_jobs,omitempty"`
	// KeepIneligible, when disabling, leaves the node ineligible.
	KeepIneligible bool `json:"keep_ineligible,omitempty"`
}

// decodeBody reads a request body of at most maxBodyBytes into v: one
// JSON value and nothing after it, every field known. It answers the
// error itself (413 or 400) and reports whether it succeeded.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	_, ok := readBody(w, r, v)
	return ok
}

// readBody is decodeBody that also returns the raw body.
func readBody(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("reading request body: %w (the limit is %d bytes)", err, mbe.Limit))
		} else {
			writeError(w, http.StatusBadRequest, fmt.Errorf("reading request body: %w", err))
		}
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding request body: %w", err))
		return nil, false
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding request body: %d bytes after the JSON value", len(rest)))
		return nil, false
	}
	return body, true
}

func (s *Server) nodeEligibility(w http.ResponseWriter, r *http.Request) {
	var req NodeEligibilityRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, r.PathValue("id"))
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", r.PathValue("id")), err)
		return
	}
	err = nodes.SetEligibility(ctx, s.Store, n.ID, req.Eligible)
	if err != nil {
		storeError(w, "node", err)
		return
	}
	s.getNodeByID(w, r, n.ID)
}

func (s *Server) nodeDrain(w http.ResponseWriter, r *http.Request) {
	var req NodeDrainRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Deadline < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("deadline must not be negative"))
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, r.PathValue("id"))
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", r.PathValue("id")), err)
		return
	}
	_, err = nodes.SetDrain(ctx, s.Store, n.ID, nodes.Drain{Enable: req.Enable, Deadline: req.Deadline.Std(),
		IgnoreSystemJobs: req.IgnoreSystemJobs, KeepIneligible: req.KeepIneligible}, s.Now().UTC())
	if err != nil {
		storeError(w, "node", err)
		return
	}
	s.getNodeByID(w, r, n.ID)
}

func (s *Server) nodePurge(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, r.PathValue("id"))
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", r.PathValue("id")), err)
		return
	}
	evals, err := nodes.Purge(ctx, s.Store, n.ID, s.Now().UTC())
	if err != nil {
		storeError(w, fmt.Sprintf("node %q", n.ID), err)
		return
	}
	writeJSON(w, http.StatusOK, api.NodePurgeResponse{NodeID: n.ID, EvalIDs: append([]string{}, evals...)})
}

func (s *Server) getNodeByID(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, id)
	if err != nil {
		storeError(w, "node", err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}
