package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/spf13/cobra"
)

// jobFile is a parsed job file.
type jobFile struct {
	path string
	job  *api.Job
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
		out = append(out, jobFile{path: name, job: job})
	}
	return out, errors.Join(errs...)
}

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	var vf varFlags
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
				resp, err := c.RegisterJob(ctx, jf.job)
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
			}
			return nil
		},
	}
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
			"all of them at once; the exit code is 0 when every file is valid and 1 otherwise.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := vf.options()
			if err != nil {
				return err
			}
			jobs, err := readJobFiles(args, cmd.InOrStdin(), opts)
			if err != nil {
				return err
			}
			for _, jf := range jobs {
				fmt.Fprintf(g.out, "%s: job %q is valid\n", jf.path, jf.job.ID)
				for _, w := range jf.job.Warnings() {
					fmt.Fprintf(g.errOut, "Warning: %s: %s\n", jf.path, w)
				}
			}
			return nil
		},
	}
	vf.register(cmd)
	return cmd
}
