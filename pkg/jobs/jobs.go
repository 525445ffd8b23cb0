// Package jobs holds what both APIs (the native one and Nomad's) do to
// jobs beyond storing them: a job's status as its allocations and
// evaluations show it, dispatching a parameterized job, reverting to an
// earlier version. Invalid requests are reported as errors wrapping
// ErrInvalid, which the APIs answer with 400.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/catalog"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ErrInvalid marks a request that cannot be carried out as asked.
var ErrInvalid = errors.New("invalid request")

// Status is a job's status as Nomad reports it: running while any of its
// allocations runs; pending while allocations are starting or waiting
// for capacity (a blocked evaluation), or before any was placed; dead
// once stopped or when everything it ran has ended. Periodic and
// parameterized jobs run as long as they are not stopped.
func Status(j *api.Job, allocs []*api.Allocation, evals []*api.Evaluation) string {
	running, pending := 0, 0
	for _, a := range allocs {
		switch a.ClientStatusOf() {
		case api.AllocClientRunning:
			running++
		case api.AllocClientPending:
			if a.DesiredStatus == api.AllocDesiredRun {
				pending++
			}
		}
	}
	waiting := false
	for _, e := range evals {
		if e.Status == api.EvalStatusBlocked || e.Status == api.EvalStatusPending {
			waiting = true
		}
	}
	switch {
	case j.IsTemplate() && !j.Stop:
		return api.JobStatusRunning
	case running > 0:
		return api.JobStatusRunning
	case j.Stop:
		return api.JobStatusDead
	case pending > 0 || len(allocs) == 0 || waiting:
		return api.JobStatusPending
	}
	return api.JobStatusDead
}

// MaxPayload bounds a dispatch payload, as Nomad's 16 KiB.
const MaxPayload = 16 << 10

// DispatchOptions are a dispatch's optional settings.
type DispatchOptions struct {
	// IdempotencyToken: while a child dispatched with the same token
	// exists and is not stopped, the dispatch returns it instead of
	// launching another.
	IdempotencyToken string
	// IDPrefix goes into the child's ID after "-dispatch-".
	IDPrefix string
	// Priority, when set, is the child's instead of the parent's.
	Priority int
}

// Dispatch launches a child of a parameterized job with a payload and
// metadata, checked against the job's parameterized block. It returns the
// child and how its registration went (a nil response when an earlier
// child of the same idempotency token was returned).
func Dispatch(ctx context.Context, st *store.Store, ns, id string, payload []byte, meta map[string]string, now time.Time) (*api.Job, *api.RegisterResponse, error) {
	return DispatchWith(ctx, st, ns, id, payload, meta, DispatchOptions{}, now)
}

// DispatchWith is Dispatch with options.
func DispatchWith(ctx context.Context, st *store.Store, ns, id string, payload []byte, meta map[string]string, o DispatchOptions, now time.Time) (*api.Job, *api.RegisterResponse, error) {
	parent, _, err := st.GetJob(ctx, ns, id)
	if err != nil {
		return nil, nil, fmt.Errorf("job %q: %w", id, err)
	}
	p := parent.Parameterized
	if p == nil {
		return nil, nil, fmt.Errorf("job %q is not parameterized: %w", id, ErrInvalid)
	}
	if parent.Stop {
		return nil, nil, fmt.Errorf("job %q is stopped: %w", id, ErrInvalid)
	}
	var problems []string
	switch {
	case len(payload) > MaxPayload:
		problems = append(problems, fmt.Sprintf("payload of %d bytes is over the %d-byte limit", len(payload), MaxPayload))
	case p.Payload == "required" && len(payload) == 0:
		problems = append(problems, "the job requires a payload")
	case p.Payload == "forbidden" && len(payload) > 0:
		problems = append(problems, "the job takes no payload")
	}
	allowed := map[string]bool{}
	for _, k := range p.MetaRequired {
		allowed[k] = true
		if _, ok := meta[k]; !ok {
			problems = append(problems, fmt.Sprintf("meta %q is required", k))
		}
	}
	for _, k := range p.MetaOptional {
		allowed[k] = true
	}
	var unknown []string
	for k := range meta {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("meta %q is neither required nor optional for this job", k))
	}
	if o.IDPrefix != "" && !api.ValidName(o.IDPrefix) {
		problems = append(problems, fmt.Sprintf("id prefix template %q must be letters, digits, '_', '.' or '-'", o.IDPrefix))
	}
	if o.Priority != 0 && (o.Priority < 1 || o.Priority > 100) {
		problems = append(problems, fmt.Sprintf("priority %d must be between 1 and 100", o.Priority))
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("cannot dispatch job %q: %s: %w", id, strings.Join(problems, "; "), ErrInvalid)
	}
	if o.IdempotencyToken != "" {
		children, err := st.ListJobs(ctx, ns)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range children {
			if c.ParentID == parent.ID && c.DispatchIdempotencyToken == o.IdempotencyToken && !c.Stop {
				return c, nil, nil
			}
		}
	}
	child := *parent
	child.Indexes = api.Indexes{}
	prefix := ""
	if o.IDPrefix != "" {
		prefix = o.IDPrefix + "-"
	}
	child.ID = fmt.Sprintf("%s-dispatch-%s%d-%s", parent.ID, prefix, now.Unix(), api.ShortID(api.NewID()))
	child.DispatchIdempotencyToken = o.IdempotencyToken
	if o.Priority != 0 {
		child.Priority = o.Priority
	}
	child.Name = child.ID
	child.ParentID = parent.ID
	child.Parameterized = nil
	child.Payload = payload
	child.Version, child.Status, child.Stop = 0, "", false
	child.Meta = map[string]string{}
	for k, v := range parent.Meta {
		child.Meta[k] = v
	}
	for k, v := range meta {
		child.Meta[k] = v
	}
	resp, err := st.RegisterJob(ctx, &child, now)
	if err != nil {
		return nil, nil, err
	}
	return &child, resp, nil
}

