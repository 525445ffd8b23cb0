package nomadapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
)

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	list, err := s.Store.ListNodes(ctx)
	if err != nil {
		return err
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	resources := r.URL.Query().Get("resources") == "true"
	out := []*NodeListStub{}
	for _, n := range list {
		if !idPrefix(n.ID, prefix) {
			continue
		}
		stub := toNodeStub(n, s.Version)
		if resources {
			stub.NodeResources, stub.ReservedResources = nodeResources(n), &NodeReservedResources{}
		}
		if f.match(stub) {
			out = append(out, stub)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(n *NodeListStub) string { return n.ID }))
}

func (s *Server) findNode(r *http.Request) (*api.Node, error) {
	return s.lookupNode(r, r.PathValue("id"))
}

// lookupNode reads a node by ID, unique ID prefix or name.
func (s *Server) lookupNode(r *http.Request, id string) (*api.Node, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	n, err := s.Store.GetNode(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound("node not found")
	case errors.Is(err, store.ErrAmbiguous):
		return nil, badRequest("node prefix %q matches several nodes", id)
	}
	return n, err
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	return s.reply(w, r, toNode(n))
}

func (s *Server) nodeAllocations(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	var he *httpError
	if errors.As(err, &he) && he.code == http.StatusNotFound {
		// As in Nomad: a node that is not there has no allocations.
		return s.reply(w, r, []*Allocation{})
	}
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{NodeID: n.ID})
	if err != nil {
		return err
	}
	list, err := s.Store.ListJobs(ctx, "")
	if err != nil {
		return err
	}
	jobs := map[string]*api.Job{}
	for _, j := range list {
		jobs[jobKey(j.Namespace, j.ID)] = j
	}
	out := []*Allocation{}
	for _, a := range allocs {
		job := jobs[jobKey(a.Namespace, a.JobID)]
		if job != nil && job.Version != a.JobVersion {
			if v, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion); err == nil {
				job = v
			}
		}
		out = append(out, toAlloc(a, job, n.Name, s.Region))
	}
	return s.reply(w, r, out)
}

func (s *Server) nodeEligibility(w http.ResponseWriter, r *http.Request) error {
	var req NodeEligibilityUpdateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	var eligible bool
	switch req.Eligibility {
	case "eligible":
		eligible = true
	case "ineligible":
	default:
		return badRequest("invalid scheduling eligibility %q: want eligible or ineligible", req.Eligibility)
	}
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := nodes.SetEligibility(ctx, s.Store, n.ID, eligible); err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: []string{}})
}

func (s *Server) nodeDrain(w http.ResponseWriter, r *http.Request) error {
	var req NodeDrainUpdateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	d := nodes.Drain{Enable: req.DrainSpec != nil, KeepIneligible: !req.MarkEligible, Meta: req.Meta}
	if req.DrainSpec != nil {
		if req.DrainSpec.Deadline < 0 {
			// Nomad's -force: everything moves at once.
			req.DrainSpec.Deadline = time.Nanosecond
		}
		d.Deadline, d.IgnoreSystemJobs = req.DrainSpec.Deadline, req.DrainSpec.IgnoreSystemJobs
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	evals, err := nodes.SetDrain(ctx, s.Store, n.ID, d, s.Now().UTC())
	if err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: append([]string{}, evals...)})
}

// nodePurge removes a down node (nodes.Purge); Nomad's answer has the
// same fields as a drain's.
func (s *Server) nodePurge(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	evals, err := nodes.Purge(ctx, s.Store, n.ID, s.Now().UTC())
	if err != nil {
		return err
	}
	return s.reply(w, r, &NodeUpdateResponse{EvalIDs: append([]string{}, evals...)})
}

// NodePool is a node pool as Nomad's API answers it. nomadic's pools are
// the names nodes give with -node-pool, plus Nomad's built-in default and
// all; they have no description, meta or scheduler configuration.
type NodePool struct {
	Name        string
	Description string
	Meta        map[string]string
	CreateIndex uint64
	ModifyIndex uint64
}

