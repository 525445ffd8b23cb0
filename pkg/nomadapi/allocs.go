package nomadapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

func (s *Server) listAllocations(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns := nsFilter(namespace(r))
	prefix := r.URL.Query().Get("prefix")
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns})
	if err != nil {
		return err
	}
	jobs, err := s.Store.ListJobs(ctx, ns)
	if err != nil {
		return err
	}
	byKey := map[string]*api.Job{}
	for _, j := range jobs {
		byKey[jobKey(j.Namespace, j.ID)] = j
	}
	names, err := s.nodeNames(ctx)
	if err != nil {
		return err
	}
	resources := r.URL.Query().Get("resources") == "true"
	// The job versions allocations run, each read once (for resources).
	versions := map[string]*api.Job{}
	versionOf := func(a *api.Allocation, cur *api.Job) *api.Job {
		if cur != nil && cur.Version == a.JobVersion {
			return cur
		}
		k := fmt.Sprintf("%s\x00%d", jobKey(a.Namespace, a.JobID), a.JobVersion)
		j, ok := versions[k]
		if !ok {
			j, _ = s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion) // none: shared resources only
			versions[k] = j
		}
		return j
	}
	out := []*AllocationListStub{}
	for _, a := range allocs {
		if !idPrefix(a.ID, prefix) {
			continue
		}
		j := byKey[jobKey(a.Namespace, a.JobID)]
		typ := ""
		if j != nil {
			typ = cmpOr(j.Type, api.JobTypeService)
		}
		stub := toAllocStub(a, typ, names[a.NodeID])
		if !f.match(stub) {
			continue
		}
		if resources {
			// The tasks' resources as the allocation's version of the
			// job asks; the shared ones (disk, ports) are its own.
			stub.AllocatedResources = allocatedResources(a, versionOf(a, j))
		}
		out = append(out, stub)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(a *AllocationListStub) string { return a.ID }))
}

// findAlloc finds an allocation by ID or unique prefix.
func (s *Server) findAlloc(ctx context.Context, id string) (*api.Allocation, error) {
	a, err := s.Store.GetAlloc(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound("alloc not found")
	case errors.Is(err, store.ErrAmbiguous):
		return nil, badRequest("allocation prefix %q matches several allocations", id)
	}
	return a, err
}

func (s *Server) getAllocation(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	a, err := s.findAlloc(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	job, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if job != nil {
		if cur, _, err := s.Store.GetJob(ctx, a.Namespace, a.JobID); err == nil && cur.Version == job.Version {
			job = cur
		}
	}
	nodeName := ""
	if n, err := s.Store.GetNode(ctx, a.NodeID); err == nil {
		nodeName = n.Name
	}
	return s.reply(w, r, toAlloc(a, job, nodeName, s.Region))
}

// stopAllocation stops an allocation; its job is evaluated in the same
// transaction, so a replacement is placed where the job wants one.
func (s *Server) stopAllocation(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	a, err := s.findAlloc(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	_, evalID, err := s.Store.OperatorStopAllocWith(ctx, a, s.Now().UTC(), r.URL.Query().Get("no_shutdown_delay") == "true")
	if err != nil {
		return err
	}
	return s.reply(w, r, &struct {
		EvalID string
		Index  uint64
	}{EvalID: evalID})
}

// allocRequest records a restart or signal request on an allocation; its
// node agent carries it out.
func (s *Server) allocRequest(kind string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			TaskName string
			AllTasks bool
			Signal   string
		}
		if r.ContentLength != 0 {
			if err := decode(r, &body); err != nil {
				return err
			}
		}
		if kind == "signal" && body.Signal == "" {
			body.Signal = "SIGKILL"
		}
		ctx, cancel := s.ctx(r)
		defer cancel()
		a, err := s.findAlloc(ctx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if a.Terminal() || a.DesiredStatus != api.AllocDesiredRun {
			return badRequest("allocation %s is not running", api.ShortID(a.ID))
		}
		if body.TaskName != "" && (a.Status == nil || a.Status.Tasks[body.TaskName] == nil) {
			return badRequest("allocation %s has no task %q", api.ShortID(a.ID), body.TaskName)
		}
		req := &api.TaskRequest{ID: api.NewID(), Task: body.TaskName, Signal: body.Signal, Time: s.Now().UTC()}
		_, err = s.Store.UpdateAlloc(ctx, a, func(cur *api.Allocation, _ *store.Txn) {
			if kind == "restart" {
				cur.Restart = req
			} else {
				cur.Signal = req
			}
		})
		if err != nil {
			return err
		}
		return s.reply(w, r, struct{}{})
	}
}

// allocChecks answers the results of an allocation's nomad-provider
// checks, by check ID.
func (s *Server) allocChecks(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	a, regs, err := s.allocRegistrations(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	type checkResult struct {
		ID         string
		Check      string
		Group      string
		Mode       string
		Output     string
		Service    string
		Task       string
		Status     string
		StatusCode int
		Timestamp  int64
	}
	// The checks with on_update = "ignore" are readiness checks: they do
	// not count towards the allocation's health.
	ignored := map[string]bool{} // by service and check name
	if job, err := s.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion); err == nil {
		if g := job.LookupGroup(a.TaskGroup); g != nil {
			note := func(svc *api.Service) {
				for _, c := range svc.Checks {
					if c.OnUpdate == "ignore" || c.OnUpdate == "" && svc.OnUpdate == "ignore" {
						ignored[svc.Name+"\x00"+c.DisplayName()] = true
					}
				}
			}
			for _, svc := range g.Services {
				note(svc)
			}
			for _, t := range g.Tasks {
				for _, svc := range t.Services {
					note(svc)
				}
			}
		}
	}
	out := map[string]checkResult{}
	for _, reg := range regs {
		if reg.AllocID != a.ID {
			continue
		}
		for _, c := range reg.Checks {
			id := reg.ID + "/" + c.Name
			status := "pending"
			switch c.Status {
			case api.CheckPassing:
				status = "success"
			case api.CheckCritical, api.CheckWarning:
				status = "failure"
			}
			mode := "healthiness"
			if ignored[reg.ServiceName+"\x00"+c.Name] {
				mode = "readiness" // on_update = "ignore": not counted for health
			}
			out[id] = checkResult{ID: id, Check: c.Name, Group: a.TaskGroup, Mode: mode, Output: c.Output,
				Service: reg.ServiceName, Task: reg.Task, Status: status, Timestamp: c.Time.Unix()}
		}
	}
	return s.reply(w, r, out)
}
