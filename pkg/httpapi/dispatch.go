package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// maxPayload bounds a dispatch payload, as Nomad's 16 KiB.
const maxPayload = 16 << 10

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
	ns, id := namespace(r), r.PathValue("id")
	parent, _, err := s.Store.GetJob(ctx, ns, id)
	if err != nil {
		storeError(w, fmt.Sprintf("job %q", id), err)
		return
	}
	p := parent.Parameterized
	if p == nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("job %q is not parameterized", id))
		return
	}
	if parent.Stop {
		writeError(w, http.StatusBadRequest, fmt.Errorf("job %q is stopped", id))
		return
	}
	var problems []string
	switch {
	case len(req.Payload) > maxPayload:
		problems = append(problems, fmt.Sprintf("payload of %d bytes is over the %d-byte limit", len(req.Payload), maxPayload))
	case p.Payload == "required" && len(req.Payload) == 0:
		problems = append(problems, "the job requires a payload")
	case p.Payload == "forbidden" && len(req.Payload) > 0:
		problems = append(problems, "the job takes no payload")
	}
	allowed := map[string]bool{}
	for _, k := range p.MetaRequired {
		allowed[k] = true
		if _, ok := req.Meta[k]; !ok {
			problems = append(problems, fmt.Sprintf("meta %q is required", k))
		}
	}
	for _, k := range p.MetaOptional {
		allowed[k] = true
	}
	var unknown []string
	for k := range req.Meta {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("meta %q is neither required nor optional for this job", k))
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("cannot dispatch job %q: %s", id, strings.Join(problems, "; ")))
		return
	}
	now := s.Now().UTC()
	child := *parent
	child.ID = fmt.Sprintf("%s-dispatch-%d-%s", parent.ID, now.Unix(), api.ShortID(api.NewID()))
	child.Name = child.ID
	child.ParentID = parent.ID
	child.Parameterized = nil
	child.Payload = req.Payload
	child.Version, child.Status, child.Stop = 0, "", false
	child.Meta = map[string]string{}
	for k, v := range parent.Meta {
		child.Meta[k] = v
	}
	for k, v := range req.Meta {
		child.Meta[k] = v
	}
	resp, err := s.Store.RegisterJob(ctx, &child, now)
	if err != nil {
		storeError(w, "job", err)
		return
	}
	writeJSON(w, http.StatusOK, DispatchResponse{JobID: child.ID, EvalID: resp.EvalID})
}
