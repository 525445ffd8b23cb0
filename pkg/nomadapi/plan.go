package nomadapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/planner"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Diff types, as Nomad names them.
const (
	diffNone    = "None"
	diffAdded   = "Added"
	diffDeleted = "Deleted"
	diffEdited  = "Edited"
)

// planJob runs the scheduler on a job without submitting it, and answers
// with Nomad's diff and annotations.
func (s *Server) planJob(w http.ResponseWriter, r *http.Request) error {
	job, req, err := readRegisterRequest(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	old, _, err := s.Store.GetJob(ctx, job.Namespace, job.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	next := *job
	if old != nil {
		next.Version = old.Version
		if !store.SameSpec(old, job) || old.Stop {
			next.Version = old.Version + 1
		}
	}
	plan, _, err := planner.Compute(ctx, s.Store, job.Namespace, job.ID, &next, "plan-"+api.NewID(), s.Now().UTC())
	if err != nil {
		return err
	}
	out := &JobPlanResponse{FailedTGAllocs: toMetrics(plan.Failed), Warnings: joinLines(job.Warnings()),
		CreatedEvals: []*Evaluation{}}
	var oldWire *Job
	if old != nil {
		out.JobModifyIndex = old.ModifyIndex
		oldWire = toJob(old, s.Region)
	}
	diff := jobDiff(oldWire, toJob(&next, s.Region))
	if req.Diff {
		out.Diff = diff
	}
	if len(plan.Failed) > 0 {
		// What registering it would queue for the placements that
		// fail, as Nomad's plan says: a blocked evaluation.
		typ := cmpOr(next.Type, api.JobTypeService)
		out.CreatedEvals = append(out.CreatedEvals, &Evaluation{ID: api.NewID(), Namespace: next.Namespace, JobID: next.ID,
			Type: typ, Priority: next.Priority, TriggeredBy: "queued-allocs", Status: api.EvalStatusBlocked,
			StatusDescription: "created to place remaining allocations", QueuedAllocations: map[string]int{}})
	}
	out.Annotations = &PlanAnnotations{DesiredTGUpdates: map[string]*DesiredUpdates{}}
	for _, g := range next.Groups {
		u := &DesiredUpdates{}
		if c := plan.Changes[g.Name]; c != nil {
			u.Place = uint64(c.Place + c.Reschedule + c.Lost)
			u.Stop = uint64(c.Stop)
			u.Migrate = uint64(c.Migrate)
			u.InPlaceUpdate = uint64(c.InPlace)
			u.DestructiveUpdate = uint64(c.Destructive)
			u.Canary = uint64(c.Canary)
			u.Ignore = uint64(c.Ignore)
		}
		out.Annotations.DesiredTGUpdates[g.Name] = u
	}
	for _, tg := range diff.TaskGroups {
		if u := out.Annotations.DesiredTGUpdates[tg.Name]; u != nil {
			tg.Updates = map[string]uint64{}
			for k, v := range map[string]uint64{"create": u.Place, "destroy": u.Stop, "migrate": u.Migrate,
				"in-place update": u.InPlaceUpdate, "create/destroy update": u.DestructiveUpdate, "canary": u.Canary, "ignore": u.Ignore} {
				if v > 0 {
					tg.Updates[k] = v
				}
			}
		}
	}
	return s.reply(w, r, out)
}

func joinLines(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += "\n"
		}
		out += s
	}
	return out
}

// serverFields are job fields the servers set; they are not part of a
// diff.
var serverFields = map[string]bool{
	"Status": true, "StatusDescription": true, "Stable": true, "Version": true, "SubmitTime": true,
	"CreateIndex": true, "ModifyIndex": true, "JobModifyIndex": true, "Stop": true,
}

