package nomadapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobs"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// clusterView is what job lists need of the whole cluster, read once per
// request: every allocation and evaluation, grouped by job.
type clusterView struct {
	allocs map[string][]*api.Allocation
	evals  map[string][]*api.Evaluation
	nodes  map[string]string // node names by ID
}

func jobKey(ns, id string) string { return ns + "/" + id }

func (s *Server) view(ctx context.Context, ns string) (*clusterView, error) {
	v := &clusterView{allocs: map[string][]*api.Allocation{}, evals: map[string][]*api.Evaluation{}, nodes: map[string]string{}}
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns})
	if err != nil {
		return nil, err
	}
	for _, a := range allocs {
		k := jobKey(a.Namespace, a.JobID)
		v.allocs[k] = append(v.allocs[k], a)
	}
	evals, err := s.Store.ListEvals(ctx, "", "")
	if err != nil {
		return nil, err
	}
	for _, e := range evals {
		k := jobKey(e.Namespace, e.JobID)
		v.evals[k] = append(v.evals[k], e)
	}
	nodes, err := s.Store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		v.nodes[n.ID] = n.Name
	}
	return v, nil
}

// jobState reads one job with its allocations and evaluations, its
// status filled in.
func (s *Server) jobState(ctx context.Context, ns, id string) (*api.Job, []*api.Allocation, []*api.Evaluation, error) {
	j, _, err := s.Store.GetJob(ctx, ns, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, notFound("job not found")
	} else if err != nil {
		return nil, nil, nil, err
	}
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns, JobID: id})
	if err != nil {
		return nil, nil, nil, err
	}
	evals, err := s.Store.ListEvals(ctx, ns, id)
	if err != nil {
		return nil, nil, nil, err
	}
	j.Status = jobs.Status(j, allocs, evals)
	return j, allocs, evals, nil
}

