package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
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

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding request body: %w", err))
		return false
	}
	return true
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
	err = s.Store.UpdateNodeAdmin(ctx, n.ID, store.Guard{}, func(a *store.NodeAdmin, _ *store.Txn) {
		a.Eligible = req.Eligible
	})
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
	type jobRef struct{ ns, job string }
	var evals []jobRef
	if req.Enable {
		// Every job with allocations on the node is evaluated, in the
		// same transaction as the drain, so migrations start at once.
		allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{NodeID: n.ID})
		if err != nil {
			storeError(w, "allocations", err)
			return
		}
		seen := map[string]bool{}
		for _, a := range allocs {
			if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() || seen[a.Namespace+"/"+a.JobID] {
				continue
			}
			seen[a.Namespace+"/"+a.JobID] = true
			evals = append(evals, jobRef{a.Namespace, a.JobID})
		}
	}
	now := s.Now().UTC()
	err = s.Store.UpdateNodeAdmin(ctx, n.ID, store.Guard{}, func(a *store.NodeAdmin, txn *store.Txn) {
		if req.Enable {
			d := &api.DrainStrategy{StartedAt: now, IgnoreSystemJobs: req.IgnoreSystemJobs}
			if req.Deadline > 0 {
				d.Deadline = now.Add(req.Deadline.Std())
			}
			a.Drain = d
			a.Eligible = false
			for _, j := range evals {
				txn.CreateEval(j.ns, j.job, api.EvalTriggerNodeDrain, n.ID, now)
			}
			return
		}
		a.Drain = nil
		a.Eligible = !req.KeepIneligible
	})
	if err != nil {
		storeError(w, "node", err)
		return
	}
	s.getNodeByID(w, r, n.ID)
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
