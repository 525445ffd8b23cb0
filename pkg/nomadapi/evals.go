package nomadapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Evaluations. nomadic keeps an evaluation that could not place everything
// as "blocked" and works it again when nodes change; Nomad completes it
// and queues a second, blocked evaluation for the rest. Nomad's CLI waits
// for a terminal status, so the evaluation is shown as Nomad would show
// it: complete, with its placement failures and a BlockedEval, and the
// blocked one is shown too, under an ID derived from the first.

// blockedID is the ID under which the blocked part of evaluation id is
// shown: a UUID derived from it, stable across requests.
func blockedID(id string) string {
	sum := sha256.Sum256([]byte("blocked:" + id))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// toEvals turns one of our evaluations into Nomad's: one, or two for a
// blocked one.
func toEvals(e *api.Evaluation, job *api.Job) []*Evaluation {
	typ, prio := api.JobTypeService, api.DefaultPriority
	var jobIndex uint64
	if job != nil {
		typ, prio, jobIndex = cmpOr(job.Type, api.JobTypeService), job.Priority, job.ModifyIndex
	}
	w := &Evaluation{
		ID: e.ID, Priority: prio, Type: typ, TriggeredBy: e.TriggeredBy, Namespace: e.Namespace, JobID: e.JobID,
		JobModifyIndex: jobIndex, NodeID: e.NodeID, DeploymentID: e.DeploymentID, Status: e.Status,
		StatusDescription: e.StatusDescription, WaitUntil: e.WaitUntil, FailedTGAllocs: toMetrics(e.FailedTGAllocs),
		QueuedAllocations: map[string]int{}, CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex,
		CreateTime: nanos(e.CreateTime), ModifyTime: nanos(e.ModifyTime),
	}
	if job != nil {
		for _, g := range job.Groups {
			w.QueuedAllocations[g.Name] = 0
		}
	}
	for g, m := range e.FailedTGAllocs {
		w.QueuedAllocations[g] = 1 + m.CoalescedFailures
	}
	if e.Status != api.EvalStatusBlocked {
		return []*Evaluation{w}
	}
	w.Status = api.EvalStatusComplete
	w.BlockedEval = blockedID(e.ID)
	return []*Evaluation{w, blockedPart(w, e)}
}

// blockedPart is the blocked evaluation Nomad would have queued for the
// rest of w (the view of e): while e is blocked, blocked; once e is done,
// what it ended as, so that its ID, once listed, is still found.
func blockedPart(w *Evaluation, e *api.Evaluation) *Evaluation {
	b := *w
	b.ID, b.Status, b.TriggeredBy = blockedID(e.ID), e.Status, "queued-allocs"
	b.StatusDescription = "created to place remaining allocations"
	b.PreviousEval, b.BlockedEval, b.FailedTGAllocs = e.ID, "", nil
	return &b
}

// evalList is every evaluation as Nomad shows them, newest first.
func evalList(evals []*api.Evaluation, jobs map[string]*api.Job) []*Evaluation {
	out := []*Evaluation{}
	for i := len(evals) - 1; i >= 0; i-- {
		e := evals[i]
		ws := toEvals(e, jobs[jobKey(e.Namespace, e.JobID)])
		for j := len(ws) - 1; j >= 0; j-- {
			out = append(out, ws[j])
		}
	}
	return out
}

// allEvals reads every evaluation (of a namespace, or all) with the jobs
// they belong to.
func (s *Server) allEvals(ctx context.Context, ns string) ([]*Evaluation, error) {
	out, _, err := s.allEvalsWithPast(ctx, ns)
	return out, err
}

// allEvalsWithPast is allEvals and the blocked parts of evaluations that
// are no longer blocked (see blockedPart): Nomad's blocked evaluations
// stay, so an ID a list once showed is still found by its ID or prefix.
func (s *Server) allEvalsWithPast(ctx context.Context, ns string) ([]*Evaluation, []*Evaluation, error) {
	evals, err := s.Store.ListEvals(ctx, "", "")
	if err != nil {
		return nil, nil, err
	}
	list, err := s.Store.ListJobs(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	jobs := map[string]*api.Job{}
	for _, j := range list {
		jobs[jobKey(j.Namespace, j.ID)] = j
	}
	var keep []*api.Evaluation
	var past []*Evaluation
	for _, e := range evals {
		if ns == "" || e.Namespace == ns {
			keep = append(keep, e)
			if e.Status != api.EvalStatusBlocked {
				past = append(past, blockedPart(toEvals(e, jobs[jobKey(e.Namespace, e.JobID)])[0], e))
			}
		}
	}
	return evalList(keep, jobs), past, nil
}

// findEval finds an evaluation by ID or unique prefix; the blocked part
// of an evaluation no longer blocked only by its whole ID or a prefix of
// at least pastPrefix characters (what Nomad's CLI shows), so that short
// prefixes do not find parts that never were.
func (s *Server) findEval(ctx context.Context, id string) (*Evaluation, error) {
	all, past, err := s.allEvalsWithPast(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(id) >= pastPrefix {
		all = append(all, past...)
	}
	var found *Evaluation
	for _, e := range all {
		if e.ID == id {
			return e, nil
		}
		if len(id) >= 1 && strings.HasPrefix(e.ID, id) {
			if found != nil {
				return nil, badRequest("evaluation prefix %q matches several evaluations", id)
			}
			found = e
		}
	}
	if found == nil {
		return nil, notFound("eval not found")
	}
	return found, nil
}

// pastPrefix is the shortest prefix that finds a past blocked part.
const pastPrefix = 8

func (s *Server) listEvaluations(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	all, past, err := s.allEvalsWithPast(ctx, nsFilter(namespace(r)))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	prefix, job, status := q.Get("prefix"), q.Get("job"), q.Get("status")
	if len(prefix) >= pastPrefix {
		// nomad eval status ID looks the ID up as a prefix first.
		all = append(all, past...)
	}
	f, err := parseFilter(q.Get("filter"))
	if err != nil {
		return err
	}
	out := []*Evaluation{}
	for _, e := range all {
		if idPrefix(e.ID, prefix) && (job == "" || e.JobID == job) && (status == "" || e.Status == status) && f.match(e) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
	return s.reply(w, r, page(w, r, out, func(e *Evaluation) string { return e.ID }))
}

func (s *Server) getEvaluation(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	e, err := s.findEval(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if related, _ := strconv.ParseBool(r.URL.Query().Get("related")); related {
		all, err := s.allEvals(ctx, "")
		if err != nil {
			return err
		}
		c := *e
		c.RelatedEvals = relatedEvals(e, all)
		if c.RelatedEvals == nil {
			c.RelatedEvals = []*EvaluationStub{}
		}
		e = &c
	}
	return s.reply(w, r, e)
}

// maxRelated bounds the chain of related evaluations shown.
const maxRelated = 100

// relatedEvals follows e's links (next, previous, blocked) and theirs,
// breadth first, at most maxRelated; e itself is not among them.
func relatedEvals(e *Evaluation, all []*Evaluation) []*EvaluationStub {
	byID := make(map[string]*Evaluation, len(all))
	for _, x := range all {
		byID[x.ID] = x
	}
	seen := map[string]bool{e.ID: true}
	queue := []*Evaluation{e}
	out := []*EvaluationStub{}
	for len(queue) > 0 && len(out) < maxRelated {
		cur := queue[0]
		queue = queue[1:]
		for _, id := range []string{cur.NextEval, cur.PreviousEval, cur.BlockedEval} {
			x := byID[id]
			if id == "" || seen[id] || x == nil || len(out) >= maxRelated {
				continue
			}
			seen[id] = true
			queue = append(queue, x)
			out = append(out, &EvaluationStub{ID: x.ID, Priority: x.Priority, Type: x.Type, TriggeredBy: x.TriggeredBy,
				Namespace: x.Namespace, JobID: x.JobID, NodeID: x.NodeID, DeploymentID: x.DeploymentID, Status: x.Status,
				StatusDescription: x.StatusDescription, WaitUntil: x.WaitUntil, NextEval: x.NextEval, PreviousEval: x.PreviousEval,
				BlockedEval: x.BlockedEval, CreateIndex: x.CreateIndex, ModifyIndex: x.ModifyIndex, CreateTime: x.CreateTime, ModifyTime: x.ModifyTime})
		}
	}
	return out
}

func (s *Server) evaluationAllocations(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	e, err := s.findEval(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	id := e.ID
	if e.PreviousEval != "" && e.ID == blockedID(e.PreviousEval) {
		id = e.PreviousEval // a blocked part's allocations are its evaluation's
	}
	allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: e.Namespace, JobID: e.JobID})
	if err != nil {
		return err
	}
	names, err := s.nodeNames(ctx)
	if err != nil {
		return err
	}
	out := []*AllocationListStub{}
	for _, a := range allocs {
		if a.EvalID == id {
			out = append(out, toAllocStub(a, e.Type, names[a.NodeID]))
		}
	}
	sortStubs(out)
	return s.reply(w, r, out)
}