// page applies Nomad's per_page and next_token to a list sorted by key,
// setting X-Nomad-NextToken when more follow.
func page[T any](w http.ResponseWriter, r *http.Request, items []T, key func(T) string) []T {
	q := r.URL.Query()
	if tok := q.Get("next_token"); tok != "" {
		i := sort.Search(len(items), func(i int) bool { return key(items[i]) >= tok })
		items = items[i:]
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 && len(items) > n {
		w.Header().Set("X-Nomad-NextToken", key(items[n]))
		items = items[:n]
	}
	return items
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	return s.jobList(w, r, nil)
}

// jobList answers a list of jobs' stubs: those keep keeps (all for nil)
// that the request's prefix and filter select.
func (s *Server) jobList(w http.ResponseWriter, r *http.Request, keep func(*api.Job) bool) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns := nsFilter(namespace(r))
	list, err := s.Store.ListJobs(ctx, ns)
	if err != nil {
		return err
	}
	if keep != nil {
		list = slices.DeleteFunc(list, func(j *api.Job) bool { return !keep(j) })
	}
	v, err := s.view(ctx, ns)
	if err != nil {
		return err
	}
	prefix := childPrefix(r.URL.Query().Get("prefix"))
	// As in Nomad, a filter reads the whole job (ParameterizedJob,
	// Periodic and TaskGroups are not on the list's stubs).
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	out := []*JobListStub{}
	for _, j := range list {
		if !strings.HasPrefix(j.ID, prefix) {
			continue
		}
		k := jobKey(j.Namespace, j.ID)
		j.Status = jobs.Status(j, v.allocs[k], v.evals[k])
		if f.filters() && !f.match(toJob(j, s.Region)) {
			continue
		}
		out = append(out, toJobStub(j, summarize(j, v.allocs[k], v.evals[k])))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return s.reply(w, r, page(w, r, out, func(j *JobListStub) string { return j.ID }))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	j, _, _, err := s.jobState(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	tags, err := s.Store.ListJobTags(ctx, j.Namespace, j.ID)
	if err != nil {
		return err
	}
	out := toJob(j, s.Region)
	withTags([]*Job{out}, tags)
	return s.reply(w, r, out)
}

// readRegisterRequest reads a JobRegisterRequest: the job in Nomad's JSON
// form, translated into ours and validated.
func readRegisterRequest(r *http.Request) (*api.Job, *JobRegisterRequest, error) {
	var body struct {
		Job json.RawMessage
		JobRegisterRequest
	}
	if err := decode(r, &body); err != nil {
		return nil, nil, err
	}
	if len(body.Job) == 0 || string(body.Job) == "null" {
		return nil, nil, badRequest("missing job")
	}
	job, err := jobspec.FromNomadAPI(body.Job)
	if err != nil {
		return nil, nil, badRequest("%v", err)
	}
	if ns := r.URL.Query().Get("namespace"); ns != "" && ns != "*" && job.Namespace == api.DefaultNamespace && ns != api.DefaultNamespace {
		job.Namespace = ns
	}
	if id := r.PathValue("id"); id != "" && id != job.ID {
		return nil, nil, badRequest("job ID %q in the path does not match the job's ID %q", id, job.ID)
	}
	return job, &body.JobRegisterRequest, nil
}

func (s *Server) registerJob(w http.ResponseWriter, r *http.Request) error {
	job, req, err := readRegisterRequest(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if req.PreserveCounts || req.PreserveResources {
		if err := s.preserve(ctx, job, req); err != nil {
			return err
		}
	}
	now := s.Now().UTC()
	var sub *api.JobSubmission
	if req.Submission != nil {
		sub = &api.JobSubmission{Source: req.Submission.Source, Format: req.Submission.Format,
			VariableFlags: req.Submission.VariableFlags, Variables: req.Submission.Variables}
	}
	src, srcWarning := variables.KeepJobSource(s.Vars, job.Namespace, job.ID, sub)
	var resp *api.RegisterResponse
	if req.EnforceIndex {
		resp, err = s.Store.RegisterJobFrom(ctx, job, now, int64(req.JobModifyIndex), src)
		var ie *store.IndexError
		if errors.As(err, &ie) {
			if ie.Current == 0 {
				return badRequest("Enforcing job modify index %d: job does not exist", req.JobModifyIndex)
			}
			return badRequest("Enforcing job modify index %d: job exists with conflicting job modify index: %d", req.JobModifyIndex, ie.Current)
		}
	} else {
		resp, err = s.Store.RegisterJobFrom(ctx, job, now, -1, src)
	}
	if err != nil {
		return err
	}
	evalID := resp.EvalID
	if evalID == "" && !job.IsTemplate() {
		// Nomad evaluates a job on every registration, changed or not;
		// its CLI monitors that evaluation.
		e, err := s.Store.CreateEval(ctx, job.Namespace, job.ID, api.EvalTriggerJobRegister, "", now, store.Guard{})
		if err != nil {
			return err
		}
		evalID = e.ID
	}
	if job.IsTemplate() {
		evalID = ""
	}
	cur, _, err := s.Store.GetJob(ctx, job.Namespace, job.ID)
	if err != nil {
		return err
	}
	warnings := append(job.Warnings(), resp.Warnings...)
	if srcWarning != "" {
		warnings = append(warnings, srcWarning)
	}
	out := &JobRegisterResponse{EvalID: evalID, JobModifyIndex: cur.ModifyIndex, EvalCreateIndex: cur.ModifyIndex,
		Warnings: strings.Join(warnings, "\n"), KnownLeader: true}
	return s.reply(w, r, out)
}

// jobSubmission answers GET /v1/job/{id}/submission?version=N: the source
// a version was submitted from (the current version without ?version=).
// Its variables are left out when their key is no longer in the keyring.
func (s *Server) jobSubmission(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	var version uint64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return badRequest("version %q is not a job version number", v)
		}
		version = n
	} else {
		cur, _, err := s.Store.GetJob(ctx, ns, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("job not found")
		} else if err != nil {
			return err
		}
		version = cur.Version
	}
	src, err := s.Store.GetJobSource(ctx, ns, id, version)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("job source not found")
	} else if err != nil {
		return err
	}
	out := &JobSubmission{Source: src.Source, Format: src.Format, Namespace: src.Namespace, JobID: src.JobID, Version: src.Version}
	out.VariableFlags, out.Variables, _ = variables.JobSourceVariables(ctx, s.Vars, src)
	return s.reply(w, r, out)
}

