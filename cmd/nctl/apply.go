package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/spf13/cobra"
)

// jobFile is a parsed job file.
type jobFile struct {
	path string
	job  *api.Job
	// sub is the file as the servers keep it with the version it
	// registers (nctl job inspect -source, nomad job inspect -hcl).
	sub *api.JobSubmission
}

// varFlags are the -var and -var-file flags of the commands that read job
// files.
type varFlags struct {
	vars     []string
	varFiles []string
}

func (v *varFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&v.vars, "var", nil, "set a variable of the job file: name=value (repeatable)")
	cmd.Flags().StringArrayVar(&v.varFiles, "var-file", nil, "read variable values from an HCL or JSON file (repeatable)")
}

// options turns the flags into parser options; the environment supplies
// NOMAD_VAR_<name> values.
func (v *varFlags) options() (*jobspec.Options, error) {
	opts := &jobspec.Options{Vars: map[string]string{}, VarFiles: map[string][]byte{}, Env: os.Environ()}
	for _, kv := range v.vars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-var %q: want name=value", kv)
		}
		opts.Vars[name] = val
	}
	for _, f := range v.varFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading -var-file: %w", err)
		}
		opts.VarFiles[f] = b
		opts.VarFileOrder = append(opts.VarFileOrder, f)
	}
	return opts, nil
}