// pools lists the node pools: the built-in ones, those operators
// created, and those nodes name.
func (s *Server) pools(ctx context.Context) ([]*NodePool, []*api.Node, error) {
	list, err := s.Store.ListNodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	created, err := s.Store.ListNodePools(ctx)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*NodePool{}
	for name, desc := range store.BuiltinNodePools {
		byName[name] = &NodePool{Name: name, Description: desc, Meta: map[string]string{}}
	}
	for _, n := range list {
		name := cmpOr(n.NodePool, api.DefaultNodePool)
		if byName[name] == nil {
			byName[name] = &NodePool{Name: name, Meta: map[string]string{}}
		}
	}
	for _, p := range created {
		meta := p.Meta
		if meta == nil {
			meta = map[string]string{}
		}
		byName[p.Name] = &NodePool{Name: p.Name, Description: p.Description, Meta: meta, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex}
	}
	out := []*NodePool{}
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out, list, nil
}

// putNodePool is nomad node pool apply (PUT /v1/node/pools): it creates
// or updates a pool's description and meta. A pool's own scheduler
// configuration is Nomad Enterprise's, and node identities are not
// supported: a pool that sets either is refused, not half applied.
func (s *Server) putNodePool(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name                   string
		Description            string
		Meta                   map[string]string
		NodeIdentityTTL        any
		SchedulerConfiguration json.RawMessage
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.SchedulerConfiguration) > 0 && string(body.SchedulerConfiguration) != "null" {
		return badRequest("node pool %q: a pool's own scheduler configuration is a Nomad Enterprise feature; nomad operator scheduler set-config sets the cluster's", body.Name)
	}
	switch ttl := body.NodeIdentityTTL.(type) {
	case nil:
	case string:
		if ttl != "" && ttl != "0s" {
			return badRequest("node pool %q: node identities (node_identity_ttl) are not supported", body.Name)
		}
	case float64:
		if ttl != 0 {
			return badRequest("node pool %q: node identities (node_identity_ttl) are not supported", body.Name)
		}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	err := s.Store.PutNodePool(ctx, &store.NodePool{Name: body.Name, Description: body.Description, Meta: body.Meta})
	if errors.Is(err, store.ErrInvalidNodePool) {
		return badRequest("%v", err)
	} else if err != nil {
		return err
	}
	return s.replyWritten(ctx, w, r)
}

// deleteNodePool is nomad node pool delete: a pool an operator created,
// with no node or live job in it.
func (s *Server) deleteNodePool(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	err := s.Store.DeleteNodePool(ctx, r.PathValue("name"))
	if errors.Is(err, store.ErrNodePoolInUse) {
		return badRequest("%v", err)
	} else if errors.Is(err, store.ErrNotFound) {
		return notFound("node pool not found")
	} else if err != nil {
		return err
	}
	return s.replyWritten(ctx, w, r)
}

func (s *Server) nodePools(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	out, _, err := s.pools(ctx)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	out = slices.DeleteFunc(out, func(p *NodePool) bool { return !strings.HasPrefix(p.Name, prefix) })
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return s.reply(w, r, page(w, r, out, func(p *NodePool) string { return p.Name }))
}

// nodeSub answers GET /v1/node/{id}/{sub}: a node's allocations, or (for
// id "pool") nomad node pool info. One pattern serves both, as
// /v1/node/pool/{name} and /v1/node/{id}/allocations would otherwise
// overlap.
func (s *Server) nodeSub(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "pool" {
		ctx, cancel := s.ctx(r)
		defer cancel()
		out, _, err := s.pools(ctx)
		if err != nil {
			return err
		}
		for _, p := range out {
			if p.Name == r.PathValue("sub") {
				return s.reply(w, r, p)
			}
		}
		return notFound("node pool not found")
	}
	if r.PathValue("sub") != "allocations" {
		return notFound("no such endpoint in nomadic's Nomad API: %s %s", r.Method, r.URL.Path)
	}
	return s.nodeAllocations(w, r)
}

// poolNodes is nomad node pool nodes: the nodes of a pool (every node
// for all).
func (s *Server) poolNodes(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	pools, nodes, err := s.pools(ctx)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if !slices.ContainsFunc(pools, func(p *NodePool) bool { return p.Name == name }) {
		return notFound("node pool not found")
	}
	out := []*NodeListStub{}
	for _, n := range nodes {
		if name == "all" || cmpOr(n.NodePool, api.DefaultNodePool) == name {
			out = append(out, toNodeStub(n, s.Version))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(n *NodeListStub) string { return n.ID }))
}

// poolJobs is nomad node pool jobs: the jobs that run in a pool.
func (s *Server) poolJobs(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	return s.jobList(w, r, func(j *api.Job) bool { return cmpOr(j.NodePool, api.DefaultNodePool) == name })
}
