package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// newJobCmd groups the commands about one job.
func newJobCmd(g *globals) *cobra.Command {
	job := &cobra.Command{Use: "job", Short: "Job commands: init, inspect, history, revert, dispatch, scale"}
	job.AddCommand(newJobInitCmd(g), newJobInspectCmd(g), newJobHistoryCmd(g), newJobRevertCmd(g), newJobDispatchCmd(g), newJobScaleCmd(g))
	return job
}

// newJobInitCmd makes `nctl job init`, which writes an example job file.
func newJobInitCmd(g *globals) *cobra.Command {
	var force bool
	initCmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write an example job file (example.hcl) that runs on a dev agent",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "example.hcl"
			if len(args) == 1 {
				path = args[0]
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o644)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists; use --force to overwrite it", path)
			}
			if err != nil {
				return err
			}
			if _, err := f.WriteString(jobspec.Example); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Example job file written to %s\n", path)
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return initCmd
}

// newJobInspectCmd makes `nctl job inspect`, which prints a job as the API
// holds it, or a job file as it would be submitted.
func newJobInspectCmd(g *globals) *cobra.Command {
	var output string
	var vf varFlags
	var version int64
	var withVars bool
	inspect := &cobra.Command{
		Use:   "inspect NAME|-f FILE",
		Short: "Print a job as the API holds it (JSON or YAML), or the job file it was submitted from (-o source)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var job *api.Job
			file, _ := cmd.Flags().GetString("file")
			if cmd.Flags().Changed("version") && output != "source" {
				return errors.New("--version goes with -o source; nctl job history lists the versions and their changes")
			}
			if output == "source" {
				if len(args) != 1 || file != "" {
					return errors.New("-o source needs a submitted job's name")
				}
				return printSource(g, args[0], version, withVars)
			}
			switch {
			case file != "":
				opts, err := vf.options()
				if err != nil {
					return err
				}
				jobs, err := readJobFiles([]string{file}, cmd.InOrStdin(), opts)
				if err != nil {
					return err
				}
				job = jobs[0].job
			case len(args) == 1:
				ctx, cancel := g.ctx()
				defer cancel()
				j, err := g.client().Job(ctx, g.namespace, args[0])
				if err != nil {
					return err
				}
				job = j
			default:
				return errors.New("name a job, or a job file with -f")
			}
			b, err := json.MarshalIndent(job, "", "  ")
			if err != nil {
				return err
			}
			if output == "yaml" {
				y, err := yaml.JSONToYAML(b)
				if err != nil {
					return err
				}
				_, err = g.out.Write(y)
				return err
			}
			fmt.Fprintln(g.out, string(b))
			return nil
		},
	}
	inspect.Flags().StringP("file", "f", "", "inspect a job file instead of a submitted job")
	inspect.Flags().StringVarP(&output, "output", "o", "json", "json, yaml, or source (the job file the job was submitted from)")
	inspect.Flags().Int64Var(&version, "version", -1, "with -o source: the version whose file to print (default the current one)")
	inspect.Flags().BoolVar(&withVars, "with-vars", false, "with -o source: also print the -var values and -var-file contents it was submitted with")
	vf.register(inspect)
	return inspect
}

// printSource prints the job file a version of a job was submitted from.
func printSource(g *globals, name string, version int64, withVars bool) error {
	ctx, cancel := g.ctx()
	defer cancel()
	src, err := g.client().JobSubmission(ctx, g.namespace, name, version)
	if err != nil {
		return err
	}
	if src.VariablesMissing {
		fmt.Fprintln(g.errOut, "Warning: this version was submitted with variables the server cannot give (it had no keyring to keep them, or their key left the keyring): the file alone may not give the job.")
	}
	fmt.Fprint(g.out, src.Source)
	if !strings.HasSuffix(src.Source, "\n") {
		fmt.Fprintln(g.out)
	}
	if !withVars {
		return nil
	}
	if src.Variables != "" {
		fmt.Fprintf(g.out, "\n# -var-file contents:\n%s", src.Variables)
		if !strings.HasSuffix(src.Variables, "\n") {
			fmt.Fprintln(g.out)
		}
	}
	if len(src.VariableFlags) > 0 {
		fmt.Fprintln(g.out, "\n# -var values:")
		names := make([]string, 0, len(src.VariableFlags))
		for n := range src.VariableFlags {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(g.out, "# %s=%q\n", n, src.VariableFlags[n])
		}
	}
	return nil
}

// newJobHistoryCmd makes `nctl job history`, which lists the kept versions
// of a job.
func newJobHistoryCmd(g *globals) *cobra.Command {
	history := &cobra.Command{
		Use:   "history JOB",
		Short: "List the kept versions of a job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			versions, err := g.client().JobVersions(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			defer tw.Flush()
			fmt.Fprintln(tw, "VERSION\tSUBMITTED\tGROUPS")
			for i := len(versions) - 1; i >= 0; i-- {
				v := versions[i]
				var groups []string
				for _, gr := range v.Groups {
					groups = append(groups, fmt.Sprintf("%s×%d", gr.Name, gr.Count))
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\n", v.Version, v.SubmitTime.Local().Format(time.RFC3339), strings.Join(groups, ","))
			}
			return nil
		},
	}
	return history
}

// newJobRevertCmd makes `nctl job revert`, which submits an earlier version
// of a job again.
func newJobRevertCmd(g *globals) *cobra.Command {
	revert := &cobra.Command{
		Use:   "revert JOB VERSION",
		Short: "Submit an earlier version of a job again, as a new version",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("version %q is not a number", args[1])
			}
			ctx, cancel := g.ctx()
			defer cancel()
			resp, err := g.client().RevertJob(ctx, g.namespace, args[0], v)
			if err != nil {
				return err
			}
			if resp.Result == "unchanged" {
				fmt.Fprintf(g.out, "job/%s already runs what version %d ran\n", args[0], v)
				return nil
			}
			fmt.Fprintf(g.out, "job/%s reverted to version %d as version %d (evaluation %s)\n", args[0], v, resp.JobVersion, api.ShortID(resp.EvalID))
			return nil
		},
	}
	return revert
}

// newJobDispatchCmd makes `nctl job dispatch`, which launches a
// parameterized job.
func newJobDispatchCmd(g *globals) *cobra.Command {
	var metaKV []string
	var payloadFile string
	dispatch := &cobra.Command{
		Use:   "dispatch JOB [--meta k=v]... [--payload-file FILE|-]",
		Short: "Launch a parameterized job with its inputs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			meta := map[string]string{}
			for _, kv := range metaKV {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--meta %q: want key=value", kv)
				}
				meta[k] = v
			}
			var payload []byte
			var err error
			switch payloadFile {
			case "":
			case "-":
				payload, err = io.ReadAll(cmd.InOrStdin())
			default:
				payload, err = os.ReadFile(payloadFile)
			}
			if err != nil {
				return fmt.Errorf("reading the payload: %w", err)
			}
			ctx, cancel := g.ctx()
			defer cancel()
			child, evalID, err := g.client().DispatchJob(ctx, g.namespace, args[0], payload, meta)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "job/%s dispatched (evaluation %s)\n", child, api.ShortID(evalID))
			return nil
		},
	}
	dispatch.Flags().StringArrayVar(&metaKV, "meta", nil, "a meta value of the dispatched job: key=value (repeatable)")
	dispatch.Flags().StringVar(&payloadFile, "payload-file", "", "file whose content is the payload, - for standard input")
	return dispatch
}
