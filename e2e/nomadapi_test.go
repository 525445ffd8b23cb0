package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/hashicorp/nomad/api/contexts"
)

// Tests of the Nomad-compatible API with Nomad's own Go client (the
// hashicorp/nomad/api module): what Nomad's CLI, Terraform's provider and
// the other tools built on it do.

func nomadClient(t *testing.T, addr string) *napi.Client {
	t.Helper()
	c, err := napi.NewClient(&napi.Config{Address: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptrTo[T any](v T) *T { return &v }

// shellJob is a raw_exec job of count instances of a shell script.
func shellJob(id string, count int, script string) *napi.Job {
	job := napi.NewServiceJob(id, id, "global", 50)
	job.Datacenters = []string{"dc1"}
	tg := napi.NewTaskGroup("g", count)
	task := napi.NewTask("t", "raw_exec").
		SetConfig("command", "/bin/sh").
		SetConfig("args", []string{"-c", script})
	task.Require(&napi.Resources{CPU: ptrTo(100), MemoryMB: ptrTo(32)})
	tg.AddTask(task)
	job.AddTaskGroup(tg)
	return job
}

// waitEval follows an evaluation as Nomad's CLI monitor does, until it is
// terminal.
func waitEval(t *testing.T, c *napi.Client, id string) *napi.Evaluation {
	t.Helper()
	var e *napi.Evaluation
	eventually(t, 60*time.Second, func() (bool, string) {
		var err error
		e, _, err = c.Evaluations().Info(id, nil)
		if err != nil {
			return false, err.Error()
		}
		switch e.Status {
		case "complete", "failed", "canceled":
			return true, ""
		}
		return false, "evaluation " + e.Status
	})
	return e
}

func waitJobRunning(t *testing.T, c *napi.Client, id string, want int) []*napi.AllocationListStub {
	t.Helper()
	var list []*napi.AllocationListStub
	eventually(t, 60*time.Second, func() (bool, string) {
		all, _, err := c.Jobs().Allocations(id, false, nil)
		if err != nil {
			return false, err.Error()
		}
		list = list[:0]
		for _, a := range all {
			if a.ClientStatus == "running" {
				list = append(list, a)
			}
		}
		return len(list) == want, fmt.Sprintf("%d of %d running", len(list), want)
	})
	return list
}

func TestNomadsGoClientDrivesADevAgent(t *testing.T) {
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)

	t.Run("agent, members, leader, regions and nodes answer as Nomad's do", func(t *testing.T) {
		self, err := c.Agent().Self()
		if err != nil {
			t.Fatal(err)
		}
		if self.Member.Name == "" || self.Config["Version"] == nil {
			t.Fatalf("agent self: %+v", self)
		}
		members, err := c.Agent().Members()
		if err != nil || len(members.Members) != 1 || members.Members[0].Tags["port"] == "" {
			t.Fatalf("members: %+v %v", members, err)
		}
		leader, err := c.Status().Leader()
		if err != nil || leader != fmt.Sprintf("%s:%s", members.Members[0].Addr, members.Members[0].Tags["port"]) {
			t.Fatalf("leader %q (%v), members %+v", leader, err, members.Members[0])
		}
		regions, err := c.Regions().List()
		if err != nil || len(regions) != 1 || regions[0] != "global" {
			t.Fatalf("regions %v %v", regions, err)
		}
		nodes, meta, err := c.Nodes().List(nil)
		if err != nil || len(nodes) != 1 || nodes[0].Status != "ready" || nodes[0].SchedulingEligibility != "eligible" {
			t.Fatalf("nodes %+v %v", nodes, err)
		}
		if meta.LastIndex == 0 || !meta.KnownLeader {
			t.Fatalf("query meta %+v", meta)
		}
		node, _, err := c.Nodes().Info(nodes[0].ID[:8], nil)
		if err != nil || node.ID != nodes[0].ID || node.HTTPAddr != "" || node.Attributes["kernel.name"] != "linux" {
			t.Fatalf("node %+v %v", node, err)
		}
		// nomad node status NODE subtracts ReservedResources from
		// NodeResources without a nil check.
		if node.NodeResources == nil || node.ReservedResources == nil || node.NodeResources.Cpu.CpuShares <= 0 {
			t.Fatalf("node resources %+v, reserved %+v", node.NodeResources, node.ReservedResources)
		}
	})

	job := shellJob("web", 2, "echo hello from $NOMAD_ALLOC_INDEX; sleep 300")
	var evalID string
	t.Run("register, info, lists, summary, allocations and evaluations", func(t *testing.T) {
		resp, wm, err := c.Jobs().Register(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.EvalID == "" || wm.LastIndex == 0 {
			t.Fatalf("register: %+v %+v", resp, wm)
		}
		evalID = resp.EvalID
		e := waitEval(t, c, evalID)
		if e.Status != "complete" || e.Type != "service" || e.JobID != "web" {
			t.Fatalf("evaluation %+v", e)
		}
		waitJobRunning(t, c, "web", 2)
		info, _, err := c.Jobs().Info("web", nil)
		if err != nil {
			t.Fatal(err)
		}
		if *info.ID != "web" || *info.Status != "running" || *info.Version != 0 || *info.SubmitTime == 0 || len(info.TaskGroups) != 1 {
			t.Fatalf("job info %+v", info)
		}
		list, _, err := c.Jobs().List(nil)
		if err != nil || len(list) != 1 || list[0].JobSummary == nil || list[0].JobSummary.Summary["g"].Running != 2 {
			t.Fatalf("job list %+v %v", list, err)
		}
		if _, _, err := c.Jobs().Register(shellJob("worker", 1, "sleep 300"), nil); err != nil {
			t.Fatal(err)
		}
		pl, _, err := c.Jobs().PrefixList("we")
		if err != nil || len(pl) != 1 || pl[0].ID != "web" {
			t.Fatalf("prefix list %+v %v", pl, err)
		}
		sum, _, err := c.Jobs().Summary("web", nil)
		if err != nil || sum.Summary["g"].Running != 2 {
			t.Fatalf("summary %+v %v", sum, err)
		}
		allocs, _, err := c.Jobs().Allocations("web", false, nil)
		if err != nil || len(allocs) != 2 {
			t.Fatalf("allocations %+v %v", allocs, err)
		}
		a, _, err := c.Allocations().Info(allocs[0].ID, nil)
		if err != nil || a.Job == nil || *a.Job.Version != 0 || a.TaskStates["t"] == nil || a.TaskResources["t"] == nil || *a.TaskResources["t"].MemoryMB != 32 {
			t.Fatalf("allocation %+v %v", a, err)
		}
		evals, _, err := c.Jobs().Evaluations("web", nil)
		if err != nil || len(evals) == 0 {
			t.Fatalf("evaluations %+v %v", evals, err)
		}
		// Lists take Nomad's filter expressions (nomad eval list -filter)
		// and UUID prefixes without their dashes.
		filtered, _, err := c.Evaluations().List(&napi.QueryOptions{Filter: `JobID == "worker"`})
		if err != nil || len(filtered) == 0 {
			t.Fatalf("filtered evaluations %+v %v", filtered, err)
		}
		for _, e := range filtered {
			if e.JobID != "worker" {
				t.Fatalf("filter JobID == worker listed an evaluation of %s", e.JobID)
			}
		}
		if _, _, err := c.Allocations().List(&napi.QueryOptions{Filter: `ClientStatus ~ "x"`}); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("a filter outside the grammar: %v", err)
		}
		byPrefix, _, err := c.Allocations().PrefixList(strings.ReplaceAll(allocs[0].ID[:13], "-", ""))
		if err != nil || len(byPrefix) != 1 || byPrefix[0].ID != allocs[0].ID {
			t.Fatalf("allocations by a prefix without dashes: %+v %v", byPrefix, err)
		}
		eallocs, _, err := c.Evaluations().Allocations(evalID, nil)
		if err != nil || len(eallocs) != 2 {
			t.Fatalf("evaluation allocations %+v %v", eallocs, err)
		}
		if dep, _, err := c.Jobs().LatestDeployment("web", nil); err != nil || dep != nil {
			t.Fatalf("a job without an update block has no deployment: %+v %v", dep, err)
		}
	})

	t.Run("run -preserve-counts and -preserve-resources keep what the cluster has", func(t *testing.T) {
		j := shellJob("keep", 1, "sleep 300")
		if _, _, err := c.Jobs().Register(j, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Jobs().Scale("keep", "g", new(2), "by hand", false, nil, nil); err != nil {
			t.Fatal(err)
		}
		again := shellJob("keep", 1, "sleep 301")
		again.TaskGroups[0].Tasks[0].Resources.MemoryMB = new(64)
		if _, _, err := c.Jobs().RegisterOpts(again, &napi.RegisterOptions{PreserveCounts: true, PreserveResources: true}, nil); err != nil {
			t.Fatal(err)
		}
		info, _, err := c.Jobs().Info("keep", nil)
		if err != nil {
			t.Fatal(err)
		}
		tg := info.TaskGroups[0]
		if *tg.Count != 2 || *tg.Tasks[0].Resources.MemoryMB != 32 || tg.Tasks[0].Config["args"].([]any)[1] != "sleep 301" {
			t.Fatalf("after run -preserve-counts -preserve-resources: count %d, memory %d, config %v", *tg.Count, *tg.Tasks[0].Resources.MemoryMB, tg.Tasks[0].Config)
		}
		// nomad job history -p -diff-version 0: every version against 0.
		versions, diffs, _, err := c.Jobs().VersionsOpts("keep", &napi.VersionsOptions{Diffs: true, DiffVersion: new(uint64(0))}, nil)
		if err != nil || len(versions) < 2 || len(diffs) != len(versions) {
			t.Fatalf("versions %d, diffs %d: %v", len(versions), len(diffs), err)
		}
		for i, v := range versions {
			if want := map[bool]string{true: "None", false: "Edited"}[*v.Version == 0]; diffs[i].Type != want {
				t.Errorf("version %d against 0: %s, want %s", *v.Version, diffs[i].Type, want)
			}
		}
		if _, _, _, err := c.Jobs().VersionsOpts("keep", &napi.VersionsOptions{Diffs: true, DiffTag: "prod"}, nil); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("diff_tag: %v", err)
		}
		if _, _, err := c.Jobs().Deregister("keep", true, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a job the api package canonicalized, every default spelled out, registers", func(t *testing.T) {
		j := shellJob("canonical", 1, "sleep 300")
		j.Canonicalize()
		resp, _, err := c.Jobs().Register(j, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := waitEval(t, c, resp.EvalID); e.Status != "complete" {
			t.Fatalf("evaluation %+v", e)
		}
		// Read back and registered again unchanged, as `nomad job inspect`
		// output fed to `nomad job run -json` is.
		info, _, err := c.Jobs().Info("canonical", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Jobs().Register(info, nil); err != nil {
			t.Fatalf("registering the job as read: %v", err)
		}
	})

	t.Run("a job as Nomad's CLI parses it: a group without count, a periodic block without enabled", func(t *testing.T) {
		j := shellJob("nocount", 1, "sleep 300")
		j.TaskGroups[0].Count = nil
		j.TaskGroups[0].RestartPolicy = &napi.RestartPolicy{Mode: ptrTo("delay")}
		resp, _, err := c.Jobs().Register(j, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, resp.EvalID)
		waitJobRunning(t, c, "nocount", 1)
		info, _, err := c.Jobs().Info("nocount", nil)
		if err != nil || *info.TaskGroups[0].Count != 1 || *info.TaskGroups[0].RestartPolicy.Attempts != 2 {
			t.Fatalf("count %v, restart %+v (%v)", *info.TaskGroups[0].Count, info.TaskGroups[0].RestartPolicy, err)
		}
		p := napi.NewBatchJob("cron", "cron", "global", 50)
		p.Datacenters = []string{"dc1"}
		p.Periodic = &napi.PeriodicConfig{Spec: ptrTo("0 0 1 1 *")}
		p.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "raw_exec").SetConfig("command", "/bin/true")))
		if _, _, err := c.Jobs().Register(p, nil); err != nil {
			t.Fatal(err)
		}
		pi, _, err := c.Jobs().Info("cron", nil)
		if err != nil || pi.Periodic == nil || !*pi.Periodic.Enabled || *pi.Status != "running" {
			t.Fatalf("periodic job %+v %v", pi.Periodic, err)
		}
		if allocs, _, err := c.Jobs().Allocations("cron", false, nil); err != nil || len(allocs) != 0 {
			t.Fatalf("the periodic job itself ran: %d allocations (%v)", len(allocs), err)
		}
		// nomad job periodic force, then nomad job status cron, which
		// lists the children by Nomad's prefix cron/periodic-.
		child, _, err := c.Jobs().PeriodicForce("cron", nil)
		if err != nil || child == "" {
			t.Fatalf("periodic force: %q %v", child, err)
		}
		kids, _, err := c.Jobs().PrefixList("cron" + napi.JobPeriodicLaunchSuffix)
		if err != nil || len(kids) != 1 || kids[0].ParentID != "cron" {
			t.Fatalf("children by Nomad's prefix: %+v %v", kids, err)
		}
		// nomad job dispatch -idempotency-token -id-prefix-template.
		pj := napi.NewBatchJob("param", "param", "global", 50)
		pj.Datacenters = []string{"dc1"}
		pj.ParameterizedJob = &napi.ParameterizedJobConfig{Payload: "optional"}
		pj.AddTaskGroup(napi.NewTaskGroup("g", 1).AddTask(napi.NewTask("t", "raw_exec").SetConfig("command", "/bin/true")))
		if _, _, err := c.Jobs().Register(pj, nil); err != nil {
			t.Fatal(err)
		}
		first, _, err := c.Jobs().DispatchOpts(&napi.DispatchOptions{JobID: "param", IdPrefixTemplate: "nightly", Priority: 70}, &napi.WriteOptions{IdempotencyToken: "run-1"})
		if err != nil || !strings.Contains(first.DispatchedJobID, "-dispatch-nightly-") || first.EvalID == "" {
			t.Fatalf("dispatch: %+v %v", first, err)
		}
		again, _, err := c.Jobs().DispatchOpts(&napi.DispatchOptions{JobID: "param"}, &napi.WriteOptions{IdempotencyToken: "run-1"})
		if err != nil || again.DispatchedJobID != first.DispatchedJobID {
			t.Fatalf("a second dispatch with the token launched %+v (%v), want %s", again, err, first.DispatchedJobID)
		}
		if ci, _, err := c.Jobs().Info(first.DispatchedJobID, nil); err != nil || *ci.Priority != 70 {
			t.Fatalf("dispatched child: %v", err)
		}
		other, _, err := c.Jobs().DispatchOpts(&napi.DispatchOptions{JobID: "param"}, &napi.WriteOptions{IdempotencyToken: "run-2"})
		if err != nil || other.DispatchedJobID == first.DispatchedJobID {
			t.Fatalf("another token: %+v %v", other, err)
		}
	})

	t.Run("logs come as frames, read through the server", func(t *testing.T) {
		allocs, _, err := c.Jobs().Allocations("web", false, nil)
		if err != nil || len(allocs) == 0 {
			t.Fatal(allocs, err)
		}
		a, _, err := c.Allocations().Info(allocs[0].ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		eventually(t, 20*time.Second, func() (bool, string) {
			cancel := make(chan struct{})
			defer close(cancel)
			frames, errs := c.AllocFS().Logs(a, false, "t", "stdout", "start", 0, cancel, nil)
			got = ""
			for {
				select {
				case f, ok := <-frames:
					if !ok {
						return strings.Contains(got, "hello from"), got
					}
					got += string(f.Data)
				case err := <-errs:
					return false, err.Error()
				case <-time.After(10 * time.Second):
					return false, "no frame in 10s"
				}
			}
		})
	})

	t.Run("a followed log answers at once, even a quiet one", func(t *testing.T) {
		allocs, _, err := c.Jobs().Allocations("web", false, nil)
		if err != nil || len(allocs) == 0 {
			t.Fatal(allocs, err)
		}
		a, _, err := c.Allocations().Info(allocs[0].ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"stdout", "stderr"} {
			cancel := make(chan struct{})
			began := time.Now()
			frames, errs := c.AllocFS().Logs(a, true, "t", typ, "end", 1, cancel, nil)
			select {
			case err := <-errs:
				t.Fatalf("%s: %v", typ, err)
			default:
			}
			if d := time.Since(began); d > 3*time.Second {
				t.Fatalf("opening the followed %s took %s", typ, d)
			}
			if typ == "stdout" {
				select {
				case f := <-frames:
					if len(f.Data) == 0 {
						t.Fatal("empty frame")
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no frame of the followed stdout")
				}
			}
			close(cancel)
		}
	})

	t.Run("a blocking query wakes on a change", func(t *testing.T) {
		_, meta, err := c.Jobs().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		startWait := time.Now()
		go func() {
			_, m2, err := c.Jobs().List(&napi.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
			if err == nil && m2.LastIndex <= meta.LastIndex {
				err = fmt.Errorf("index did not move: %d", m2.LastIndex)
			}
			done <- err
		}()
		time.Sleep(500 * time.Millisecond)
		if _, _, err := c.Jobs().Register(shellJob("late", 1, "sleep 300"), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(startWait); d > 20*time.Second {
				t.Fatalf("the query answered after %s, not on the change", d)
			}
		case <-time.After(25 * time.Second):
			t.Fatal("the blocking query did not wake")
		}
	})

	t.Run("plan shows Nomad's diff and annotations", func(t *testing.T) {
		same, _, err := c.Jobs().Plan(shellJob("web", 2, "echo hello from $NOMAD_ALLOC_INDEX; sleep 300"), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if same.Diff == nil || same.Diff.Type != "None" || same.Annotations == nil {
			t.Fatalf("unchanged job: %+v", same)
		}
		changed, _, err := c.Jobs().Plan(shellJob("web", 3, "echo changed; sleep 300"), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if changed.Diff == nil || changed.Diff.Type != "Edited" || len(changed.Diff.TaskGroups) != 1 || changed.Annotations == nil {
			t.Fatalf("changed job: %+v", changed.Diff)
		}
		u := changed.Annotations.DesiredTGUpdates["g"]
		if u == nil || u.DestructiveUpdate+u.Place == 0 {
			t.Fatalf("annotations %+v", changed.Annotations)
		}
		if changed.JobModifyIndex == 0 {
			t.Fatal("no JobModifyIndex for -check-index")
		}
		// -check-index: a stale index is refused with Nomad's words.
		_, _, err = c.Jobs().EnforceRegister(shellJob("web", 3, "sleep 300"), changed.JobModifyIndex-1, nil)
		if err == nil || !strings.Contains(err.Error(), "Enforcing job modify index") {
			t.Fatalf("enforced register with a stale index: %v", err)
		}
	})

	t.Run("a placement that cannot be made ends the evaluation with a blocked one", func(t *testing.T) {
		big := shellJob("huge", 1, "sleep 300")
		big.TaskGroups[0].Tasks[0].Resources.MemoryMB = ptrTo(10_000_000)
		resp, _, err := c.Jobs().Register(big, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := waitEval(t, c, resp.EvalID)
		if e.Status != "complete" || len(e.FailedTGAllocs) == 0 || e.BlockedEval == "" {
			t.Fatalf("evaluation %+v", e)
		}
		blocked, _, err := c.Evaluations().Info(e.BlockedEval, nil)
		if err != nil || blocked.Status != "blocked" {
			t.Fatalf("blocked evaluation %+v %v", blocked, err)
		}
		sum, _, err := c.Jobs().Summary("huge", nil)
		if err != nil || sum.Summary["g"].Queued != 1 {
			t.Fatalf("summary %+v %v", sum, err)
		}
		info, _, err := c.Jobs().Info("huge", nil)
		if err != nil || *info.Status != "pending" {
			t.Fatalf("a job waiting for capacity is pending: %v %v", *info.Status, err)
		}
	})

	t.Run("a job with an update block rolls out under a deployment", func(t *testing.T) {
		j := shellJob("roll", 2, "sleep 300")
		j.TaskGroups[0].Update = &napi.UpdateStrategy{MaxParallel: ptrTo(1), MinHealthyTime: ptrTo(time.Second),
			HealthyDeadline: ptrTo(30 * time.Second), ProgressDeadline: ptrTo(60 * time.Second)}
		resp, _, err := c.Jobs().Register(j, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := waitEval(t, c, resp.EvalID)
		if e.DeploymentID == "" {
			t.Fatalf("evaluation names no deployment: %+v", e)
		}
		// Follow it as the CLI does: blocking queries on the deployment.
		var index uint64
		deadline := time.Now().Add(90 * time.Second)
		for {
			d, meta, err := c.Deployments().Info(e.DeploymentID, &napi.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status == "successful" {
				if d.TaskGroups["g"].HealthyAllocs != 2 {
					t.Fatalf("deployment %+v", d.TaskGroups["g"])
				}
				break
			}
			if d.Status != "running" || time.Now().After(deadline) {
				t.Fatalf("deployment %s: %s", d.Status, d.StatusDescription)
			}
			if meta.LastIndex == 0 {
				t.Fatal("deployment read without X-Nomad-Index")
			}
			index = meta.LastIndex
		}
		dep, _, err := c.Jobs().LatestDeployment("roll", nil)
		if err != nil || dep == nil || dep.ID != e.DeploymentID {
			t.Fatalf("latest deployment %+v %v", dep, err)
		}
		list, _, err := c.Deployments().List(nil)
		if err != nil || len(list) == 0 {
			t.Fatalf("deployments %+v %v", list, err)
		}
	})

	t.Run("the event stream carries job and allocation events", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		events, err := c.EventStream().Stream(ctx, map[napi.Topic][]string{napi.TopicJob: {"*"}, napi.TopicAllocation: {"*"}}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Jobs().Register(shellJob("streamed", 1, "sleep 300"), nil); err != nil {
			t.Fatal(err)
		}
		sawJob, sawAlloc := false, false
		for !sawJob || !sawAlloc {
			select {
			case evs, ok := <-events:
				if !ok {
					t.Fatal("stream ended")
				}
				if evs.Err != nil {
					t.Fatal(evs.Err)
				}
				for _, e := range evs.Events {
					switch e.Topic {
					case napi.TopicJob:
						j, err := e.Job()
						sawJob = sawJob || (err == nil && j != nil && *j.ID == "streamed")
					case napi.TopicAllocation:
						a, err := e.Allocation()
						sawAlloc = sawAlloc || (err == nil && a != nil && a.JobID == "streamed")
					}
				}
			case <-ctx.Done():
				t.Fatalf("job event %v, allocation event %v", sawJob, sawAlloc)
			}
		}
	})

	t.Run("stop with purge removes the job", func(t *testing.T) {
		evalID, _, err := c.Jobs().Deregister("web", true, nil)
		if err != nil || evalID == "" {
			t.Fatalf("deregister %q %v", evalID, err)
		}
		waitEval(t, c, evalID)
		_, _, err = c.Jobs().Info("web", nil)
		var ue napi.UnexpectedResponseError
		if !errors.As(err, &ue) || ue.StatusCode() != 404 {
			t.Fatalf("info after purge: %v", err)
		}
		// nomad system gc: the purged job's allocations go once they
		// stopped, without waiting for the collector's interval.
		eventually(t, 30*time.Second, func() (bool, string) {
			if err := c.System().GarbageCollect(); err != nil {
				return false, err.Error()
			}
			list, _, err := c.Allocations().List(nil)
			if err != nil {
				return false, err.Error()
			}
			left := 0
			for _, a := range list {
				if a.JobID == "web" {
					left++
				}
			}
			return left == 0, fmt.Sprintf("%d allocations of the purged job left", left)
		})
	})

	t.Run("bad requests get readable 4xx answers", func(t *testing.T) {
		_, _, err := c.Jobs().Info("no-such-job", nil)
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("unknown job: %v", err)
		}
		bad := shellJob("bad", 1, "sleep 1")
		bad.TaskGroups[0].Count = ptrTo(-1)
		_, _, err = c.Jobs().Register(bad, nil)
		if err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("invalid job: %v", err)
		}
		// A feature nomadic does not have says so (nomad volume status).
		if _, _, err := c.CSIVolumes().List(nil); err == nil || !strings.Contains(err.Error(), "501") || !strings.Contains(err.Error(), "CSI") {
			t.Fatalf("CSI volumes: %v", err)
		}
		// The CLI's -namespace completion searches the namespaces context.
		res, _, err := c.Search().PrefixSearch("def", contexts.Namespaces, nil)
		if err != nil || len(res.Matches[contexts.Namespaces]) != 1 || res.Matches[contexts.Namespaces][0] != "default" {
			t.Fatalf("namespace search: %+v %v", res, err)
		}
		// operator raft list-peers marks the dev agent's etcd as leader.
		rc, err := c.Operator().RaftGetConfiguration(nil)
		if err != nil || len(rc.Servers) != 1 || !rc.Servers[0].Leader {
			t.Fatalf("raft configuration %+v %v", rc, err)
		}
		// nomad node pool info / nodes / jobs, and the node's allocations
		// beside them.
		pool, _, err := c.NodePools().Info("default", nil)
		if err != nil || pool.Name != "default" {
			t.Fatalf("node pool info: %+v %v", pool, err)
		}
		if _, _, err := c.NodePools().Info("nope", nil); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("unknown node pool: %v", err)
		}
		pn, _, err := c.NodePools().ListNodes("default", nil)
		if err != nil || len(pn) != 1 {
			t.Fatalf("node pool nodes: %+v %v", pn, err)
		}
		if pj, _, err := c.NodePools().ListJobs("default", nil); err != nil || len(pj) == 0 {
			t.Fatalf("node pool jobs: %+v %v", pj, err)
		}
		if na, _, err := c.Nodes().Allocations(pn[0].ID, nil); err != nil || len(na) == 0 {
			t.Fatalf("node allocations: %d %v", len(na), err)
		}
		// nomad node pool apply, then delete: a pool of its own, with
		// no node in it yet.
		if _, err := c.NodePools().Register(&napi.NodePool{Name: "gpu", Description: "later"}, nil); err != nil {
			t.Fatalf("node pool apply: %v", err)
		}
		if p, _, err := c.NodePools().Info("gpu", nil); err != nil || p.Description != "later" {
			t.Fatalf("node pool info after apply: %+v %v", p, err)
		}
		if _, err := c.NodePools().Delete("gpu", nil); err != nil {
			t.Fatalf("node pool delete: %v", err)
		}
	})
}

// TestNomadsGoClientOnTwoServersOfAnExternalEtcd registers through one
// server's Nomad API and reads through the other's.
func TestNomadsGoClientOnTwoServersOfAnExternalEtcd(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	clientAddr, peerAddr := freeAddr(t), freeAddr(t)
	start(t, etcdBin, "--name", "nomadapi", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+clientAddr, "--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr, "--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "nomadapi=http://"+peerAddr)
	endpoints := "http://" + clientAddr
	var native, nomad []string
	for i := 1; i <= 2; i++ {
		addr, naddr := freeAddr(t), freeAddr(t)
		start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", fmt.Sprintf("server-%d", i),
			"-etcd-endpoints", endpoints, "-etcd-prefix", "/napi", "-http-addr", addr, "-nomad-http-addr", naddr,
			"-data-dir", t.TempDir())
		native, nomad = append(native, addr), append(nomad, naddr)
	}
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec", "-node-name", "client-1",
		"-etcd-endpoints", endpoints, "-etcd-prefix", "/napi", "-data-dir", t.TempDir())
	waitReadyNodes(t, native[0], 1)
	a, b := nomadClient(t, nomad[0]), nomadClient(t, nomad[1])
	resp, _, err := a.Jobs().Register(shellJob("shared", 2, "sleep 300"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEval(t, b, resp.EvalID); e.Status != "complete" {
		t.Fatalf("evaluation through the other server: %+v", e)
	}
	waitJobRunning(t, b, "shared", 2)
	members, err := b.Agent().Members()
	if err != nil || len(members.Members) != 2 {
		t.Fatalf("members %+v %v", members, err)
	}
	for _, c := range []*napi.Client{a, b} {
		leader, err := c.Status().Leader()
		if err != nil || leader == "" {
			t.Fatalf("leader %q %v", leader, err)
		}
	}
	// nomad operator raft list-peers: the raft group is etcd's.
	raft, err := b.Operator().RaftGetConfiguration(nil)
	if err != nil || len(raft.Servers) != 1 || raft.Servers[0].Node != "nomadapi" || raft.Servers[0].Address != peerAddr ||
		!raft.Servers[0].Leader || !raft.Servers[0].Voter || raft.Index == 0 {
		t.Fatalf("raft configuration %+v %v", raft, err)
	}
	if _, _, err := b.Jobs().Deregister("shared", true, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNomadsServiceDiscoveryAPI(t *testing.T) {
	t.Parallel()
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	job := shellJob("svc", 2, "sleep 300")
	tg := job.TaskGroups[0]
	tg.Networks = []*napi.NetworkResource{{DynamicPorts: []napi.Port{{Label: "http"}}}}
	tg.Services = []*napi.Service{{Name: "web-svc", PortLabel: "http", Tags: []string{"v1", "api"}, Provider: "nomad"}}
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	allocs := waitJobRunning(t, c, "svc", 2)

	var regs []*napi.ServiceRegistration
	eventually(t, 30*time.Second, func() (bool, string) {
		var err error
		regs, _, err = c.Services().Get("web-svc", nil)
		if err != nil {
			return false, err.Error()
		}
		return len(regs) == 2, fmt.Sprintf("%d instances", len(regs))
	})
	for _, reg := range regs {
		if reg.Namespace != "default" || reg.JobID != "svc" || reg.AllocID == "" || reg.NodeID == "" || reg.Datacenter != "dc1" ||
			reg.Address == "" || reg.Port <= 0 || strings.Join(reg.Tags, ",") != "v1,api" || reg.CreateIndex == 0 || reg.ModifyIndex < reg.CreateIndex {
			t.Fatalf("instance %+v", reg)
		}
	}

	list, meta, err := c.Services().List(nil)
	if err != nil || len(list) != 1 || list[0].Namespace != "default" || len(list[0].Services) != 1 ||
		list[0].Services[0].ServiceName != "web-svc" || strings.Join(list[0].Services[0].Tags, ",") != "api,v1" || meta.LastIndex == 0 {
		t.Fatalf("service list %+v (%v)", list, err)
	}
	if list, _, err := c.Services().List(&napi.QueryOptions{Filter: `ServiceName == "other"`}); err != nil || len(list) != 0 {
		t.Fatalf("a filter that matches nothing: %+v (%v)", list, err)
	}

	// choose=N|KEY: the same key picks the same instance.
	pick := func(key string) string {
		got, _, err := c.Services().Get("web-svc", &napi.QueryOptions{Params: map[string]string{"choose": "1|" + key}})
		if err != nil || len(got) != 1 {
			t.Fatalf("choose 1|%s: %+v (%v)", key, got, err)
		}
		return got[0].ID
	}
	if a, b := pick("client-a"), pick("client-a"); a != b {
		t.Fatalf("choose picked %s, then %s, for the same key", a, b)
	}
	if _, _, err := c.Services().Get("web-svc", &napi.QueryOptions{Params: map[string]string{"choose": "x"}}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a malformed choose: %v", err)
	}

	if byJob, _, err := c.Jobs().Services("svc", nil); err != nil || len(byJob) != 2 {
		t.Fatalf("job services %+v (%v)", byJob, err)
	}
	byAlloc, _, err := c.Allocations().Services(allocs[0].ID, nil)
	if err != nil || len(byAlloc) != 1 || byAlloc[0].AllocID != allocs[0].ID {
		t.Fatalf("allocation services %+v (%v)", byAlloc, err)
	}
	if none, _, err := c.Services().Get("no-such-service", nil); err != nil || len(none) != 0 {
		t.Fatalf("an unknown service: %+v (%v)", none, err)
	}

	if _, err := c.Services().Delete("web-svc", byAlloc[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		left, _, err := c.Services().Get("web-svc", nil)
		if err != nil {
			return false, err.Error()
		}
		return len(left) == 1 && left[0].ID != byAlloc[0].ID, fmt.Sprintf("%d instances left", len(left))
	})
	if _, err := c.Services().Delete("web-svc", "no-such-id", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleting an unknown instance: %v", err)
	}
}

func TestNomadsAllocFSAPIReadsTheNodesFiles(t *testing.T) {
	t.Parallel()
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	job := shellJob("files", 1, `printf 'hello world\n' > "$NOMAD_TASK_DIR/hello.txt"; echo s3cret > "$NOMAD_SECRETS_DIR/token";
i=0; while [ $i -lt 600 ]; do echo "line $i" >> "$NOMAD_ALLOC_DIR/data/grow.log"; i=$((i+1)); sleep 0.2; done`)
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	stub := waitJobRunning(t, c, "files", 1)[0]
	alloc, _, err := c.Allocations().Info(stub.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs := c.AllocFS()
	var hello *napi.AllocFileInfo
	eventually(t, 30*time.Second, func() (bool, string) {
		hello, _, err = fs.Stat(alloc, "t/local/hello.txt", nil)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if hello.Name != "hello.txt" || hello.IsDir || hello.Size != 12 || hello.FileMode == "" || hello.ModTime.IsZero() {
		t.Fatalf("stat %+v", hello)
	}
	root, _, err := fs.List(alloc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range root {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "alloc,t" {
		t.Fatalf("the allocation directory holds %v", names)
	}
	read := func(rc io.ReadCloser, err error) (string, error) {
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if got, err := read(fs.Cat(alloc, "t/local/hello.txt", nil)); err != nil || got != "hello world\n" {
		t.Fatalf("cat %q (%v)", got, err)
	}
	if got, err := read(fs.ReadAt(alloc, "t/local/hello.txt", 6, 5, nil)); err != nil || got != "world" {
		t.Fatalf("readat %q (%v)", got, err)
	}
	if _, err := read(fs.Cat(alloc, "t/secrets/token", nil)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("reading a secret: %v", err)
	}
	if _, err := read(fs.Cat(alloc, "../../../../etc/passwd", nil)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("reading out of the allocation: %v", err)
	}

	// Stream follows what is appended.
	cancel := make(chan struct{})
	defer close(cancel)
	frames, errs := fs.Stream(alloc, "alloc/data/grow.log", "start", 0, cancel, nil)
	var got strings.Builder
	deadline := time.After(30 * time.Second)
	for !strings.Contains(got.String(), "line 12\n") {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the stream ended after %q", got.String())
			}
			got.Write(f.Data)
		case err := <-errs:
			t.Fatalf("stream: %v (after %q)", err, got.String())
		case <-deadline:
			t.Fatalf("the stream gave %q in 30s", got.String())
		}
	}
	if !strings.HasPrefix(got.String(), "line 0\nline 1\n") {
		t.Fatalf("the stream began with %q", got.String())
	}
}

func TestNomadsAllocExecRunsCommandsInATask(t *testing.T) {
	t.Parallel()
	addr, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	job := shellJob("shell", 1, `echo inside > "$NOMAD_TASK_DIR/marker"; exec sleep 300`)
	job.TaskGroups[0].Tasks[0].Actions = []*napi.Action{{Name: "hello", Command: "/bin/sh", Args: []string{"-c", `echo "action in $NOMAD_TASK_NAME"; exit 7`}}}
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	stub := waitJobRunning(t, c, "shell", 1)[0]
	alloc, _, err := c.Allocations().Info(stub.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(tty bool, stdin string, cmd ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, errOut strings.Builder
		code, err := c.Allocations().Exec(ctx, alloc, "t", tty, cmd, strings.NewReader(stdin), &out, &errOut, nil, nil)
		if err != nil {
			t.Fatalf("exec %v: %v", cmd, err)
		}
		return code, out.String(), errOut.String()
	}
	// The task's environment and directory, stdin, both streams and the
	// exit code.
	code, out, errOut := run(false, "hello\n", "/bin/sh", "-c", `cat local/marker; echo "$NOMAD_ALLOC_ID"; read x; echo "got $x"; echo oops >&2; exit 3`)
	if code != 3 || out != "inside\n"+alloc.ID+"\ngot hello\n" || errOut != "oops\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// On a terminal.
	if code, out, _ := run(true, "", "/bin/sh", "-c", `test -t 1 && echo on a tty`); code != 0 || !strings.Contains(out, "on a tty") {
		t.Fatalf("tty: exit %d, %q", code, out)
	}
	// A command that does not exist fails with a message, not a hang.
	if code, _, errOut := run(false, "", "/no/such/command"); code == 0 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("a missing command: exit %d, %q", code, errOut)
	}
	// nomad action: a task's action block, run as an exec session.
	var actOut strings.Builder
	code, err = c.Jobs().ActionExec(context.Background(), alloc, "shell", "t", false, []string{}, "hello", strings.NewReader(""), &actOut, io.Discard, nil, nil)
	if err != nil || code != 7 || actOut.String() != "action in t\n" {
		t.Fatalf("action: exit %d, %q, %v", code, actOut.String(), err)
	}
	if _, err := c.Jobs().ActionExec(context.Background(), alloc, "shell", "t", false, []string{}, "nope", strings.NewReader(""), io.Discard, io.Discard, nil, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("an unknown action: %v", err)
	}
	// The same through nctl.
	if out, errOut, code := nctl(t, addr, t.TempDir(), "alloc", "action", alloc.ID[:8], "hello"); code != 7 || out != "action in t\n" {
		t.Fatalf("nctl alloc action: exit %d, %q %s", code, out, errOut)
	}
	if _, errOut, code := nctl(t, addr, t.TempDir(), "alloc", "action", alloc.ID[:8], "nope"); code == 0 || !strings.Contains(errOut, "t/hello") {
		t.Fatalf("nctl alloc action of an unknown action: exit %d, %s", code, errOut)
	}
	if info, _, err := c.Jobs().Info("shell", nil); err != nil || len(info.TaskGroups[0].Tasks[0].Actions) != 1 {
		t.Fatalf("the job's actions: %+v %v", info.TaskGroups[0].Tasks[0].Actions, err)
	}
	if _, err := c.Allocations().Exec(context.Background(), alloc, "nope", false, []string{"true"}, strings.NewReader(""), io.Discard, io.Discard, nil, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("exec in a task the allocation lacks: %v", err)
	}
}

func TestNomadsServerSideParseAndValidate(t *testing.T) {
	t.Parallel()
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	src := `variable "greeting" {
  type = string
}
job "parsed" {
  datacenters = ["dc1"]
  group "g" {
    count = 2
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo ${var.greeting}; sleep 300"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`
	// As Terraform's Nomad provider does: parse on the server, register
	// what came back.
	job, err := c.Jobs().ParseHCLOpts(&napi.JobsParseRequest{JobHCL: src, Variables: `greeting = "hi there"`, Canonicalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if *job.ID != "parsed" || *job.TaskGroups[0].Count != 2 || job.TaskGroups[0].Tasks[0].Config["args"].([]any)[1] != "echo hi there; sleep 300" {
		t.Fatalf("parsed job %+v", job)
	}
	if _, err := c.Jobs().ParseHCL("job \"broken\" {\n  group \"g\" {\n    count = \"many\"\n  }\n}\n", true); err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "3:") {
		t.Fatalf("a broken file: %v", err)
	}
	if _, err := c.Jobs().ParseHCL(src, true); err == nil || !strings.Contains(err.Error(), "greeting") {
		t.Fatalf("a variable without a value: %v", err)
	}
	v, _, err := c.Jobs().Validate(job, nil)
	if err != nil || len(v.ValidationErrors) != 0 || v.Error != "" {
		t.Fatalf("validate a good job: %+v %v", v, err)
	}
	bad := *job
	bad.TaskGroups = []*napi.TaskGroup{{Name: ptrTo("g"), Count: ptrTo(-1), Tasks: job.TaskGroups[0].Tasks}}
	if v, _, err := c.Jobs().Validate(&bad, nil); err != nil || len(v.ValidationErrors) == 0 || !strings.Contains(v.Error, "count") {
		t.Fatalf("validate a bad job: %+v %v", v, err)
	}
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	waitJobRunning(t, c, "parsed", 2)
}

func TestNomadsNamespaceCommands(t *testing.T) {
	t.Parallel()
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	ns := c.Namespaces()
	// nomad namespace apply -description ... prod
	if _, err := ns.Register(&napi.Namespace{Name: "prod", Description: "production", Meta: map[string]string{"team": "core"}}, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := ns.Info("prod", nil)
	if err != nil || got.Description != "production" || got.Meta["team"] != "core" || got.CreateIndex == 0 {
		t.Fatalf("namespace info %+v %v", got, err)
	}
	if _, err := ns.Register(&napi.Namespace{Name: "prod", Description: "production, again"}, nil); err != nil {
		t.Fatal(err)
	}
	// A job in a namespace nobody created is listed too.
	job := shellJob("web", 1, "sleep 300")
	job.Namespace = ptrTo("adhoc")
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	list, _, err := ns.List(nil)
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
		if n.Name == "prod" && n.Description != "production, again" {
			t.Fatalf("the updated namespace: %+v", n)
		}
	}
	sort.Strings(names) // the api package orders them by index
	if err != nil || strings.Join(names, ",") != "adhoc,default,prod" {
		t.Fatalf("namespaces %v %v", names, err)
	}
	if _, err := ns.Register(&napi.Namespace{Name: "bad name"}, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a bad name: %v", err)
	}
	if _, err := ns.Delete("default", nil); err == nil || !strings.Contains(err.Error(), "default") {
		t.Fatalf("deleting default: %v", err)
	}
	// A namespace with jobs stays.
	job.Namespace = ptrTo("prod")
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Delete("prod", nil); err == nil || !strings.Contains(err.Error(), "has jobs") {
		t.Fatalf("deleting a namespace with jobs: %v", err)
	}
	if _, _, err := c.Jobs().Deregister("web", true, &napi.WriteOptions{Namespace: "prod"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Delete("prod", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ns.Info("prod", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a deleted namespace: %v", err)
	}
}

func TestNomadsStatsOfAllocationsAndNodes(t *testing.T) {
	t.Parallel()
	_, nomadAddr, _ := devAgentWithNomadAPI(t)
	c := nomadClient(t, nomadAddr)
	// A task that keeps a core busy and holds some memory.
	job := shellJob("busy", 1, `x=$(head -c 4000000 /dev/zero | tr '\0' a); while :; do :; done`)
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	stub := waitJobRunning(t, c, "busy", 1)[0]
	alloc, _, err := c.Allocations().Info(stub.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st *napi.AllocResourceUsage
	eventually(t, 30*time.Second, func() (bool, string) {
		st, err = c.Allocations().Stats(alloc, nil)
		if err != nil {
			return false, err.Error()
		}
		ts := st.Tasks["t"]
		if ts == nil {
			return false, "no task stats"
		}
		return ts.ResourceUsage.CpuStats.Percent > 20 && ts.ResourceUsage.MemoryStats.RSS > 1<<20,
			fmt.Sprintf("cpu %.1f%%, rss %d", ts.ResourceUsage.CpuStats.Percent, ts.ResourceUsage.MemoryStats.RSS)
	})
	ts := st.Tasks["t"].ResourceUsage
	if ts.CpuStats.TotalTicks <= 0 || ts.CpuStats.UserMode <= 0 || len(ts.MemoryStats.Measured) == 0 || st.ResourceUsage.MemoryStats.RSS < ts.MemoryStats.RSS {
		t.Fatalf("task stats %+v %+v, allocation %+v", ts.CpuStats, ts.MemoryStats, st.ResourceUsage.MemoryStats)
	}
	nodes, _, err := c.Nodes().List(nil)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes %v %v", nodes, err)
	}
	host, err := c.Nodes().Stats(nodes[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host.Memory.Total == 0 || host.Memory.Used == 0 || len(host.CPU) == 0 || host.Uptime == 0 || host.AllocDirStats == nil || host.AllocDirStats.Size == 0 {
		t.Fatalf("host stats %+v, memory %+v", host, host.Memory)
	}
}
