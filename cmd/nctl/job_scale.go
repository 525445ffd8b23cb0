package main

import (
	"fmt"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/spf13/cobra"
)

// newJobScaleCmd makes `nctl job scale`, which changes a group's count
// within the bounds of its scaling block, as a new version of the job.
func newJobScaleCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "scale JOB GROUP COUNT",
		Short: "Change a group's count, within its scaling block's min and max",
		Long: "Change a group's count as a new version of the job. A group with a scaling block is kept " +
			"within its min and max (the servers check them again); system jobs cannot be scaled.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			count, err := strconv.Atoi(args[2])
			if err != nil {
				return fmt.Errorf("count %q is not a whole number", args[2])
			}
			ctx, cancel := g.ctx()
			defer cancel()
			c := g.client()
			job, err := c.Job(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			if job.Stop {
				return fmt.Errorf("job %q is stopped: apply it again before scaling it", job.ID)
			}
			old := 0
			if grp := job.LookupGroup(args[1]); grp != nil {
				old = grp.Count
			}
			if err := job.Scale(args[1], count); err != nil {
				return err
			}
			job.Version, job.Status = 0, ""
			resp, err := c.RegisterJob(ctx, job)
			if err != nil {
				return err
			}
			if resp.Result == "unchanged" {
				fmt.Fprintf(g.out, "job/%s group %q already has count %d\n", job.ID, args[1], count)
				return nil
			}
			fmt.Fprintf(g.out, "job/%s group %q scaled from %d to %d (version %d, evaluation %s)\n",
				job.ID, args[1], old, count, resp.JobVersion, api.ShortID(resp.EvalID))
			return nil
		},
	}
}