// preserve is job run's -preserve-counts and -preserve-resources: the
// groups the registered job already has keep their current count, and
// its tasks their current resources (a scaled job is not scaled back by
// its file). New groups and tasks take the file's.
func (s *Server) preserve(ctx context.Context, job *api.Job, req *JobRegisterRequest) error {
	cur, _, err := s.Store.GetJob(ctx, job.Namespace, job.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, g := range job.Groups {
		i := slices.IndexFunc(cur.Groups, func(c *api.TaskGroup) bool { return c.Name == g.Name })
		if i < 0 {
			continue
		}
		cg := cur.Groups[i]
		if req.PreserveCounts {
			g.Count = cg.Count
		}
		if !req.PreserveResources {
			continue
		}
		for _, t := range g.Tasks {
			if j := slices.IndexFunc(cg.Tasks, func(c *api.Task) bool { return c.Name == t.Name }); j >= 0 && cg.Tasks[j].Resources != nil {
				res := *cg.Tasks[j].Resources
				t.Resources = &res
			}
		}
	}
	return nil
}

func (s *Server) deregisterJob(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	purge := r.URL.Query().Get("purge") == "true"
	evalID, err := s.Store.StopJob(ctx, ns, id, purge, s.Now().UTC())
	if err == nil && r.URL.Query().Get("no_shutdown_delay") == "true" {
		// nomad job stop -no-shutdown-delay: its allocations are marked
		// once the job is stopped; a node whose allocation already waits
		// out its delay ends the wait when the mark reaches it.
		err = s.skipShutdownDelays(ctx, ns, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		// As in Nomad: nothing to stop, no evaluation (its CLI looks the
		// job up first and says it is not there).
		rev, _ := s.Store.Revision(ctx)
		return s.reply(w, r, &JobDeregisterResponse{JobModifyIndex: uint64(max(rev, 1))})
	} else if err != nil {
		return err
	}
	rev, _ := s.Store.Revision(ctx)
	return s.reply(w, r, &JobDeregisterResponse{EvalID: evalID, EvalCreateIndex: uint64(rev), JobModifyIndex: uint64(rev)})
}

// skipShutdownDelays marks a job's allocations that are not done to be
// stopped without their shutdown delays.
func (s *Server) skipShutdownDelays(ctx context.Context, ns, id string) error {
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns, JobID: id})
	if err != nil {
		return err
	}
	for _, a := range allocs {
		if a.Terminal() || a.NoShutdownDelay {
			continue
		}
		if _, err := s.Store.UpdateAlloc(ctx, a, func(cur *api.Allocation, _ *store.Txn) { cur.NoShutdownDelay = true }); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *Server) jobVersions(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	versions, err := s.Store.ListJobVersions(ctx, ns, id)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return notFound("job versions not found")
	}
	cur, _, err := s.Store.GetJob(ctx, ns, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	out := &JobVersionsResponse{Versions: []*Job{}, KnownLeader: true}
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if cur != nil && v.Version == cur.Version {
			v.Stop, v.Status = cur.Stop, cur.Status
		}
		out.Versions = append(out.Versions, toJob(v, s.Region))
	}
	tags, err := s.Store.ListJobTags(ctx, ns, id)
	if err != nil {
		return err
	}
	withTags(out.Versions, tags)
	q := r.URL.Query()
	if q.Get("diffs") == "true" {
		dv := q.Get("diff_version")
		if tag := q.Get("diff_tag"); tag != "" {
			// nomad job history -diff-tag T: every version against T's.
			i := slices.IndexFunc(tags, func(t *store.JobTag) bool { return t.Name == tag })
			if i < 0 {
				return badRequest("job %q has no version tagged %q", id, tag)
			}
			dv = strconv.FormatUint(tags[i].Version, 10)
		}
		if dv != "" {
			// nomad job history -diff-version N: every version against N.
			n, err := strconv.ParseUint(dv, 10, 64)
			if err != nil {
				return badRequest("diff_version %q is not a version number", dv)
			}
			i := slices.IndexFunc(out.Versions, func(j *Job) bool { return j.Version != nil && *j.Version == n })
			if i < 0 {
				return badRequest("job %q has no version %d to compare with", id, n)
			}
			for _, v := range out.Versions {
				out.Diffs = append(out.Diffs, jobDiff(out.Versions[i], v))
			}
			return s.reply(w, r, out)
		}
		for i := 0; i+1 < len(out.Versions); i++ {
			out.Diffs = append(out.Diffs, jobDiff(out.Versions[i+1], out.Versions[i]))
		}
	}
	return s.reply(w, r, out)
}

