package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
	"github.com/nomadic-project/nomadic/pkg/planner"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// planJob runs the scheduler on a submitted job without storing anything:
// what would change in the job, and where its allocations would go.
func (s *Server) planJob(w http.ResponseWriter, r *http.Request) {
	job, ok := s.readJob(w, r)
	if !ok {
		return
	}
	if id := r.PathValue("id"); id != job.ID {
		writeError(w, http.StatusBadRequest, fmt.Errorf("job %q in the body does not match %q in the path", job.ID, id))
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	resp := &api.PlanResponse{JobID: job.ID, Warnings: job.Warnings(), Result: "created"}
	old, _, err := s.Store.GetJob(ctx, job.Namespace, job.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		resp.Diff = diffJobs(nil, job)
	case err != nil:
		storeError(w, "job", err)
		return
	default:
		resp.Diff = diffJobs(old, job)
		job.Version = old.Version
		resp.Result = "unchanged"
		if len(resp.Diff) > 0 || old.Stop {
			job.Version = old.Version + 1
			resp.Result = "updated"
		}
	}
	plan, snap, err := planner.Compute(ctx, s.Store, job.Namespace, job.ID, job, "plan-"+api.NewID(), s.Now().UTC())
	if err != nil {
		storeError(w, "plan", err)
		return
	}
	names := map[string]string{}
	for _, n := range snap.Nodes {
		names[n.ID] = n.Name
	}
	resp.Changes = plan.Changes
	resp.FailedTGAllocs = plan.Failed
	resp.Distribution = plan.Distribution
	for _, a := range plan.Place {
		resp.Placements = append(resp.Placements, api.PlannedAlloc{Name: a.Name, NodeID: a.NodeID, NodeName: names[a.NodeID]})
	}
	writeJSON(w, http.StatusOK, resp)
}

// readJob decodes, canonicalizes and validates the job of a request body.
func (s *Server) readJob(w http.ResponseWriter, r *http.Request) (*api.Job, bool) {
	job, _, ok := s.readSubmittedJob(w, r)
	return job, ok
}

// readSubmittedJob is readJob that also returns the job file the body
// names as the job's source, if any ({"job": …, "submission": …}).
func (s *Server) readSubmittedJob(w http.ResponseWriter, r *http.Request) (*api.Job, *api.JobSubmission, bool) {
	var req struct {
		Job        *api.Job           `json:"job"`
		Submission *api.JobSubmission `json:"submission"`
	}
	body, ok := readBody(w, r, &req)
	if !ok {
		return nil, nil, false
	}
	// A count given as null is a mistake, not zero.
	var counts struct {
		Job struct {
			Groups []struct {
				Count json.RawMessage `json:"count"`
			} `json:"groups"`
		} `json:"job"`
	}
	if json.Unmarshal(body, &counts) == nil {
		for i, g := range counts.Job.Groups {
			if string(g.Count) == "null" {
				writeError(w, http.StatusBadRequest, fmt.Errorf("groups[%d].count is null: give a number (0 or more)", i))
				return nil, nil, false
			}
		}
	}
	if req.Job == nil {
		writeError(w, http.StatusBadRequest, errors.New(`request body must be {"job": {...}}`))
		return nil, nil, false
	}
	job := req.Job
	job.Canonicalize()
	if err := catalog.ValidateJob(job); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return nil, nil, false
	}
	return job, req.Submission, true
}

// diffJobs lists the fields that differ between two versions of a job's
// specification, by field path. Server-managed fields are left out.
func diffJobs(old, next *api.Job) []api.FieldDiff {
	flat := func(j *api.Job) map[string]any {
		out := map[string]any{}
		if j == nil {
			return out
		}
		c := *j
		c.Version, c.Stop, c.Status = 0, false, ""
		c.Indexes = api.Indexes{}
		c.SubmitTime = next.SubmitTime
		b, _ := json.Marshal(&c)
		var v any
		_ = json.Unmarshal(b, &v)
		flatten("", v, out)
		delete(out, "version")
		delete(out, "submit_time")
		return out
	}
	a, b := flat(old), flat(next)
	var out []api.FieldDiff
	for k, v := range b {
		if ov, ok := a[k]; !ok || !reflect.DeepEqual(ov, v) {
			out = append(out, api.FieldDiff{Path: k, Old: a[k], New: v})
		}
	}
	for k, v := range a {
		if _, ok := b[k]; !ok {
			out = append(out, api.FieldDiff{Path: k, Old: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = v
	}
}

func (s *Server) getSchedulerConfig(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	c, err := s.Store.GetSchedulerConfig(ctx)
	if err != nil {
		storeError(w, "scheduler configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) putSchedulerConfig(w http.ResponseWriter, r *http.Request) {
	var c api.SchedulerConfig
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding request body: %w", err))
		return
	}
	switch c.Algorithm {
	case "binpack", "spread":
	case "":
		c.Algorithm = "binpack"
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf("algorithm %q is not one of binpack, spread", c.Algorithm))
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.Store.PutSchedulerConfig(ctx, &c); err != nil {
		storeError(w, "scheduler configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, &c)
}
