package nomadapi

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/scheduler"
)

// The translation from nomadic's objects to Nomad's wire shapes. It keeps
// nothing of its own: every answer is made from what the store read.

func ptr[T any](v T) *T { return &v }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func dur(d api.Duration) *time.Duration { return ptr(d.Std()) }

// jobStatus is a job's status as Nomad names it.
func jobStatus(j *api.Job) string {
	if j.Status == "" {
		return api.JobStatusPending
	}
	return j.Status
}

func toJob(j *api.Job, region string) *Job {
	out := &Job{
		Region:            ptr(region),
		Namespace:         ptr(j.Namespace),
		ID:                ptr(j.ID),
		Name:              ptr(cmpOr(j.Name, j.ID)),
		Type:              ptr(cmpOr(j.Type, api.JobTypeService)),
		Priority:          ptr(j.Priority),
		AllAtOnce:         ptr(false),
		Datacenters:       j.Datacenters,
		NodePool:          ptr(cmpOr(j.NodePool, api.DefaultNodePool)),
		Constraints:       toConstraints(j.Constraints),
		Affinities:        toAffinities(j.Affinities),
		Spreads:           toSpreads(j.Spreads),
		Update:            toUpdate(j.Update),
		Reschedule:        toReschedule(j.Reschedule),
		Migrate:           toMigrate(j.Migrate),
		Meta:              j.Meta,
		Stop:              ptr(j.Stop),
		ParentID:          ptr(j.ParentID),
		Dispatched:        j.ParentID != "" && strings.Contains(j.ID, "-dispatch-"),
		Payload:           j.Payload,
		Status:            ptr(jobStatus(j)),
		StatusDescription: ptr(""),
		Stable:            ptr(j.Stable),
		Version:           ptr(j.Version),
		SubmitTime:        ptr(nanos(j.SubmitTime)),
		CreateIndex:       ptr(j.CreateIndex),
		ModifyIndex:       ptr(j.ModifyIndex),
		JobModifyIndex:    ptr(j.ModifyIndex),
	}
	if out.Datacenters == nil {
		out.Datacenters = []string{"*"}
	}
	if p := j.Periodic; p != nil {
		out.Periodic = &PeriodicConfig{Enabled: ptr(p.Enabled), Specs: p.Crons, SpecType: ptr("cron"),
			ProhibitOverlap: ptr(p.ProhibitOverlap), TimeZone: ptr(cmpOr(p.TimeZone, "UTC"))}
		if len(p.Crons) > 0 {
			out.Periodic.Spec = ptr(p.Crons[0])
		}
	}
	if p := j.Parameterized; p != nil {
		out.ParameterizedJob = &ParameterizedJobConfig{Payload: cmpOr(p.Payload, "optional"), MetaRequired: p.MetaRequired, MetaOptional: p.MetaOptional}
	}
	for _, g := range j.Groups {
		out.TaskGroups = append(out.TaskGroups, toGroup(j, g))
	}
	if out.TaskGroups == nil {
		out.TaskGroups = []*TaskGroup{}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func toGroup(j *api.Job, g *api.TaskGroup) *TaskGroup {
	out := &TaskGroup{
		Scaling:          toScalingPolicy(j, g),
		Name:             ptr(g.Name),
		Count:            ptr(g.Count),
		Constraints:      toConstraints(g.Constraints),
		Affinities:       toAffinities(g.Affinities),
		Spreads:          toSpreads(g.Spreads),
		RestartPolicy:    toRestart(g.Restart),
		ReschedulePolicy: toReschedule(g.Reschedule),
		Update:           toUpdate(g.Update),
		Migrate:          toMigrate(g.Migrate),
		Meta:             g.Meta,
		ShutdownDelay:    dur(g.ShutdownDelay),
	}
	if d := g.EphemeralDisk; d != nil {
		out.EphemeralDisk = &EphemeralDisk{Sticky: ptr(d.Sticky), Migrate: ptr(d.Migrate), SizeMB: ptr(d.SizeMB)}
	}
	if n := g.Network; n != nil {
		out.Networks = []*NetworkResource{toNetwork(n)}
	}
	if g.MaxClientDisconnect != nil {
		out.MaxClientDisconnect = dur(*g.MaxClientDisconnect)
	}
	if d := g.Disconnect; d != nil {
		out.Disconnect = &DisconnectStrategy{LostAfter: dur(d.LostAfter), StopOnClientAfter: dur(d.StopAfter),
			Replace: ptr(g.ReplaceDisconnected()), Reconcile: ptr(g.ReconcileMode())}
	}
	if len(g.Volumes) > 0 {
		out.Volumes = map[string]*VolumeRequest{}
		for name, v := range g.Volumes {
			out.Volumes[name] = &VolumeRequest{Name: cmpOr(v.Name, name), Type: v.Type, Source: v.Source, ReadOnly: v.ReadOnly}
		}
	}
	for _, s := range g.Services {
		out.Services = append(out.Services, toService(s))
	}
	for _, t := range g.Tasks {
		out.Tasks = append(out.Tasks, toTask(t, g))
	}
	if out.Tasks == nil {
		out.Tasks = []*Task{}
	}
	return out
}

func toNetwork(n *api.Network) *NetworkResource {
	out := &NetworkResource{Mode: cmpOr(n.Mode, "host"), Hostname: n.Hostname}
	for _, p := range n.Ports {
		wp := Port{Label: p.Label, Value: p.Static, To: p.To, HostNetwork: cmpOr(p.HostNetwork, "default")}
		if p.Static > 0 {
			out.ReservedPorts = append(out.ReservedPorts, wp)
		} else {
			out.DynamicPorts = append(out.DynamicPorts, wp)
		}
	}
	return out
}

func toTask(t *api.Task, g *api.TaskGroup) *Task {
	out := &Task{
		Name: t.Name, Driver: t.Driver, User: t.User, Config: t.Config,
		Constraints: toConstraints(t.Constraints), Affinities: toAffinities(t.Affinities),
		Env: t.Env, Meta: t.Meta, KillTimeout: dur(t.KillTimeout), Leader: t.Leader,
		ShutdownDelay: t.ShutdownDelay.Std(), KillSignal: t.KillSignal,
		RestartPolicy: toRestart(g.Restart),
		Actions:       []*Action{},
	}
	if t.Restart != nil {
		out.RestartPolicy = toRestart(t.Restart)
	}
	for _, a := range t.Actions {
		out.Actions = append(out.Actions, &Action{Name: a.Name, Command: a.Command, Args: a.Args})
	}
	if l := t.Lifecycle; l != nil {
		out.Lifecycle = &TaskLifecycle{Hook: l.Hook, Sidecar: l.Sidecar}
	}
	if r := t.Resources; r != nil {
		out.Resources = toResources(*r)
	}
	if l := t.Logs; l != nil {
		out.LogConfig = &LogConfig{MaxFiles: ptr(l.MaxFiles), MaxFileSizeMB: ptr(l.MaxFileSizeMB), Disabled: ptr(l.Disabled)}
	}
	for _, s := range t.Services {
		out.Services = append(out.Services, toService(s))
	}
	for _, a := range t.Artifacts {
		out.Artifacts = append(out.Artifacts, &TaskArtifact{GetterSource: ptr(a.Source), GetterOptions: a.Options,
			GetterMode: ptr(cmpOr(a.Mode, "any")), RelativeDest: ptr(cmpOr(a.Destination, "local/"))})
	}
	for _, tp := range t.Templates {
		out.Templates = append(out.Templates, &Template{SourcePath: ptr(tp.Source), DestPath: ptr(tp.Destination),
			EmbeddedTmpl: ptr(tp.Data), ChangeMode: ptr(cmpOr(tp.ChangeMode, "restart")), ChangeSignal: ptr(tp.ChangeSignal),
			Splay: dur(tp.Splay), Perms: ptr(cmpOr(tp.Perms, "0644")), LeftDelim: ptr(cmpOr(tp.LeftDelim, "{{")),
			RightDelim: ptr(cmpOr(tp.RightDelim, "}}")), Envvars: ptr(tp.Env)})
	}
	for _, vm := range t.VolumeMounts {
		out.VolumeMounts = append(out.VolumeMounts, &VolumeMount{Volume: ptr(vm.Volume), Destination: ptr(vm.Destination), ReadOnly: ptr(vm.ReadOnly)})
	}
	if d := t.DispatchPayload; d != nil {
		out.DispatchPayload = &DispatchPayloadConfig{File: d.File}
	}
	return out
}

func toResources(r api.Resources) *Resources {
	return &Resources{CPU: ptr(r.CPU), Cores: ptr(r.Cores), MemoryMB: ptr(r.MemoryMB), MemoryMaxMB: ptr(r.MemoryMax), DiskMB: ptr(r.DiskMB)}
}

func toService(s *api.Service) *Service {
	out := &Service{Name: s.Name, Tags: s.Tags, PortLabel: s.Port, AddressMode: cmpOr(s.AddressMode, "auto"),
		Address: s.Address, Meta: s.Meta, TaskName: s.TaskName, Provider: cmpOr(s.Provider, "nomad")}
	for _, c := range s.Checks {
		out.Checks = append(out.Checks, ServiceCheck{Name: c.Name, Type: c.Type, Command: c.Command, Args: c.Args,
			Path: c.Path, Protocol: c.Protocol, PortLabel: c.Port, Interval: c.Interval.Std(), Timeout: c.Timeout.Std(),
			Header: c.Header, Method: c.Method, TaskName: c.Task})
	}
	return out
}

func toConstraints(cs []*api.Constraint) []*Constraint {
	var out []*Constraint
	for _, c := range cs {
		out = append(out, &Constraint{LTarget: c.Attribute, RTarget: c.Value, Operand: c.Operator})
	}
	return out
}

func toAffinities(as []*api.Affinity) []*Affinity {
	var out []*Affinity
	for _, a := range as {
		out = append(out, &Affinity{LTarget: a.Attribute, RTarget: a.Value, Operand: a.Operator, Weight: ptr(int8(a.Weight))})
	}
	return out
}

func toSpreads(ss []*api.Spread) []*Spread {
	var out []*Spread
	for _, s := range ss {
		w := &Spread{Attribute: s.Attribute, Weight: ptr(int8(s.Weight))}
		for _, t := range s.Targets {
			w.SpreadTarget = append(w.SpreadTarget, &SpreadTarget{Value: t.Value, Percent: uint8(t.Percent)})
		}
		out = append(out, w)
	}
	return out
}

func toUpdate(u *api.UpdateStrategy) *UpdateStrategy {
	if u == nil {
		return nil
	}
	return &UpdateStrategy{Stagger: dur(u.Stagger), MaxParallel: ptr(u.MaxParallel), HealthCheck: ptr(u.HealthCheck),
		MinHealthyTime: dur(u.MinHealthyTime), HealthyDeadline: dur(u.HealthyDeadline), ProgressDeadline: dur(u.ProgressDeadline),
		Canary: ptr(u.Canary), AutoRevert: ptr(u.AutoRevert), AutoPromote: ptr(u.AutoPromote)}
}

func toMigrate(m *api.MigrateStrategy) *MigrateStrategy {
	if m == nil {
		return nil
	}
	return &MigrateStrategy{MaxParallel: ptr(m.MaxParallel), HealthCheck: ptr(m.HealthCheck),
		MinHealthyTime: dur(m.MinHealthyTime), HealthyDeadline: dur(m.HealthyDeadline)}
}

func toReschedule(r *api.ReschedulePolicy) *ReschedulePolicy {
	if r == nil {
		return nil
	}
	return &ReschedulePolicy{Attempts: ptr(r.Attempts), Interval: dur(r.Interval), Delay: dur(r.Delay),
		DelayFunction: ptr(r.DelayFunction), MaxDelay: dur(r.MaxDelay), Unlimited: ptr(r.Unlimited)}
}

func toRestart(r *api.RestartPolicy) *RestartPolicy {
	if r == nil {
		return nil
	}
	return &RestartPolicy{Interval: dur(r.Interval), Attempts: ptr(r.Attempts), Delay: dur(r.Delay),
		Mode: ptr(r.Mode), RenderTemplates: ptr(r.RenderTemplates)}
}

// toJobStub is a job of the job list.
func toJobStub(j *api.Job, sum *JobSummary) *JobListStub {
	return &JobListStub{
		ID: j.ID, ParentID: j.ParentID, Name: cmpOr(j.Name, j.ID), Namespace: j.Namespace, Datacenters: j.Datacenters,
		Type: cmpOr(j.Type, api.JobTypeService), Priority: j.Priority, Periodic: j.Periodic != nil,
		ParameterizedJob: j.Parameterized != nil, Stop: j.Stop, Status: jobStatus(j), JobSummary: sum,
		CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex, JobModifyIndex: j.ModifyIndex,
		SubmitTime: nanos(j.SubmitTime), Meta: j.Meta,
	}
}

// summarize counts a job's allocations per group as Nomad's job summary
// does; queued are the placements its newest blocked evaluation could not
// make.
func summarize(j *api.Job, allocs []*api.Allocation, evals []*api.Evaluation) *JobSummary {
	sum := &JobSummary{JobID: j.ID, Namespace: j.Namespace, Summary: map[string]TaskGroupSummary{},
		Children: &JobChildrenSummary{}, CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex}
	for _, g := range j.Groups {
		sum.Summary[g.Name] = TaskGroupSummary{}
	}
	for _, a := range allocs {
		s := sum.Summary[a.TaskGroup]
		switch a.ClientStatusOf() {
		case api.AllocClientPending:
			if a.DesiredStatus == api.AllocDesiredRun {
				s.Starting++
			}
		case api.AllocClientRunning:
			s.Running++
		case api.AllocClientComplete:
			s.Complete++
		case api.AllocClientFailed:
			s.Failed++
		case api.AllocClientLost:
			s.Lost++
		case api.AllocClientUnknown:
			s.Unknown++
		}
		sum.Summary[a.TaskGroup] = s
	}
	for i := len(evals) - 1; i >= 0; i-- {
		e := evals[i]
		if e.Status != api.EvalStatusBlocked {
			continue
		}
		for g, m := range e.FailedTGAllocs {
			s := sum.Summary[g]
			s.Queued = 1 + m.CoalescedFailures
			sum.Summary[g] = s
		}
		break
	}
	return sum
}

// clientStatus is an allocation's client status and its description.
func clientStatus(a *api.Allocation) (string, string) {
	status := a.ClientStatusOf()
	desc := ""
	if a.Status != nil {
		desc = a.Status.Description
	}
	if desc == "" {
		switch status {
		case api.AllocClientPending:
			desc = "No tasks have started"
		case api.AllocClientRunning:
			desc = "Tasks are running"
		case api.AllocClientComplete:
			desc = "All tasks have completed"
		case api.AllocClientFailed:
			desc = "Failed tasks"
		case api.AllocClientLost:
			desc = "alloc is lost since its node is down"
		case api.AllocClientUnknown:
			desc = "alloc is unknown since its node is disconnected"
		}
	}
	return status, desc
}

func toTaskStates(a *api.Allocation) map[string]*TaskState {
	out := map[string]*TaskState{}
	if a.Status == nil {
		return out
	}
	for name, ts := range a.Status.Tasks {
		w := &TaskState{State: ts.State, Failed: ts.Failed, Restarts: uint64(max(ts.Restarts, 0)),
			StartedAt: ts.StartedAt, FinishedAt: ts.FinishedAt, Events: []*TaskEvent{}}
		for _, e := range ts.Events {
			we := &TaskEvent{Type: e.Type, Time: nanos(e.Time), DisplayMessage: e.Message, Message: e.Message,
				Details: map[string]string{}}
			if e.Type == "Restarting" && e.Time.After(w.LastRestart) {
				w.LastRestart = e.Time
			}
			if e.Type == "Terminated" && ts.ExitCode != nil {
				we.ExitCode = *ts.ExitCode
				we.Details["exit_code"] = strconv.Itoa(*ts.ExitCode)
			}
			w.Events = append(w.Events, we)
		}
		out[name] = w
	}
	return out
}

func deploymentStatus(a *api.Allocation) *AllocDeploymentStatus {
	h := a.Health()
	if h == nil && !a.Canary {
		return nil
	}
	out := &AllocDeploymentStatus{Canary: a.Canary, ModifyIndex: a.ModifyIndex}
	if h != nil {
		out.Healthy = ptr(h.Healthy)
		out.Timestamp = h.Time
	}
	return out
}

func rescheduleTracker(a *api.Allocation) *RescheduleTracker {
	if len(a.RescheduleTracker) == 0 {
		return nil
	}
	out := &RescheduleTracker{}
	for _, e := range a.RescheduleTracker {
		out.Events = append(out.Events, &RescheduleEvent{RescheduleTime: nanos(e.Time), PrevAllocID: e.PrevAlloc,
			PrevNodeID: e.PrevNode, Delay: e.Delay.Std()})
	}
	return out
}

func toAllocStub(a *api.Allocation, jobType, nodeName string) *AllocationListStub {
	status, desc := clientStatus(a)
	return &AllocationListStub{
		ID: a.ID, EvalID: a.EvalID, Name: a.Name, Namespace: a.Namespace, NodeID: a.NodeID, NodeName: nodeName,
		JobID: a.JobID, JobType: jobType, JobVersion: a.JobVersion, TaskGroup: a.TaskGroup,
		DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription,
		ClientStatus: status, ClientDescription: desc, TaskStates: toTaskStates(a),
		DeploymentStatus: deploymentStatus(a), NextAllocation: a.NextAllocation,
		RescheduleTracker: rescheduleTracker(a), PreemptedByAllocation: a.PreemptedBy,
		CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		CreateTime: nanos(a.CreateTime), ModifyTime: nanos(allocModified(a)),
	}
}

// allocModified is when the allocation last changed: the servers' last
// write or its node's last status, whichever is later (Nomad's ModifyTime
// moves with the client's updates).
func allocModified(a *api.Allocation) time.Time {
	if a.Status != nil && a.Status.UpdateTime.After(a.ModifyTime) {
		return a.Status.UpdateTime
	}
	return a.ModifyTime
}

// toAlloc is a whole allocation: with its job (at the version it runs, when
// that is known) and its resources per task.
func toAlloc(a *api.Allocation, job *api.Job, nodeName, region string) *Allocation {
	status, desc := clientStatus(a)
	out := &Allocation{
		ID: a.ID, Namespace: a.Namespace, EvalID: a.EvalID, Name: a.Name, NodeID: a.NodeID, NodeName: nodeName,
		JobID: a.JobID, TaskGroup: a.TaskGroup,
		Resources: toResources(a.Resources), TaskResources: map[string]*Resources{},
		Metrics:       &AllocationMetric{},
		DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription,
		DesiredTransition: DesiredTransition{Migrate: ptr(a.Migrate || a.StopRequested), Reschedule: ptr(a.StopRequested),
			NoShutdownDelay: ptr(a.NoShutdownDelay)},
		ClientStatus: status, ClientDescription: desc, TaskStates: toTaskStates(a),
		DeploymentID: a.DeploymentID, DeploymentStatus: deploymentStatus(a),
		PreviousAllocation: a.PreviousAllocation, NextAllocation: a.NextAllocation,
		RescheduleTracker: rescheduleTracker(a), PreemptedByAllocation: a.PreemptedBy,
		CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex, AllocModifyIndex: a.ModifyIndex,
		CreateTime: nanos(a.CreateTime), ModifyTime: nanos(allocModified(a)),
	}
	out.NetworkStatus = &AllocNetworkStatus{}
	if a.Status != nil && a.Status.NetworkAddress != "" {
		out.NetworkStatus = &AllocNetworkStatus{InterfaceName: "eth0", Address: a.Status.NetworkAddress}
	}
	if job == nil {
		job = &api.Job{ID: a.JobID, Namespace: a.Namespace, Version: a.JobVersion}
	}
	out.AllocatedResources = allocatedResources(a, job)
	out.Job = toJob(job, region)
	if g := job.LookupGroup(a.TaskGroup); g != nil {
		for _, t := range g.Tasks {
			r := api.Resources{}
			if t.Resources != nil {
				r = *t.Resources
			}
			out.TaskResources[t.Name] = toResources(r)
		}
	}
	return out
}

// allocatedResources is what an allocation holds: its disk and ports, and
// each task's CPU and memory as job (the allocation's version of it, or
// nil: none) asks.
func allocatedResources(a *api.Allocation, job *api.Job) *AllocatedResources {
	shared := AllocatedSharedResources{DiskMB: int64(a.Resources.DiskMB)}
	if len(a.Ports) > 0 {
		n := &NetworkResource{Mode: "host"}
		for _, p := range a.Ports {
			shared.Ports = append(shared.Ports, PortMapping{Label: p.Label, Value: p.Value, To: p.To, HostIP: p.HostIP})
			n.IP = p.HostIP
			n.DynamicPorts = append(n.DynamicPorts, Port{Label: p.Label, Value: p.Value, To: p.To})
		}
		shared.Networks = []*NetworkResource{n}
	}
	out := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{}, Shared: shared}
	if job == nil {
		return out
	}
	if g := job.LookupGroup(a.TaskGroup); g != nil {
		for _, t := range g.Tasks {
			r := api.Resources{}
			if t.Resources != nil {
				r = *t.Resources
			}
			out.Tasks[t.Name] = &AllocatedTaskResources{
				Cpu:    AllocatedCpuResources{CpuShares: int64(r.CPU)},
				Memory: AllocatedMemoryResources{MemoryMB: int64(r.MemoryMB), MemoryMaxMB: int64(r.MemoryMax)},
			}
		}
	}
	return out
}

func toMetric(m *api.AllocMetric) *AllocationMetric {
	if m == nil {
		return nil
	}
	return &AllocationMetric{NodesEvaluated: m.NodesEvaluated, NodesFiltered: m.NodesFiltered, NodesInPool: m.NodesInPool,
		NodesExhausted: m.NodesExhausted, ClassFiltered: m.ClassFiltered, ConstraintFiltered: m.ClassFiltered,
		DimensionExhausted: m.DimensionExhausted, CoalescedFailures: m.CoalescedFailures,
		NodesAvailable: map[string]int{}}
}

func toMetrics(ms map[string]*api.AllocMetric) map[string]*AllocationMetric {
	if len(ms) == 0 {
		return nil
	}
	out := map[string]*AllocationMetric{}
	for g, m := range ms {
		out[g] = toMetric(m)
	}
	return out
}

func toDeployment(d *api.Deployment) *Deployment {
	out := &Deployment{ID: d.ID, Namespace: d.Namespace, JobID: d.JobID, JobVersion: d.JobVersion,
		TaskGroups: map[string]*DeploymentState{}, Status: d.Status, StatusDescription: d.StatusDescription,
		CreateIndex: d.CreateIndex, ModifyIndex: d.ModifyIndex}
	for name, g := range d.Groups {
		out.TaskGroups[name] = &DeploymentState{PlacedCanaries: g.PlacedCanaries, AutoRevert: g.AutoRevert,
			ProgressDeadline: g.ProgressDeadline.Std(), RequireProgressBy: g.RequireProgressBy, Promoted: g.Promoted,
			DesiredCanaries: g.DesiredCanaries, DesiredTotal: g.DesiredTotal, PlacedAllocs: g.PlacedAllocs,
			HealthyAllocs: g.HealthyAllocs, UnhealthyAllocs: g.UnhealthyAllocs}
	}
	return out
}

func eligibility(n *api.Node) string {
	if n.Eligible {
		return "eligible"
	}
	return "ineligible"
}

func toDrivers(n *api.Node) map[string]*DriverInfo {
	out := map[string]*DriverInfo{}
	for name, d := range n.Drivers {
		desc := "Healthy"
		if !d.Healthy {
			desc = cmpOr(d.Reason, "Unhealthy")
		}
		out[name] = &DriverInfo{Attributes: map[string]string{}, Detected: d.Detected, Healthy: d.Healthy,
			HealthDescription: desc, UpdateTime: n.RegisterTime}
	}
	return out
}

func attributes(n *api.Node) map[string]string {
	out := map[string]string{}
	for k, v := range n.Attributes {
		out[k] = v
	}
	for name, d := range n.Drivers {
		if d.Detected {
			out["driver."+name] = "1"
		}
	}
	return out
}

func toNodeStub(n *api.Node, version string) *NodeListStub {
	return &NodeListStub{Address: n.Address, ID: n.ID, Attributes: attributes(n), Datacenter: n.Datacenter, Name: n.Name,
		NodeClass: n.NodeClass, NodePool: cmpOr(n.NodePool, api.DefaultNodePool), Version: version, Drain: n.Drain != nil,
		SchedulingEligibility: eligibility(n), Status: n.Status, Drivers: toDrivers(n), LastDrain: toLastDrain(n),
		CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex}
}

// toLastDrain is a node's latest drain, or nil.
func toLastDrain(n *api.Node) *DrainMetadata {
	l := n.LastDrain
	if l == nil {
		return nil
	}
	return &DrainMetadata{StartedAt: l.StartedAt, UpdatedAt: l.UpdatedAt, Status: l.Status, Meta: l.Meta}
}

// nodeEvents are what is known of a node's history: its agent's
// registration (as Nomad's first event of a node says).
func nodeEvents(n *api.Node) []*NodeEvent {
	if n.RegisterTime.IsZero() {
		return []*NodeEvent{}
	}
	return []*NodeEvent{{Message: "Node registered", Subsystem: "Cluster", Details: map[string]string{}, Timestamp: n.RegisterTime, CreateIndex: n.CreateIndex}}
}

// nodeResources is what a node offers, in Nomad's form.
func nodeResources(n *api.Node) *NodeResources {
	return &NodeResources{Cpu: NodeCpuResources{CpuShares: int64(n.Resources.CPU)},
		Memory: NodeMemoryResources{MemoryMB: int64(n.Resources.MemoryMB)}, Disk: NodeDiskResources{DiskMB: int64(n.Resources.DiskMB)},
		MinDynamicPort: scheduler.DefaultMinDynamicPort, MaxDynamicPort: scheduler.DefaultMaxDynamicPort}
}

func toNode(n *api.Node) *Node {
	out := &Node{ID: n.ID, Datacenter: n.Datacenter, Name: n.Name, Attributes: attributes(n),
		NodeResources: nodeResources(n), ReservedResources: &NodeReservedResources{},
		Resources: toResources(n.Resources), Reserved: toResources(api.Resources{}),
		Links: map[string]string{}, Meta: n.Meta, NodeClass: n.NodeClass, NodePool: cmpOr(n.NodePool, api.DefaultNodePool),
		Drain: n.Drain != nil, SchedulingEligibility: eligibility(n), Status: n.Status,
		StatusUpdatedAt: n.RegisterTime.Unix(), Events: nodeEvents(n), Drivers: toDrivers(n),
		HostVolumes: map[string]*HostVolumeInfo{}, CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex}
	if out.Meta == nil {
		out.Meta = map[string]string{}
	}
	for name, v := range n.HostVolumes {
		out.HostVolumes[name] = &HostVolumeInfo{Path: v.Path, ReadOnly: v.ReadOnly}
	}
	out.LastDrain = toLastDrain(n)
	if d := n.Drain; d != nil {
		out.DrainStrategy = &DrainStrategy{DrainSpec: DrainSpec{IgnoreSystemJobs: d.IgnoreSystemJobs}, ForceDeadline: d.Deadline, StartedAt: d.StartedAt}
		if !d.Deadline.IsZero() {
			out.DrainStrategy.Deadline = d.Deadline.Sub(d.StartedAt)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