// readJobFiles parses every named file ("-" is standard input; a directory
// means the job files in it) and returns all problems of all files at once.
func readJobFiles(paths []string, stdin io.Reader, opts *jobspec.Options) ([]jobFile, error) {
	var files []string
	for _, p := range paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		var found []string
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".hcl", ".nomad", ".json", ".yaml", ".yml":
				if !e.IsDir() {
					found = append(found, filepath.Join(p, e.Name()))
				}
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no job file (.hcl, .nomad, .json, .yaml)", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	var out []jobFile
	var errs []error
	for _, f := range files {
		var src []byte
		var err error
		name := f
		if f == "-" {
			name = "<stdin>"
			src, err = io.ReadAll(stdin)
		} else {
			src, err = os.ReadFile(f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", name, err))
			continue
		}
		job, err := jobspec.ParseWithOptions(name, src, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, jobFile{path: name, job: job, sub: submission(name, src, opts)})
	}
	return out, errors.Join(errs...)
}

// submission is a job file as it is sent beside its job: the file, its
// format, and the -var values and -var-file contents it was read with
// (not the NOMAD_VAR_ environment, as Nomad's CLI).
func submission(name string, src []byte, opts *jobspec.Options) *api.JobSubmission {
	sub := &api.JobSubmission{Source: string(src), Format: jobspec.Format(name, src)}
	if sub.Format != "hcl2" || opts == nil {
		return sub
	}
	if len(opts.Vars) > 0 {
		sub.VariableFlags = opts.Vars
	}
	var b strings.Builder
	for _, f := range opts.VarFileNames() {
		b.Write(opts.VarFiles[f])
		if v := opts.VarFiles[f]; len(v) > 0 && v[len(v)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	sub.Variables = b.String()
	return sub
}

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	var vf varFlags
	var detach bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [-f ...]",
		Short: "Create or update jobs from job files",
		Example: `  nctl apply -f example.hcl
  nctl apply -f jobs/
  cat job.hcl | nctl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("name the job files with -f")
			}
			opts, err := vf.options()
			if err != nil {
				return err
			}
			jobs, err := readJobFiles(files, cmd.InOrStdin(), opts)
			if err != nil {
				return err
			}
			c := g.client()
			for _, jf := range jobs {
				if cmd.Flags().Changed("namespace") {
					jf.job.Namespace = g.namespace
				}
				ctx, cancel := g.ctx()
				resp, err := c.RegisterJobFrom(ctx, jf.job, jf.sub)
				cancel()
				if err != nil {
					return fmt.Errorf("applying %s: %w", jf.path, err)
				}
				line := fmt.Sprintf("job/%s %s", resp.JobID, resp.Result)
				if resp.Result != "unchanged" {
					line += fmt.Sprintf(" (version %d, evaluation %s)", resp.JobVersion, api.ShortID(resp.EvalID))
				}
				fmt.Fprintln(g.out, line)
				for _, w := range resp.Warnings {
					fmt.Fprintf(g.errOut, "Warning: job/%s: %s\n", resp.JobID, w)
				}
				if !detach && resp.Result != "unchanged" && !jf.job.IsTemplate() {
					var err error
					if hasDeployments(jf.job) {
						err = followDeployment(cmd.Context(), g, resp.Namespace, resp.JobID, resp.JobVersion, resp.EvalID, timeout)
					} else {
						err = follow(cmd.Context(), g, jf.job, resp, timeout)
					}
					if err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the job is submitted, without following its allocations")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to follow the allocations (or, for a service with an update block, its deployment) before giving up")
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "job file, directory of job files, or - for standard input")
	vf.register(cmd)
	return cmd
}

func newValidateCmd(g *globals) *cobra.Command {
	var vf varFlags
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR|-...",
		Short: "Check job files without submitting them",
		Long: "Check job files without submitting them. Every problem is printed as file:line:col: message, " +
			"all of them at once; the exit code is 0 when every file is valid and 1 otherwise. " +
			"A variable without a value is validated with a placeholder, with a warning: apply and plan need its value.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := vf.options()
			if err != nil {
				return err
			}
			opts.Placeholders = true // values may come at apply time
			jobs, err := readJobFiles(args, cmd.InOrStdin(), opts)
			for _, jf := range jobs {
				fmt.Fprintf(g.out, "%s: job %q is valid\n", jf.path, jf.job.ID)
				for _, w := range jf.job.Warnings() {
					fmt.Fprintf(g.errOut, "Warning: %s: %s\n", jf.path, w)
				}
			}
			return err // the invalid files' problems, after the valid ones
		},
	}
	vf.register(cmd)
	return cmd
}

// follow shows a submitted job's allocations of the new version coming up,
// like kubectl rollout status: it returns when they all run (or, for batch
// jobs, ran), and fails when one fails, when the scheduler cannot place
// them, or after timeout.
func follow(ctx context.Context, g *globals, job *api.Job, resp *api.RegisterResponse, timeout time.Duration) error {
	ctx, cancel := followContext(ctx, timeout)
	defer cancel()
	c := g.client()
	want := 0
	for _, gr := range job.Groups {
		want += gr.Count
	}
	system := job.Type == api.JobTypeSystem || job.Type == api.JobTypeSysbatch
	q := url.Values{}
	q.Set("namespace", resp.Namespace)
	last := ""
	for {
		// Read the allocations first and the evaluation after them, then
		// wait for anything of the job (its allocations or evaluations)
		// to change after the allocations' index: a change between the
		// two reads, or after them, wakes the wait.
		var allocs []*api.Allocation
		index, err := c.Watch(ctx, "/v1/job/"+url.PathEscape(job.ID)+"/allocations", q, 0, 0, &allocs)
		if err != nil {
			return followErr(ctx, err, timeout)
		}
		ev, err := c.Eval(ctx, resp.EvalID)
		var nf *client.APIError
		if errors.As(err, &nf) && nf.Status == http.StatusNotFound {
			// Trimmed with the job's older finished evaluations: it
			// completed long ago.
			ev, err = &api.Evaluation{ID: resp.EvalID, Status: api.EvalStatusComplete}, nil
		}
		if err != nil {
			return followErr(ctx, err, timeout)
		}
		if ev.Status == api.EvalStatusBlocked {
			fmt.Fprintf(g.out, "job/%s: some allocations cannot be placed:\n", job.ID)
			describeFailures(g.out, ev)
			return &exitError{code: 1, err: fmt.Errorf("job/%s is not fully placed; it will be when nodes change (nctl describe job %s)", job.ID, job.ID)}
		}

		counts := map[string]int{}
		total := 0
		for _, a := range allocs {
			if a.JobVersion != resp.JobVersion || a.DesiredStatus != api.AllocDesiredRun {
				continue
			}
			counts[a.ClientStatusOf()]++
			total++
		}
		if system && ev.Status == api.EvalStatusComplete {
			want = total
		}
		line := fmt.Sprintf("job/%s: %d/%d running", job.ID, counts[api.AllocClientRunning], want)
		if n := counts[api.AllocClientComplete]; n > 0 {
			line += fmt.Sprintf(", %d complete", n)
		}
		if n := counts[api.AllocClientPending]; n > 0 {
			line += fmt.Sprintf(", %d pending", n)
		}
		if line != last {
			fmt.Fprintln(g.out, line)
			last = line
		}
		if n := counts[api.AllocClientFailed]; n > 0 {
			return &exitError{code: 1, err: fmt.Errorf("job/%s: %d allocation(s) failed (nctl get allocs --job %s --status failed)", job.ID, n, job.ID)}
		}
		done := counts[api.AllocClientRunning]
		if job.Type == api.JobTypeBatch || job.Type == api.JobTypeSysbatch {
			done += counts[api.AllocClientComplete]
		}
		if ev.Status == api.EvalStatusComplete && done >= want && total > 0 || (system && ev.Status == api.EvalStatusComplete && want == 0) {
			fmt.Fprintf(g.out, "job/%s is up\n", job.ID)
			return nil
		}
		var j api.Job
		if _, err := c.Watch(ctx, "/v1/job/"+url.PathEscape(job.ID), q, index, 10*time.Second, &j); err != nil {
			return followErr(ctx, err, timeout)
		}
	}
}

// followContext is the context of a command that follows a rollout: it
// ends after timeout or on Ctrl-C (which stops the following, not the job).
func followContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	return ctx, func() { stop(); cancel() }
}

func followErr(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &exitError{code: 1, err: fmt.Errorf("gave up following after %v; the job is submitted (nctl get allocs)", timeout)}
	}
	if ctx.Err() != nil {
		return nil // Ctrl-C: the job is submitted, only the following stops
	}
	return err
}
