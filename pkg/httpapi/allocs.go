package httpapi

import (
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// allocStop stops an allocation; the job is evaluated in the same
// transaction, so the scheduler places a replacement where the job wants
// one.
func (s *Server) allocStop(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	a, err := s.Store.GetAlloc(ctx, r.PathValue("id"))
	if err != nil {
		storeError(w, fmt.Sprintf("allocation %q", r.PathValue("id")), err)
		return
	}
	u, _, err := s.Store.OperatorStopAlloc(ctx, a, s.Now().UTC())
	if err != nil {
		storeError(w, "allocation", err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// TaskRequestBody is the body of the restart and signal endpoints.
type TaskRequestBody struct {
	Task   string `json:"task,omitempty"`
	Signal string `json:"signal,omitempty"`
}

var knownSignals = map[string]bool{"SIGHUP": true, "SIGINT": true, "SIGQUIT": true, "SIGKILL": true, "SIGUSR1": true,
	"SIGUSR2": true, "SIGTERM": true, "SIGCONT": true, "SIGSTOP": true, "SIGWINCH": true}

// allocRequest records a restart or signal request on the allocation; its
// node agent carries it out.
func (s *Server) allocRequest(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body TaskRequestBody
		if r.ContentLength != 0 && !decodeBody(w, r, &body) {
			return
		}
		if kind == "signal" {
			if body.Signal == "" {
				body.Signal = "SIGTERM"
			}
			if !knownSignals[body.Signal] {
				writeError(w, http.StatusBadRequest, fmt.Errorf("unknown signal %q", body.Signal))
				return
			}
		}
		ctx, cancel := reqCtx(r)
		defer cancel()
		a, err := s.Store.GetAlloc(ctx, r.PathValue("id"))
		if err != nil {
			storeError(w, fmt.Sprintf("allocation %q", r.PathValue("id")), err)
			return
		}
		if a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
			writeError(w, http.StatusConflict, fmt.Errorf("allocation %s is not running", api.ShortID(a.ID)))
			return
		}
		if body.Task != "" && (a.Status == nil || a.Status.Tasks[body.Task] == nil) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("allocation %s has no task %q", api.ShortID(a.ID), body.Task))
			return
		}
		req := &api.TaskRequest{ID: api.NewID(), Task: body.Task, Signal: body.Signal, Time: s.Now().UTC()}
		u, err := s.Store.UpdateAlloc(ctx, a, func(cur *api.Allocation, _ *store.Txn) {
			if kind == "restart" {
				cur.Restart = req
			} else {
				cur.Signal = req
			}
		})
		if err != nil {
			storeError(w, "allocation", err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	}
}
