// Package catalog knows the task drivers nomadic ships and checks a job's
// driver configurations against them, so that a bad config block is
// reported when the job is submitted, not when a node tries to run it.
//
// It checks configs through their descriptions in package drivercfg, which
// the drivers decode with too, and imports no driver: a program that
// validates jobs (nctl) links neither containerd nor grpc.
package catalog

import (
	"errors"
	"fmt"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
)

// validators check a driver's config block, by driver name. A name is a
// key, not a property of the check, so that one check may serve under
// several names.
var validators = map[string]func(map[string]any) error{}

func init() {
	for _, s := range drivercfg.Builtin() {
		validators[s.Driver] = s.Validate
	}
}

// Register adds a driver's config check under its name. Drivers built into
// nomadic are registered here already; tests register drivers of their own.
func Register(name string, validate func(map[string]any) error) {
	validators[name] = validate
	drivercfg.MarkKnown(name)
}

// Names lists the known drivers.
func Names() []string {
	out := make([]string, 0, len(validators))
	for n := range validators {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Validate checks every task's driver and config; problems carry the field
// paths of api.Job.Validate. A driver nomadic does not know is not a
// problem, as in Nomad: a node may have it, and the scheduler says which
// driver is missing when no node does (api.Job.Warnings tells the user
// up front).
func Validate(job *api.Job) []api.Problem {
	var out []api.Problem
	for gi, g := range job.Groups {
		if g == nil {
			continue
		}
		for ti, t := range g.Tasks {
			if t == nil || t.Driver == "" {
				continue
			}
			path := fmt.Sprintf("groups[%d].tasks[%d]", gi, ti)
			check, ok := validators[t.Driver]
			if !ok {
				continue
			}
			if err := check(t.Config); err != nil {
				p := path + ".config"
				var oe *drivercfg.OptionError
				if errors.As(err, &oe) {
					p += "." + oe.Option
				}
				out = append(out, api.Problem{Path: p, Message: err.Error()})
			}
		}
	}
	return out
}

// ValidateJob runs api.Job.Validate and the driver checks, and returns
// every problem of both as one *api.ValidationError, or nil.
func ValidateJob(job *api.Job) error {
	var problems []api.Problem
	if err := job.Validate(); err != nil {
		ve, ok := err.(*api.ValidationError)
		if !ok {
			return err
		}
		problems = append(problems, ve.Problems...)
	}
	problems = append(problems, Validate(job)...)
	if len(problems) == 0 {
		return nil
	}
	return &api.ValidationError{Problems: problems}
}
