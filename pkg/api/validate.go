package api

import (
	"fmt"
	"regexp"
	"strings"
)

// Defaults applied by Canonicalize, as in Nomad.
const (
	DefaultPriority    = 50
	DefaultCPU         = 100
	DefaultMemoryMB    = 300
	DefaultKillTimeout = Duration(5e9)
)

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// Canonicalize fills in the defaults of every field the submitter left
// empty. It is the one place where defaults are applied, so the servers and
// `nctl job inspect` show the same thing.
func (j *Job) Canonicalize() {
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Namespace == "" {
		j.Namespace = DefaultNamespace
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Priority == 0 {
		j.Priority = DefaultPriority
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	for _, g := range j.Groups {
		if g == nil {
			continue
		}
		for _, t := range g.Tasks {
			if t == nil {
				continue
			}
			if t.Resources == nil {
				t.Resources = &Resources{}
			}
			if t.Resources.CPU == 0 {
				t.Resources.CPU = DefaultCPU
			}
			if t.Resources.MemoryMB == 0 {
				t.Resources.MemoryMB = DefaultMemoryMB
			}
			if t.KillTimeout == 0 {
				t.KillTimeout = DefaultKillTimeout
			}
		}
	}
}

// Validate checks a canonicalized job and returns every problem found, each
// naming the field it is about. The servers call it on every submission.
func (j *Job) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if j.ID == "" {
		add("job id is required")
	} else if !namePattern.MatchString(j.ID) {
		add("job id %q must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit", j.ID)
	}
	if j.Namespace != "" && !namePattern.MatchString(j.Namespace) {
		add("namespace %q is not a valid name", j.Namespace)
	}
	switch j.Type {
	case JobTypeService, JobTypeBatch:
	default:
		add("job type %q is not supported (service or batch)", j.Type)
	}
	if j.Priority < 1 || j.Priority > 100 {
		add("priority %d must be between 1 and 100", j.Priority)
	}
	if len(j.Groups) == 0 {
		add("job %q has no group", j.ID)
	}
	groups := map[string]bool{}
	for gi, g := range j.Groups {
		if g == nil {
			add("groups[%d] is empty", gi)
			continue
		}
		where := fmt.Sprintf("group %q", g.Name)
		if g.Name == "" {
			where = fmt.Sprintf("groups[%d]", gi)
			add("%s: name is required", where)
		} else if !namePattern.MatchString(g.Name) {
			add("%s: name is not a valid name", where)
		}
		if groups[g.Name] {
			add("%s: defined twice", where)
		}
		groups[g.Name] = true
		if g.Count < 0 {
			add("%s: count %d must not be negative", where, g.Count)
		}
		if len(g.Tasks) == 0 {
			add("%s: has no task", where)
		}
		tasks := map[string]bool{}
		for ti, t := range g.Tasks {
			if t == nil {
				add("%s: tasks[%d] is empty", where, ti)
				continue
			}
			tw := fmt.Sprintf("%s task %q", where, t.Name)
			if t.Name == "" {
				tw = fmt.Sprintf("%s tasks[%d]", where, ti)
				add("%s: name is required", tw)
			} else if !namePattern.MatchString(t.Name) {
				add("%s: name is not a valid name", tw)
			}
			if tasks[t.Name] {
				add("%s: defined twice", tw)
			}
			tasks[t.Name] = true
			if t.Driver == "" {
				add("%s: driver is required", tw)
			}
			if t.Resources != nil {
				if t.Resources.CPU < 0 {
					add("%s: resources.cpu %d must be positive", tw, t.Resources.CPU)
				}
				if t.Resources.MemoryMB < 0 {
					add("%s: resources.memory %d must be positive", tw, t.Resources.MemoryMB)
				}
				if t.Resources.MemoryMax != 0 && t.Resources.MemoryMax < t.Resources.MemoryMB {
					add("%s: resources.memory_max %d must not be below memory %d", tw, t.Resources.MemoryMax, t.Resources.MemoryMB)
				}
			}
			if t.KillTimeout < 0 {
				add("%s: kill_timeout must not be negative", tw)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Problems: errs}
}

// ValidationError lists every problem found in a job.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid job: " + e.Problems[0]
	}
	return "invalid job:\n  " + strings.Join(e.Problems, "\n  ")
}