func (s *Server) jobAllocations(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	j, allocs, _, err := s.jobState(ctx, ns, id)
	if isNotFound(err) {
		return s.reply(w, r, []*AllocationListStub{}) // as Nomad: none, for a job that is not there
	} else if err != nil {
		return err
	}
	names, err := s.nodeNames(ctx)
	if err != nil {
		return err
	}
	out := []*AllocationListStub{}
	for _, a := range allocs {
		out = append(out, toAllocStub(a, j.Type, names[a.NodeID]))
	}
	sortStubs(out)
	return s.reply(w, r, out)
}

func sortStubs(out []*AllocationListStub) {
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
}

func (s *Server) nodeNames(ctx context.Context) (map[string]string, error) {
	nodes, err := s.Store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(nodes))
	for _, n := range nodes {
		out[n.ID] = n.Name
	}
	return out, nil
}

func (s *Server) jobEvaluations(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	j, _, evals, err := s.jobState(ctx, ns, id)
	if isNotFound(err) {
		return s.reply(w, r, []any{}) // as Nomad: none, for a job that is not there
	} else if err != nil {
		return err
	}
	return s.reply(w, r, evalList(evals, map[string]*api.Job{jobKey(ns, id): j}))
}

func (s *Server) jobDeployments(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ds, err := s.Store.ListDeployments(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := []*Deployment{}
	for i := len(ds) - 1; i >= 0; i-- {
		out = append(out, toDeployment(ds[i]))
	}
	return s.reply(w, r, out)
}

// jobDeployment answers the newest deployment, or null (200) when the job
// has none, as Nomad does.
func (s *Server) jobDeployment(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := s.Store.LatestDeployment(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if d == nil {
		return s.reply(w, r, nil)
	}
	return s.reply(w, r, toDeployment(d))
}

func (s *Server) jobSummary(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	j, allocs, evals, err := s.jobState(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	sum := summarize(j, allocs, evals)
	if j.IsTemplate() {
		children, err := s.children(ctx, j)
		if err != nil {
			return err
		}
		sum.Children = children
	}
	return s.reply(w, r, sum)
}

// children counts the children of a periodic or parameterized job by
// status.
func (s *Server) children(ctx context.Context, parent *api.Job) (*JobChildrenSummary, error) {
	list, err := s.Store.ListJobs(ctx, parent.Namespace)
	if err != nil {
		return nil, err
	}
	out := &JobChildrenSummary{}
	for _, c := range list {
		if c.ParentID != parent.ID {
			continue
		}
		allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: c.Namespace, JobID: c.ID})
		if err != nil {
			return nil, err
		}
		evals, err := s.Store.ListEvals(ctx, c.Namespace, c.ID)
		if err != nil {
			return nil, err
		}
		switch jobs.Status(c, allocs, evals) {
		case api.JobStatusPending:
			out.Pending++
		case api.JobStatusRunning:
			out.Running++
		default:
			out.Dead++
		}
	}
	return out, nil
}

// JobScaleStatus answers GET /v1/job/{id}/scale.
type JobScaleStatus struct {
	JobID          string
	Namespace      string
	JobCreateIndex uint64
	JobModifyIndex uint64
	JobStopped     bool
	TaskGroups     map[string]TaskGroupScaleStatus
}

// TaskGroupScaleStatus is one group's scale.
type TaskGroupScaleStatus struct {
	Desired   int
	Placed    int
	Running   int
	Healthy   int
	Unhealthy int
	Events    []any
}

func (s *Server) jobScaleStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	j, allocs, _, err := s.jobState(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := &JobScaleStatus{JobID: j.ID, Namespace: j.Namespace, JobCreateIndex: j.CreateIndex, JobModifyIndex: j.ModifyIndex,
		JobStopped: j.Stop, TaskGroups: map[string]TaskGroupScaleStatus{}}
	for _, g := range j.Groups {
		st := TaskGroupScaleStatus{Desired: g.Count, Events: []any{}}
		for _, a := range allocs {
			if a.TaskGroup != g.Name || a.DesiredStatus != api.AllocDesiredRun || a.Terminal() {
				continue
			}
			st.Placed++
			if a.ClientStatusOf() == api.AllocClientRunning {
				st.Running++
			}
			if h := a.Health(); h != nil {
				if h.Healthy {
					st.Healthy++
				} else {
					st.Unhealthy++
				}
			}
		}
		out.TaskGroups[g.Name] = st
	}
	return s.reply(w, r, out)
}

// scaleJob changes a group's count, as a new version of the job.
func (s *Server) scaleJob(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Count   *int64
		Target  map[string]string
		Message string
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	group := req.Target["Group"]
	if group == "" {
		return badRequest("scaling needs Target.Group")
	}
	if req.Count == nil {
		return badRequest("scaling without a count (scaling events only) is not supported")
	}
	if *req.Count < 0 || *req.Count > int64(api.MaxCount) {
		return badRequest("count %d is out of range (0 to %d)", *req.Count, api.MaxCount)
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	_, resp, err := jobs.Scale(ctx, s.Store, namespace(r), r.PathValue("id"), group, int(*req.Count), s.Now().UTC())
	if err != nil {
		return invalid(err)
	}
	return s.reply(w, r, &JobRegisterResponse{EvalID: resp.EvalID, KnownLeader: true})
}

// invalid turns jobs.ErrInvalid into a 400.
func invalid(err error) error {
	if errors.Is(err, jobs.ErrInvalid) {
		return badRequest("%v", err)
	}
	return err
}

func (s *Server) dispatchJob(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Payload          []byte
		Meta             map[string]string
		IdPrefixTemplate string
		Priority         int
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	o := jobs.DispatchOptions{IdempotencyToken: r.URL.Query().Get("idempotency_token"), IDPrefix: req.IdPrefixTemplate, Priority: req.Priority}
	child, resp, err := jobs.DispatchWith(ctx, s.Store, namespace(r), r.PathValue("id"), req.Payload, req.Meta, o, s.Now().UTC())
	if err != nil {
		return invalid(err)
	}
	out := &JobDispatchResponse{DispatchedJobID: child.ID}
	if resp != nil {
		out.EvalID = resp.EvalID
	}
	return s.reply(w, r, out)
}

func (s *Server) revertJob(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		JobVersion          uint64
		EnforcePriorVersion *uint64
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	if req.EnforcePriorVersion != nil {
		cur, _, err := s.Store.GetJob(ctx, ns, id)
		if err != nil {
			return err
		}
		if cur.Version != *req.EnforcePriorVersion {
			return badRequest("current job has version %d; enforcing version %d", cur.Version, *req.EnforcePriorVersion)
		}
	}
	resp, err := jobs.Revert(ctx, s.Store, ns, id, req.JobVersion, s.Now().UTC())
	if err != nil {
		return err
	}
	out := &JobRegisterResponse{EvalID: resp.EvalID, KnownLeader: true}
	if cur, _, err := s.Store.GetJob(ctx, ns, id); err == nil {
		out.JobModifyIndex, out.EvalCreateIndex = cur.ModifyIndex, cur.ModifyIndex
	}
	return s.reply(w, r, out)
}

// evaluateJob creates an evaluation of a job (nomad job eval).
func (s *Server) evaluateJob(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	if _, _, err := s.Store.GetJob(ctx, ns, id); err != nil {
		return err
	}
	e, err := s.Store.CreateEval(ctx, ns, id, "job-eval", "", s.Now().UTC(), store.Guard{})
	if err != nil {
		return err
	}
	return s.reply(w, r, &JobRegisterResponse{EvalID: e.ID, KnownLeader: true})
}

// forcePeriodic launches a periodic job's child now.
func (s *Server) forcePeriodic(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	j, _, err := s.Store.GetJob(ctx, namespace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	child, resp, err := jobs.LaunchPeriodic(ctx, s.Store, j, s.Now().UTC(), s.Now().UTC())
	if err != nil {
		return invalid(err)
	}
	if child == nil {
		return badRequest("job %q: a launch is still running and the job prohibits overlap", j.ID)
	}
	return s.reply(w, r, &struct {
		EvalID          string
		EvalCreateIndex uint64
		Index           uint64
	}{EvalID: resp.EvalID})
}

// childPrefix translates Nomad's names of a periodic or parameterized
// job's children into nomadic's: Nomad names them parent/periodic-<time>
// and parent/dispatch-<time>-<id>, nomadic parent-periodic-<time> and
// parent-dispatch-<time>-<id> (a job ID is one segment of its etcd keys).
// nomad job status lists a parent's children by such a prefix.
func childPrefix(prefix string) string {
	for _, suffix := range []string{"/periodic-", "/dispatch-"} {
		if parent, rest, ok := strings.Cut(prefix, suffix); ok && !strings.Contains(parent, "/") {
			return parent + "-" + suffix[1:] + rest
		}
	}
	return prefix
}

// tagVersion is nomad job tag apply: PUT /v1/job/{id}/versions/{name}/tag
// with the version (or Latest: the current one) and a description.
func (s *Server) tagVersion(w http.ResponseWriter, r *http.Request) error {
	var req TagVersionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id, name := namespace(r), r.PathValue("id"), r.PathValue("name")
	if err := store.ValidTagName(name); err != nil {
		return badRequest("%v", err)
	}
	if req.Latest {
		cur, _, err := s.Store.GetJob(ctx, ns, id)
		if err != nil {
			return err
		}
		req.Version = cur.Version
	}
	err := s.Store.TagJobVersion(ctx, ns, id, &store.JobTag{Name: name, Version: req.Version, Description: req.Description, TaggedTime: s.Now().UnixNano()})
	var inUse *store.TagInUseError
	if errors.As(err, &inUse) {
		return badRequest("%v", err)
	}
	if err != nil {
		return err
	}
	return s.replyWritten(ctx, w, r)
}

// untagVersion is nomad job tag unset.
func (s *Server) untagVersion(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := s.Store.UntagJobVersion(ctx, namespace(r), r.PathValue("id"), r.PathValue("name")); err != nil {
		return err
	}
	return s.replyWritten(ctx, w, r)
}

// withTags sets the VersionTag of each version that has one.
func withTags(versions []*Job, tags []*store.JobTag) {
	for _, t := range tags {
		for _, v := range versions {
			if v.Version != nil && *v.Version == t.Version {
				v.VersionTag = &JobVersionTag{Name: t.Name, Description: t.Description, TaggedTime: t.TaggedTime}
			}
		}
	}
}

// replyWritten answers a write that returns nothing but Nomad's write
// meta: the cluster's revision as its index.
func (s *Server) replyWritten(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	rev, _ := s.Store.Revision(ctx)
	return s.reply(w, r, &struct{ Index uint64 }{uint64(rev)})
}

// isNotFound is an answer of 404.
func isNotFound(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.code == http.StatusNotFound
}
