package nomadapi

import (
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// Scaling policies, as the Nomad Autoscaler reads them: each group's
// scaling block is a policy, stored with its job rather than apart, so a
// policy's ID is derived from what it targets (namespace, job, group) and
// stays the same across the job's versions; its indexes are the job's.
// Only horizontal (group count) policies exist: task-level vertical
// policies are Nomad Enterprise's.

// ScalingPolicy is Nomad's api.ScalingPolicy as the server fills it.
type ScalingPolicy struct {
	ID          string
	Namespace   string
	Type        string
	Target      map[string]string
	Min         *int64
	Max         *int64
	Policy      map[string]any
	Enabled     *bool
	CreateIndex uint64
	ModifyIndex uint64
}

// ScalingPolicyListStub is Nomad's api.ScalingPolicyListStub.
type ScalingPolicyListStub struct {
	ID          string
	Enabled     bool
	Type        string
	Target      map[string]string
	CreateIndex uint64
	ModifyIndex uint64
}

const scalingHorizontal = "horizontal"

// scalingPolicyNS is the UUID namespace of policy IDs.
var scalingPolicyNS = uuid.MustParse("6a0b3b4e-53a1-4c1e-9a4f-2f6f3d1c9b7e")

// scalingPolicyID is the ID of the policy of a job's group.
func scalingPolicyID(namespace, job, group string) string {
	return uuid.NewSHA1(scalingPolicyNS, []byte(namespace+"\x00"+job+"\x00"+group)).String()
}

// toScalingPolicy is a group's scaling block as a policy, or nil.
func toScalingPolicy(j *api.Job, g *api.TaskGroup) *ScalingPolicy {
	sc := g.Scaling
	if sc == nil {
		return nil
	}
	ns := cmpOr(j.Namespace, api.DefaultNamespace)
	lo, hi := int64(sc.Min), int64(sc.Max)
	policy := sc.Policy
	if policy == nil {
		policy = map[string]any{}
	}
	return &ScalingPolicy{
		ID: scalingPolicyID(ns, j.ID, g.Name), Namespace: ns, Type: scalingHorizontal,
		Target: map[string]string{"Namespace": ns, "Job": j.ID, "Group": g.Name},
		// As in Nomad, stopping a job disables its policies.
		Min: &lo, Max: &hi, Policy: policy, Enabled: ptr(sc.Enabled && !j.Stop),
		CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex,
	}
}

// scalingPolicies are the policies of the jobs in namespace ns ("" for
// all), those of job only when it is set, that the request's token may
// see with capability c (access.ScalingPolicyAccess).
func (s *Server) scalingPolicies(r *http.Request, ns, job, c string) ([]*ScalingPolicy, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	list, err := s.Store.ListJobs(ctx, ns)
	if err != nil {
		return nil, err
	}
	var a *acl.ACL
	if id := access.FromContext(r.Context()); id != nil {
		a = id.ACL
	}
	var out []*ScalingPolicy
	for _, j := range list {
		if job != "" && j.ID != job {
			continue
		}
		if a != nil && !access.ScalingPolicyAccess(a, cmpOr(j.Namespace, api.DefaultNamespace), c) {
			continue
		}
		for _, g := range j.Groups {
			if p := toScalingPolicy(j, g); p != nil {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// listScalingPolicies serves GET /v1/scaling/policies (`nomad scaling
// policy list`, the autoscaler's policy source): job= selects one job's,
// type= those whose type starts with it, prefix= those whose ID does
// (`nomad scaling policy info` looks a policy up so), as in Nomad.
func (s *Server) listScalingPolicies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	policies, err := s.scalingPolicies(r, nsFilter(namespace(r)), q.Get("job"), acl.CapListScalingPolicies)
	if err != nil {
		return err
	}
	typ, prefix := q.Get("type"), q.Get("prefix")
	out := []*ScalingPolicyListStub{}
	for _, p := range policies {
		if !strings.HasPrefix(p.Type, typ) || !strings.HasPrefix(p.ID, prefix) {
			continue
		}
		out = append(out, &ScalingPolicyListStub{ID: p.ID, Enabled: *p.Enabled, Type: p.Type,
			Target: p.Target, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex})
	}
	return s.reply(w, r, out)
}

// getScalingPolicy serves GET /v1/scaling/policy/{id}, in any namespace
// the token may read (policy IDs are unique across namespaces, as in
// Nomad); one in a namespace it may not read is not found, so that an ID,
// derived from its target, tells nothing of jobs the token cannot see.
func (s *Server) getScalingPolicy(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	policies, err := s.scalingPolicies(r, "", "", acl.CapReadScalingPolicy)
	if err != nil {
		return err
	}
	for _, p := range policies {
		if p.ID == id {
			return s.reply(w, r, p)
		}
	}
	return notFound("scaling policy not found")
}
