package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

// Exit codes of nctl plan, as Nomad's: no change, changes, error.
const (
	planNoChange = 0
	planChanges  = 1
	planError    = 255
)

func newPlanCmd(g *globals) *cobra.Command {
	var files []string
	var vf varFlags
	var output string
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what applying a job would change, with a scheduler dry run",
		Long: "Show what applying a job would change: the fields of the job, and where the scheduler would place, " +
			"stop or update allocations, with the reasons of any placement that would fail. Nothing is stored. " +
			"Exit code: 0 no change, 1 changes, 255 error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fail := func(err error) error { return &exitError{code: planError, err: err} }
			if len(files) == 0 {
				return fail(errors.New("name the job file with -f"))
			}
			opts, err := vf.options()
			if err != nil {
				return fail(err)
			}
			jobs, err := readJobFiles(files, cmd.InOrStdin(), opts)
			if err != nil {
				return fail(err)
			}
			code := planNoChange
			for _, jf := range jobs {
				if cmd.Flags().Changed("namespace") {
					jf.job.Namespace = g.namespace
				}
				ctx, cancel := g.ctx()
				resp, err := g.client().PlanJob(ctx, jf.job)
				cancel()
				if err != nil {
					return fail(fmt.Errorf("planning %s: %w", jf.path, err))
				}
				if output == "json" {
					b, _ := json.MarshalIndent(resp, "", "  ")
					fmt.Fprintln(g.out, string(b))
				} else {
					printPlan(g.out, resp)
				}
				if planHasChanges(resp) {
					code = planChanges
				}
			}
			if code != planNoChange {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "job file, directory of job files, or - for standard input")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for the API's answer")
	vf.register(cmd)
	return cmd
}

func planHasChanges(r *api.PlanResponse) bool {
	if r.Result != "unchanged" {
		return true
	}
	for _, c := range r.Changes {
		if c.Place+c.Stop+c.InPlace+c.Destructive+c.Migrate+c.Reschedule+c.Lost+c.Canary+c.Preempt > 0 {
			return true
		}
	}
	return false
}

func printPlan(w io.Writer, r *api.PlanResponse) {
	sign := map[string]string{"created": "+", "updated": "~", "unchanged": " "}[r.Result]
	fmt.Fprintf(w, "%s job %q (%s)\n", sign, r.JobID, r.Result)
	if r.Result == "updated" {
		for _, d := range r.Diff {
			switch {
			case d.Old == nil:
				fmt.Fprintf(w, "    + %s: %s\n", d.Path, show(d.New))
			case d.New == nil:
				fmt.Fprintf(w, "    - %s: %s\n", d.Path, show(d.Old))
			default:
				fmt.Fprintf(w, "    ~ %s: %s => %s\n", d.Path, show(d.Old), show(d.New))
			}
		}
	}
	fmt.Fprintln(w, "\nScheduler dry run:")
	groups := make([]string, 0, len(r.Changes))
	for name := range r.Changes {
		groups = append(groups, name)
	}
	sort.Strings(groups)
	for _, name := range groups {
		c := r.Changes[name]
		var parts []string
		for _, f := range []struct {
			n    int
			what string
		}{{c.Place, "place"}, {c.Canary, "canary"}, {c.InPlace, "update in place"}, {c.Destructive, "replace"},
			{c.Migrate, "migrate"}, {c.Reschedule, "reschedule"}, {c.Lost, "replace lost"}, {c.Stop, "stop"},
			{c.Preempt, "preempt"}, {c.Ignore, "leave as is"}, {c.Failed, "cannot place"}} {
			if f.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", f.n, f.what))
			}
		}
		if len(parts) == 0 {
			parts = []string{"no change"}
		}
		fmt.Fprintf(w, "  group %q: %s\n", name, strings.Join(parts, ", "))
	}
	if len(r.FailedTGAllocs) == 0 {
		fmt.Fprintln(w, "  - All allocations can be placed.")
	} else {
		describeFailures(w, &api.Evaluation{FailedTGAllocs: r.FailedTGAllocs})
	}
	for _, d := range r.Distribution {
		fmt.Fprintf(w, "\n  Spread of group %q over %s:\n", d.Group, d.Attribute)
		seen := map[string]bool{}
		var values []string
		for _, m := range []map[string]int{d.Counts} {
			for v := range m {
				seen[v] = true
				values = append(values, v)
			}
		}
		for v := range d.Targets {
			if !seen[v] {
				values = append(values, v)
			}
		}
		sort.Strings(values)
		for _, v := range values {
			line := fmt.Sprintf("    %-20s %d", v, d.Counts[v])
			if t, ok := d.Targets[v]; ok {
				line += fmt.Sprintf(" (desired %.1f)", t)
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nWarning: %s\n", warn)
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func newOperatorCmd(g *globals) *cobra.Command {
	op := &cobra.Command{Use: "operator", Short: "Cluster operations: scheduler configuration, keyring, snapshots"}
	op.AddCommand(newKeyringCmd(g), newSnapshotCmd(g))
	sched := &cobra.Command{Use: "scheduler", Short: "The cluster-wide scheduler configuration"}
	sched.AddCommand(&cobra.Command{
		Use:   "get-config",
		Short: "Show the scheduler configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			c, err := g.client().GetSchedulerConfig(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Algorithm:            %s\nPreemption disabled:  %v\n", c.Algorithm, c.PreemptionDisabled)
			return nil
		},
	})
	var algorithm string
	var noPreempt bool
	set := &cobra.Command{
		Use:   "set-config",
		Short: "Change the scheduler configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			c, err := g.client().GetSchedulerConfig(ctx)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("algorithm") {
				c.Algorithm = algorithm
			}
			if cmd.Flags().Changed("preemption-disabled") {
				c.PreemptionDisabled = noPreempt
			}
			if err := g.client().SetSchedulerConfig(ctx, &api.SchedulerConfig{Algorithm: c.Algorithm, PreemptionDisabled: c.PreemptionDisabled}); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "Scheduler configuration updated")
			return nil
		},
	}
	set.Flags().StringVar(&algorithm, "algorithm", "", "binpack (fill nodes) or spread (use empty nodes first)")
	set.Flags().BoolVar(&noPreempt, "preemption-disabled", false, "turn off preemption for system jobs")
	sched.AddCommand(set)
	op.AddCommand(sched)
	return op
}
