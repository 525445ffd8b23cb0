package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/spf13/cobra"
)

// newRolloutCmd is kubectl rollout for service jobs: their deployments.
func newRolloutCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow and steer a service job's deployments: status, history, undo, promote, pause, resume, fail",
	}
	var timeout time.Duration
	status := &cobra.Command{
		Use:   "status JOB",
		Short: "Follow the job's current deployment until it succeeds (exit 0) or fails (exit 1)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			j, err := g.client().Job(ctx, g.namespace, args[0])
			cancel()
			if err != nil {
				return err
			}
			return followDeployment(cmd.Context(), g, j.Namespace, j.ID, j.Version, "", timeout)
		},
	}
	status.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to follow before giving up")

	history := &cobra.Command{
		Use:   "history JOB",
		Short: "List the job's versions with their deployments and stability",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			c := g.client()
			versions, err := c.JobVersions(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			ds, err := c.Deployments(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			byVersion := map[uint64]*api.Deployment{}
			for i := len(ds) - 1; i >= 0; i-- { // newest wins
				byVersion[ds[i].JobVersion] = ds[i]
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			defer tw.Flush()
			fmt.Fprintln(tw, "VERSION\tSTABLE\tSUBMITTED\tDEPLOYMENT\tSTATUS\tDESCRIPTION")
			for i := len(versions) - 1; i >= 0; i-- {
				v := versions[i]
				dep, st, desc := "-", "-", ""
				if d := byVersion[v.Version]; d != nil {
					dep, st, desc = api.ShortID(d.ID), d.Status, d.StatusDescription
				}
				fmt.Fprintf(tw, "%d\t%v\t%s\t%s\t%s\t%s\n", v.Version, v.Stable, v.SubmitTime.Local().Format(time.RFC3339), dep, st, desc)
			}
			return nil
		},
	}

	var toVersion int64
	undo := &cobra.Command{
		Use:   "undo JOB",
		Short: "Roll back to the newest stable version before the current one (or --to-version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			c := g.client()
			versions, err := c.JobVersions(ctx, g.namespace, args[0])
			if err != nil {
				return err
			}
			cur := versions[len(versions)-1].Version
			target := int64(-1)
			if toVersion >= 0 {
				target = toVersion
			} else {
				for i := len(versions) - 1; i >= 0; i-- {
					if v := versions[i]; v.Stable && v.Version < cur {
						target = int64(v.Version)
						break
					}
				}
				if target < 0 {
					return fmt.Errorf("job/%s has no stable version before version %d; name one with --to-version (nctl rollout history %s)", args[0], cur, args[0])
				}
			}
			resp, err := c.RevertJob(ctx, g.namespace, args[0], uint64(target))
			if err != nil {
				return err
			}
			if resp.Result == "unchanged" {
				fmt.Fprintf(g.out, "job/%s already runs what version %d ran\n", args[0], target)
				return nil
			}
			fmt.Fprintf(g.out, "job/%s rolled back to version %d as version %d\n", args[0], target, resp.JobVersion)
			return nil
		},
	}
	undo.Flags().Int64Var(&toVersion, "to-version", -1, "the version to go back to")
	cmd.AddCommand(status, history, undo)

	for _, a := range []struct{ action, done, short string }{
		{"promote", "promoted", "Promote the healthy canaries of the job's deployment, so the update rolls on"},
		{"pause", "paused", "Pause the job's deployment: nothing more is replaced until resumed"},
		{"resume", "resumed", "Resume a paused deployment"},
		{"fail", "failed", "Fail the job's deployment (and roll back, with auto_revert)"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   a.action + " JOB",
			Short: a.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx, cancel := g.ctx()
				defer cancel()
				c := g.client()
				d, err := c.LatestDeployment(ctx, g.namespace, args[0])
				if err != nil {
					return err
				}
				d, err = c.DeploymentAction(ctx, d.ID, a.action)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.out, "deployment/%s of job/%s (version %d) %s: %s\n", api.ShortID(d.ID), d.JobID, d.JobVersion, a.done, d.StatusDescription)
				return nil
			},
		})
	}
	return cmd
}

// hasDeployments reports whether a job is rolled out under deployments.
func hasDeployments(j *api.Job) bool {
	if j.Type != api.JobTypeService && j.Type != "" {
		return false
	}
	for _, gr := range j.Groups {
		if u := gr.Update; u != nil && u.MaxParallel > 0 {
			return true
		}
	}
	return j.Update != nil && j.Update.MaxParallel > 0
}