// jobDiff compares two versions of a job (old nil: the job is new) field
// by field, with groups and tasks matched by name, as Nomad's plan shows
// it.
func jobDiff(old, next *Job) *JobDiff {
	d := &JobDiff{Type: diffNone, Fields: []*FieldDiff{}, Objects: []*ObjectDiff{}, TaskGroups: []*TaskGroupDiff{}}
	if next != nil && next.ID != nil {
		d.ID = *next.ID
	}
	om, nm := asMap(old), asMap(next)
	oldGroups, newGroups := byName(om["TaskGroups"]), byName(nm["TaskGroups"])
	delete(om, "TaskGroups")
	delete(nm, "TaskGroups")
	for k := range serverFields {
		delete(om, k)
		delete(nm, k)
	}
	d.Fields, d.Objects = diffMaps(om, nm)
	for _, name := range unionKeys(oldGroups, newGroups) {
		g := groupDiff(name, oldGroups[name], newGroups[name])
		d.TaskGroups = append(d.TaskGroups, g)
	}
	switch {
	case old == nil:
		d.Type = diffAdded
	case next == nil:
		d.Type = diffDeleted
	case len(d.Fields) > 0 || len(d.Objects) > 0:
		d.Type = diffEdited
	default:
		for _, g := range d.TaskGroups {
			if g.Type != diffNone {
				d.Type = diffEdited
			}
		}
	}
	return d
}

func groupDiff(name string, old, next map[string]any) *TaskGroupDiff {
	g := &TaskGroupDiff{Name: name, Type: diffNone, Fields: []*FieldDiff{}, Objects: []*ObjectDiff{}, Tasks: []*TaskDiff{}}
	oldTasks, newTasks := byName(old["Tasks"]), byName(next["Tasks"])
	o, n := copyWithout(old, "Tasks", "Name"), copyWithout(next, "Tasks", "Name")
	g.Fields, g.Objects = diffMaps(o, n)
	changed := len(g.Fields) > 0 || len(g.Objects) > 0
	for _, tn := range unionKeys(oldTasks, newTasks) {
		t := &TaskDiff{Name: tn, Type: diffNone, Fields: []*FieldDiff{}, Objects: []*ObjectDiff{}, Annotations: []string{}}
		to, tnx := copyWithout(oldTasks[tn], "Name"), copyWithout(newTasks[tn], "Name")
		t.Fields, t.Objects = diffMaps(to, tnx)
		switch {
		case oldTasks[tn] == nil:
			t.Type = diffAdded
		case newTasks[tn] == nil:
			t.Type = diffDeleted
		case len(t.Fields) > 0 || len(t.Objects) > 0:
			t.Type = diffEdited
		}
		if t.Type != diffNone {
			changed = true
		}
		g.Tasks = append(g.Tasks, t)
	}
	switch {
	case old == nil:
		g.Type = diffAdded
	case next == nil:
		g.Type = diffDeleted
	case changed:
		g.Type = diffEdited
	}
	return g
}

func asMap(v any) map[string]any {
	out := map[string]any{}
	if v == nil {
		return out
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}

func byName(v any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if name, ok := m["Name"].(string); ok {
				out[name] = m
			}
		}
	}
	return out
}

func copyWithout(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return sortedKeys(set)
}

// diffMaps compares two objects: primitive fields become field diffs,
// nested objects and lists object diffs.
func diffMaps(old, next map[string]any) ([]*FieldDiff, []*ObjectDiff) {
	fields, objects := []*FieldDiff{}, []*ObjectDiff{}
	for _, k := range unionKeys(old, next) {
		o, n := old[k], next[k]
		if isObject(o) || isObject(n) {
			if od := objectDiff(k, o, n); od != nil {
				objects = append(objects, od)
			}
			continue
		}
		os, ns := scalar(o), scalar(n)
		if os == ns {
			continue
		}
		fd := &FieldDiff{Name: k, Old: os, New: ns, Type: diffEdited, Annotations: []string{}}
		switch {
		case o == nil:
			fd.Type = diffAdded
		case n == nil:
			fd.Type = diffDeleted
		}
		fields = append(fields, fd)
	}
	return fields, objects
}

func isObject(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func objectDiff(name string, o, n any) *ObjectDiff {
	om, nm := flatObject(o), flatObject(n)
	fields, objects := diffMaps(om, nm)
	if len(fields) == 0 && len(objects) == 0 {
		return nil
	}
	od := &ObjectDiff{Name: name, Type: diffEdited, Fields: fields, Objects: objects}
	switch {
	case o == nil || len(om) == 0:
		od.Type = diffAdded
	case n == nil || len(nm) == 0:
		od.Type = diffDeleted
	}
	return od
}

// flatObject turns a list into an object keyed by position, so lists
// compare element by element.
func flatObject(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		out := map[string]any{}
		for i, e := range x {
			out[fmt.Sprint(i)] = e
		}
		return out
	}
	return map[string]any{}
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