// Revert submits an earlier version's specification again, as the job's
// next version. A version no longer kept is store.ErrNotFound.
func Revert(ctx context.Context, st *store.Store, ns, id string, version uint64, now time.Time) (*api.RegisterResponse, error) {
	old, err := st.GetJobVersion(ctx, ns, id, version)
	if err != nil {
		return nil, fmt.Errorf("job %q has no version %d (kept versions: nctl job history %s): %w", id, version, id, err)
	}
	job := *old
	job.Version, job.Stop, job.Status = 0, false, ""
	return st.RegisterJob(ctx, &job, now)
}

// Scale sets the count of one group of a job, within the bounds of the
// group's scaling block, as the job's next version.
func Scale(ctx context.Context, st *store.Store, ns, id, group string, count int, now time.Time) (*api.Job, *api.RegisterResponse, error) {
	job, _, err := st.GetJob(ctx, ns, id)
	if err != nil {
		return nil, nil, fmt.Errorf("job %q: %w", id, err)
	}
	if job.Stop {
		return nil, nil, fmt.Errorf("job %q is stopped: apply it again before scaling it: %w", id, ErrInvalid)
	}
	next := *job
	next.Indexes = api.Indexes{}
	next.Groups = make([]*api.TaskGroup, len(job.Groups))
	for i, g := range job.Groups {
		cp := *g
		next.Groups[i] = &cp
	}
	if err := next.Scale(group, count); err != nil {
		return nil, nil, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	next.Version, next.Status = 0, ""
	if err := catalog.ValidateJob(&next); err != nil {
		return nil, nil, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	resp, err := st.RegisterJob(ctx, &next, now)
	if err != nil {
		return nil, nil, err
	}
	return &next, resp, nil
}

// LaunchPeriodic registers the child of a periodic job for the launch at
// time at: "<job>-periodic-<unix time>", a copy of the job without its
// periodic block. The child's ID is fixed by the launch time, so a launch
// repeated (after a crash, by two leaders) finds the child there and
// changes nothing. With prohibit_overlap a launch is skipped — nil child,
// no error — while an earlier child still runs.
func LaunchPeriodic(ctx context.Context, st *store.Store, j *api.Job, at, now time.Time) (*api.Job, *api.RegisterResponse, error) {
	if j.Periodic == nil {
		return nil, nil, fmt.Errorf("job %q is not periodic: %w", j.ID, ErrInvalid)
	}
	if j.Stop {
		return nil, nil, fmt.Errorf("job %q is stopped: %w", j.ID, ErrInvalid)
	}
	if j.Periodic.ProhibitOverlap {
		running, err := childRunning(ctx, st, j)
		if err != nil {
			return nil, nil, err
		}
		if running {
			return nil, nil, nil
		}
	}
	child := *j
	child.Indexes = api.Indexes{}
	child.ID = j.ID + "-periodic-" + strconv.FormatInt(at.Unix(), 10)
	child.Name = child.ID
	child.ParentID = j.ID
	child.Periodic = nil
	child.Version, child.Status = 0, ""
	resp, err := st.RegisterJob(ctx, &child, now)
	if err != nil {
		return nil, nil, fmt.Errorf("registering %s: %w", child.ID, err)
	}
	return &child, resp, nil
}

// childRunning reports whether a child of the job has allocations that
// have not ended, or has not been placed yet.
func childRunning(ctx context.Context, st *store.Store, j *api.Job) (bool, error) {
	list, err := st.ListJobs(ctx, j.Namespace)
	if err != nil {
		return false, err
	}
	for _, c := range list {
		if c.ParentID != j.ID || c.Stop {
			continue
		}
		allocs, err := st.ListAllocs(ctx, store.AllocFilter{Namespace: c.Namespace, JobID: c.ID})
		if err != nil {
			return false, err
		}
		if len(allocs) == 0 {
			return true, nil // registered, not placed yet
		}
		for _, a := range allocs {
			if !a.Terminal() {
				return true, nil
			}
		}
	}
	return false, nil
}