// followDeployment prints the progress of the deployment of a job version
// until it ends: nil when it succeeded or when its canaries wait for
// promotion, an exit error when it failed or was cancelled. evalID, when
// set, is the submission's evaluation: placements it could not make end
// the wait with their explanation.
func followDeployment(ctx context.Context, g *globals, ns, jobID string, version uint64, evalID string, timeout time.Duration) error {
	ctx, cancel := followContext(ctx, timeout)
	defer cancel()
	c := g.client()
	q := url.Values{}
	q.Set("namespace", ns)
	var index int64
	last := ""
	for {
		if evalID != "" {
			ev, err := c.Eval(ctx, evalID)
			var nf *client.APIError
			if errors.As(err, &nf) && nf.Status == http.StatusNotFound {
				// Trimmed with the job's older finished evaluations: it
				// ended long ago, and the deployment tells the rest.
				evalID = ""
				continue
			}
			if err != nil {
				return followErr(ctx, err, timeout)
			}
			if ev.Status == api.EvalStatusBlocked {
				fmt.Fprintf(g.out, "job/%s: some allocations cannot be placed:\n", jobID)
				describeFailures(g.out, ev)
				return &exitError{code: 1, err: fmt.Errorf("job/%s is not fully placed; it will be when nodes change (nctl describe job %s)", jobID, jobID)}
			}
		}
		var d api.Deployment
		next, err := c.Watch(ctx, "/v1/job/"+url.PathEscape(jobID)+"/deployment", q, index, 10*time.Second, &d)
		var ae *client.APIError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			// Not created yet: the scheduler creates it with the first
			// placements of the version.
			index = 0
			select {
			case <-ctx.Done():
				return followErr(ctx, ctx.Err(), timeout)
			case <-time.After(250 * time.Millisecond):
			}
			continue
		case err != nil:
			return followErr(ctx, err, timeout)
		}
		index = next
		if d.JobVersion < version {
			continue
		}
		if d.JobVersion > version {
			// A blocking query answers with the newest state, so the end
			// of this version's deployment may have been skipped (a
			// failed one is followed at once by its rollback's): report
			// that end when there is one.
			if own := ownDeployment(ctx, c, ns, jobID, version); own != nil {
				if ended, err := g.deploymentEnded(own, jobID, version); ended {
					return err
				}
			}
			return &exitError{code: 1, err: fmt.Errorf("job/%s moved on to version %d (nctl rollout status %s)", jobID, d.JobVersion, jobID)}
		}
		line := deploymentLine(&d)
		if line != last {
			fmt.Fprintln(g.out, line)
			last = line
		}
		if ended, err := g.deploymentEnded(&d, jobID, version); ended {
			return err
		}
		if waitingForPromotion(&d) {
			fmt.Fprintf(g.out, "job/%s: the canaries are healthy and wait for promotion: nctl rollout promote %s\n", jobID, jobID)
			return nil
		}
	}
}

// deploymentEnded reports whether a version's deployment has ended, and
// then says so: nil when it succeeded, an exit error when it failed or
// was cancelled.
func (g *globals) deploymentEnded(d *api.Deployment, jobID string, version uint64) (bool, error) {
	switch d.Status {
	case api.DeploymentSuccessful:
		fmt.Fprintf(g.out, "job/%s version %d is rolled out\n", jobID, version)
		return true, nil
	case api.DeploymentFailed, api.DeploymentCancelled:
		return true, &exitError{code: 1, err: fmt.Errorf("deployment/%s of job/%s %s: %s", api.ShortID(d.ID), jobID, d.Status, d.StatusDescription)}
	}
	return false, nil
}

// ownDeployment is the newest deployment of one version of a job (nil if
// there is none or it cannot be read).
func ownDeployment(ctx context.Context, c *client.Client, ns, jobID string, version uint64) *api.Deployment {
	ds, err := c.Deployments(ctx, ns, jobID)
	if err != nil {
		return nil
	}
	for _, d := range ds { // newest first
		if d.JobVersion == version {
			return d
		}
	}
	return nil
}

// deploymentLine is one progress line of a deployment.
func deploymentLine(d *api.Deployment) string {
	desired, placed, healthy, unhealthy := 0, 0, 0, 0
	for _, gr := range d.Groups {
		desired += gr.DesiredTotal
		placed += gr.PlacedAllocs
		healthy += gr.HealthyAllocs
		unhealthy += gr.UnhealthyAllocs
	}
	line := fmt.Sprintf("deployment/%s (version %d) %s: %d/%d healthy, %d placed", api.ShortID(d.ID), d.JobVersion, d.Status, healthy, desired, placed)
	if unhealthy > 0 {
		line += ", " + strconv.Itoa(unhealthy) + " unhealthy"
	}
	return line
}

// waitingForPromotion reports whether every group that has canaries has
// them all healthy and waits for promotion.
func waitingForPromotion(d *api.Deployment) bool {
	waiting := false
	for _, gr := range d.Groups {
		if gr.RequiresPromotion() {
			if gr.HealthyAllocs < gr.DesiredCanaries {
				return false
			}
			waiting = true
		}
	}
	return waiting && d.Status == api.DeploymentRunning
}
