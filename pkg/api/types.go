// Package api holds the objects of nomadic's API. The same types go over the
// HTTP API, into etcd and out of `nctl -o json`, so there is one source of
// truth for each of them.
package api

import "time"

// Job types.
const (
	JobTypeService  = "service"
	JobTypeBatch    = "batch"
	JobTypeSystem   = "system"
	JobTypeSysbatch = "sysbatch"
)

// Job statuses, derived from the job and its allocations.
const (
	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// DefaultNamespace is the namespace of jobs that name none.
const DefaultNamespace = "default"

// Job is the unit a user submits: one or more task groups, each placed as
// Count allocations.
type Job struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Type        string            `json:"type,omitempty"`
	Priority    int               `json:"priority,omitempty"`
	Region      string            `json:"region,omitempty"`
	NodePool    string            `json:"node_pool,omitempty"`
	Datacenters []string          `json:"datacenters,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`

	Constraints   []*Constraint        `json:"constraints,omitempty"`
	Affinities    []*Affinity          `json:"affinities,omitempty"`
	Spreads       []*Spread            `json:"spreads,omitempty"`
	Update        *UpdateStrategy      `json:"update,omitempty"`
	Migrate       *MigrateStrategy     `json:"migrate,omitempty"`
	Reschedule    *ReschedulePolicy    `json:"reschedule,omitempty"`
	Periodic      *PeriodicConfig      `json:"periodic,omitempty"`
	Parameterized *ParameterizedConfig `json:"parameterized,omitempty"`
	UI            *JobUI               `json:"ui,omitempty"`

	Groups []*TaskGroup `json:"groups"`

	// LocatedWarnings are the job's warnings with their places in the job
	// file it was read from, set by package jobspec; Warnings returns them
	// when set. They never go over the wire.
	LocatedWarnings []string `json:"-"`

	// Fields below are set by the servers, never by the submitter.

	// ParentID names the periodic or parameterized job this job was
	// launched from; Payload is the input it was dispatched with.
	ParentID string `json:"parent_id,omitempty"`
	Payload  []byte `json:"payload,omitempty"`
	// DispatchIdempotencyToken is the token a dispatched child was
	// launched with: another dispatch with it returns this child.
	DispatchIdempotencyToken string `json:"dispatch_idempotency_token,omitempty"`

	// Version counts the changes of the job's specification, from 0.
	Version uint64 `json:"version"`
	// Stable is set on a version once a deployment of it succeeded; auto
	// revert goes back to the newest stable version.
	Stable bool `json:"stable,omitempty"`
	// Stop is set when the job was stopped (`nctl delete job`); its
	// allocations are stopped and the job stays visible until purged.
	Stop       bool      `json:"stop,omitempty"`
	SubmitTime time.Time `json:"submit_time,omitzero"`
	// Status is computed when the job is read through the API.
	Status string `json:"status,omitempty"`

	Indexes
}

// TaskGroup is a set of tasks that are placed together on one node.
type TaskGroup struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Meta  map[string]string `json:"meta,omitempty"`

	Constraints   []*Constraint             `json:"constraints,omitempty"`
	Affinities    []*Affinity               `json:"affinities,omitempty"`
	Spreads       []*Spread                 `json:"spreads,omitempty"`
	Update        *UpdateStrategy           `json:"update,omitempty"`
	Migrate       *MigrateStrategy          `json:"migrate,omitempty"`
	Reschedule    *ReschedulePolicy         `json:"reschedule,omitempty"`
	Restart       *RestartPolicy            `json:"restart,omitempty"`
	Network       *Network                  `json:"network,omitempty"`
	Services      []*Service                `json:"services,omitempty"`
	EphemeralDisk *EphemeralDisk            `json:"ephemeral_disk,omitempty"`
	Volumes       map[string]*VolumeRequest `json:"volumes,omitempty"`
	Disconnect    *DisconnectStrategy       `json:"disconnect,omitempty"`
	// MaxClientDisconnect is Nomad's older form of disconnect.lost_after.
	MaxClientDisconnect *Duration `json:"max_client_disconnect,omitempty"`
	ShutdownDelay       Duration  `json:"shutdown_delay,omitempty"`
	// Scaling bounds Count for `nctl job scale` and the scale API, and
	// keeps the policy of an external autoscaler.
	Scaling *ScalingPolicy `json:"scaling,omitempty"`

	Tasks []*Task `json:"tasks"`
}

// Task is one process run by a driver.
type Task struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	Config    map[string]any    `json:"config,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Resources *Resources        `json:"resources,omitempty"`
	// KillTimeout is how long a task is given to exit after its kill signal
	// before it is killed outright.
	KillTimeout   Duration `json:"kill_timeout,omitempty"`
	KillSignal    string   `json:"kill_signal,omitempty"`
	ShutdownDelay Duration `json:"shutdown_delay,omitempty"`
	User          string   `json:"user,omitempty"`
	Leader        bool     `json:"leader,omitempty"`

	Lifecycle    *Lifecycle     `json:"lifecycle,omitempty"`
	Logs         *LogConfig     `json:"logs,omitempty"`
	Constraints  []*Constraint  `json:"constraints,omitempty"`
	Affinities   []*Affinity    `json:"affinities,omitempty"`
	Services     []*Service     `json:"services,omitempty"`
	Artifacts    []*Artifact    `json:"artifacts,omitempty"`
	Templates    []*Template    `json:"templates,omitempty"`
	VolumeMounts []*VolumeMount `json:"volume_mounts,omitempty"`
	// DispatchPayload writes a dispatched job's payload into the task's
	// local/ directory under this file name.
	DispatchPayload *DispatchPayload `json:"dispatch_payload,omitempty"`
	// Restart is a task's own restart policy, over its group's.
	Restart *RestartPolicy `json:"restart,omitempty"`
	// MaxRunDuration bounds how long a batch task may run.
	MaxRunDuration Duration `json:"max_run_duration,omitempty"`
	Vault          *Vault   `json:"vault,omitempty"`
	Consul         *Consul  `json:"consul,omitempty"`
	// Identities are the task's identity blocks; the default one (no
	// name) hands the task its workload identity (DefaultIdentity).
	Identities []*WorkloadIdentity `json:"identities,omitempty"`
	Actions    []*Action           `json:"actions,omitempty"`
}

// DispatchPayload says where a task finds its dispatched payload.
type DispatchPayload struct {
	File string `json:"file"`
}

// IsTemplate reports whether the job is launched rather than run: a
// periodic job (launched on its schedule) or a parameterized one
// (launched by dispatch). The scheduler places nothing for it.
func (j *Job) IsTemplate() bool {
	return (j.Periodic != nil && j.Periodic.Enabled) || j.Parameterized != nil
}

// Resources a task asks for. CPU is in MHz and memory in MiB, as in Nomad.
type Resources struct {
	CPU       int `json:"cpu"`
	Cores     int `json:"cores,omitempty"`
	MemoryMB  int `json:"memory"`
	MemoryMax int `json:"memory_max,omitempty"` // MiB; MemoryUnlimited for no limit
	DiskMB    int `json:"disk,omitempty"`
	// Devices are the devices (GPUs, FPGAs) a task asks for, as in
	// Nomad. No node fingerprints devices yet.
	Devices []*RequestedDevice `json:"devices,omitempty"`
}

// RequestedDevice asks for Count devices of a kind: "gpu",
// "nvidia/gpu" or "nvidia/gpu/Tesla T4".
type RequestedDevice struct {
	Name        string        `json:"name"`
	Count       int           `json:"count"`
	Constraints []*Constraint `json:"constraints,omitempty"`
	Affinities  []*Affinity   `json:"affinities,omitempty"`
	// FirstAvailable are Nomad's alternative asks (count, constraints),
	// kept as written.
	FirstAvailable []map[string]any `json:"first_available,omitempty"`
}

// Add returns the sum of two resource asks.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPU: r.CPU + o.CPU, Cores: r.Cores + o.Cores, MemoryMB: r.MemoryMB + o.MemoryMB,
		MemoryMax: r.MemoryMax + o.MemoryMax, DiskMB: r.DiskMB + o.DiskMB}
}

// GroupResources is the sum of what the tasks of a group ask for.
func (g *TaskGroup) GroupResources() Resources {
	var sum Resources
	for _, t := range g.Tasks {
		if t.Resources != nil {
			sum = sum.Add(*t.Resources)
		}
	}
	return sum
}

// LookupGroup returns the group with the given name, or nil.
func (j *Job) LookupGroup(name string) *TaskGroup {
	for _, g := range j.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Node statuses. A node is ready while its heartbeat lease lives.
const (
	NodeStatusReady = "ready"
	NodeStatusDown  = "down"
)

// Node is a machine that runs allocations, as its agent fingerprinted it.
type Node struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Datacenter string                 `json:"datacenter"`
	NodePool   string                 `json:"node_pool,omitempty"`
	Attributes map[string]string      `json:"attributes,omitempty"`
	Meta       map[string]string      `json:"meta,omitempty"`
	Drivers    map[string]*DriverInfo `json:"drivers,omitempty"`
	// Resources is the capacity the node offers to allocations.
	Resources Resources `json:"resources"`
	// NodeClass groups nodes for constraints (${node.class}).
	NodeClass string `json:"node_class,omitempty"`
	// HostVolumes are the host volumes the node offers, by name.
	HostVolumes map[string]*HostVolume `json:"host_volumes,omitempty"`
	// Address is the IP that allocated ports are reached on.
	Address string `json:"address,omitempty"`
	// HTTPAddr is where the node agent serves task logs to the servers.
	HTTPAddr string `json:"http_addr,omitempty"`
	// HTTPTLS is set when the node agent serves over mutual TLS: servers
	// call it with a client certificate of the cluster's node CA.
	HTTPTLS bool `json:"http_tls,omitempty"`
	// ReadsJobs is set by a node agent whose etcd credentials may read
	// the job versions themselves (shared credentials, or etcd without
	// authentication): the leader makes no copies of job versions in its
	// tree. Unset — a node with its own confined etcd user, or an agent
	// of an older version — it gets the copies. A node that claims it
	// falsely only denies itself its copies.
	ReadsJobs bool `json:"reads_jobs,omitempty"`
	// Eligible is false when the node takes no new allocations.
	Eligible bool `json:"eligible"`
	// Drain is set while the node is being drained.
	Drain *DrainStrategy `json:"drain,omitempty"`
	// LastDrain is the node's latest drain: when it started, when it
	// last changed, how it ended (or that it runs).
	LastDrain    *DrainRecord `json:"last_drain,omitempty"`
	RegisterTime time.Time    `json:"register_time,omitzero"`

	// Status is computed from the node's heartbeat when read.
	Status string `json:"status,omitempty"`
	// DownSince is when the server reading the node saw its heartbeat
	// go, when it did (zero: up, or down since before it looked). The
	// scheduler replaces a down node's allocations only once it has been
	// down a moment (scheduler.Config.DownSettle).
	DownSince time.Time `json:"-"`

	Indexes
}

// HostVolume is a directory of a node that jobs may mount by name.
type HostVolume struct {
	Path     string `json:"path"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// DrainStrategy is how a draining node's allocations leave it.
type DrainStrategy struct {
	// Deadline is when the remaining allocations are stopped regardless
	// of their migrate policy; zero means no deadline.
	Deadline  time.Time `json:"deadline,omitzero"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// IgnoreSystemJobs leaves system jobs' allocations in place.
	IgnoreSystemJobs bool `json:"ignore_system_jobs,omitempty"`
}

// Drain statuses of a DrainRecord.
const (
	DrainStatusDraining = "draining"
	DrainStatusComplete = "complete"
	DrainStatusCanceled = "canceled"
)

// DrainRecord is what is kept of a node's latest drain.
type DrainRecord struct {
	StartedAt time.Time         `json:"started_at,omitzero"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
	Status    string            `json:"status"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// DriverInfo says whether a task driver can run tasks on a node.
type DriverInfo struct {
	Detected bool   `json:"detected"`
	Healthy  bool   `json:"healthy"`
	Reason   string `json:"reason,omitempty"`
}

// Allocation desired statuses, written by the servers.
const (
	AllocDesiredRun  = "run"
	AllocDesiredStop = "stop"
)

// Allocation client statuses, written by the node agent (lost is written by
// nobody: it is derived when a stopped allocation's node is gone).
const (
	AllocClientPending  = "pending"
	AllocClientRunning  = "running"
	AllocClientComplete = "complete"
	AllocClientFailed   = "failed"
	AllocClientLost     = "lost"
	// AllocClientUnknown is derived for an allocation whose node went down
	// while its group's disconnect.lost_after has not passed yet.
	AllocClientUnknown = "unknown"
)

// Allocation is a task group of a job placed on a node. The servers write it
// (its desired state); the node agent writes its Status under a separate key.
type Allocation struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	// JobVersion is left out of the JSON when 0, the first version (16
	// bytes of every such allocation record written, watched and sent).
	JobVersion uint64 `json:"job_version,omitempty"`
	// JobPriority is the job's priority when placed, for preemption.
	JobPriority int       `json:"job_priority,omitempty"`
	TaskGroup   string    `json:"task_group"`
	Index       int       `json:"index"`
	NodeID      string    `json:"node_id"`
	EvalID      string    `json:"eval_id"`
	Resources   Resources `json:"resources"`

	DesiredStatus      string `json:"desired_status"`
	DesiredDescription string `json:"desired_description,omitempty"`
	// NodeLost is set when the allocation was stopped because its node went
	// down; its client status then reads lost.
	NodeLost bool `json:"node_lost,omitempty"`
	// DisconnectTime is when the scheduler saw the allocation's node down
	// and kept the allocation for its group's disconnect.lost_after; its
	// client status reads unknown until the node returns or it is lost.
	DisconnectTime time.Time `json:"disconnect_time,omitzero"`
	// Ports are the ports the scheduler assigned, by label.
	Ports []AllocatedPort `json:"ports,omitempty"`
	// PreviousAllocation is the allocation this one replaces;
	// NextAllocation the one that replaced it.
	PreviousAllocation string `json:"previous_allocation,omitempty"`
	NextAllocation     string `json:"next_allocation,omitempty"`
	// RescheduleTracker lists the reschedules that led to this
	// allocation, for the reschedule policy's attempt counting.
	RescheduleTracker []RescheduleEvent `json:"reschedule_tracker,omitempty"`
	// PreemptedBy names the allocation that evicted this one.
	PreemptedBy string `json:"preempted_by,omitempty"`
	// StopRequested is set by an operator's alloc stop: the scheduler
	// stops the allocation and places its replacement (linked both ways),
	// as Nomad's alloc stop does.
	StopRequested bool `json:"stop_requested,omitempty"`
	// NoShutdownDelay, set by an operator's stop, has the node stop the
	// allocation without its shutdown_delay (nomad alloc stop
	// -no-shutdown-delay).
	NoShutdownDelay bool `json:"no_shutdown_delay,omitempty"`
	// Migrate is set on allocations stopped to leave a draining node.
	Migrate bool `json:"migrate,omitempty"`
	// Migrated is set on the replacement of such an allocation: its node
	// judges its health per the group's migrate block, and the drain moves
	// the next allocation once it is healthy.
	Migrated bool `json:"migrated,omitempty"`
	// Canary marks an allocation of a new version placed beside the old
	// ones until the update is promoted.
	Canary bool `json:"canary,omitempty"`
	// DeploymentID is the deployment the allocation was placed for; its
	// health counts towards it.
	DeploymentID string `json:"deployment_id,omitempty"`
	// ManualHealth is an operator's judgement of the allocation's health
	// for a deployment whose health_check is manual.
	ManualHealth *AllocHealth `json:"manual_health,omitempty"`
	// Restart and Signal are operator requests the node agent carries
	// out once each (nctl alloc restart|signal); their IDs tell a new
	// request from one already handled.
	Restart *TaskRequest `json:"restart,omitempty"`
	Signal  *TaskRequest `json:"signal,omitempty"`

	CreateTime time.Time `json:"create_time"`
	// ModifyTime is left out of a stored record while it equals
	// CreateTime (40 bytes of each of a million records: the difference
	// between six and seven records in one of etcd's pages); the store
	// fills it in as it reads.
	ModifyTime time.Time `json:"modify_time,omitzero"`

	// Status is what the node agent reported; nil until it reports.
	Status *AllocStatus `json:"status,omitempty"`

	Indexes
}

// TaskRequest asks the node agent to restart or signal the tasks of an
// allocation (all of them when Task is empty).
type TaskRequest struct {
	ID     string    `json:"id"`
	Task   string    `json:"task,omitempty"`
	Signal string    `json:"signal,omitempty"`
	Time   time.Time `json:"time"`
}

// AllocatedPort is a port given to an allocation: Value on the node's
// address, mapped to To inside the allocation when set.
type AllocatedPort struct {
	Label  string `json:"label"`
	Value  int    `json:"value"`
	To     int    `json:"to,omitempty"`
	HostIP string `json:"host_ip,omitempty"`
}

// RescheduleEvent is one reschedule of an allocation.
type RescheduleEvent struct {
	Time      time.Time `json:"time"`
	PrevAlloc string    `json:"prev_alloc"`
	PrevNode  string    `json:"prev_node"`
	Delay     Duration  `json:"delay"`
}

// AllocStatus is the observed state of an allocation, written by its node.
type AllocStatus struct {
	ClientStatus string `json:"client_status"`
	Description  string `json:"description,omitempty"`
	// NetworkAddress is the allocation's address on the node's bridge
	// in bridge network mode.
	NetworkAddress string `json:"network_address,omitempty"`
	// HandledRestart and HandledSignal are the IDs of the last restart
	// and signal requests the agent carried out.
	HandledRestart string `json:"handled_restart,omitempty"`
	HandledSignal  string `json:"handled_signal,omitempty"`
	// Health is the node agent's judgement of the allocation's health for
	// its deployment, made once.
	Health     *AllocHealth          `json:"health,omitempty"`
	Tasks      map[string]*TaskState `json:"tasks,omitempty"`
	UpdateTime time.Time             `json:"update_time"`
}

// Task states.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	TaskStateDead    = "dead"
)

// TaskState is the observed state of one task of an allocation.
type TaskState struct {
	State      string      `json:"state"`
	Failed     bool        `json:"failed,omitempty"`
	ExitCode   *int        `json:"exit_code,omitempty"`
	PID        int         `json:"pid,omitempty"`
	Restarts   int         `json:"restarts,omitempty"`
	StartedAt  time.Time   `json:"started_at,omitzero"`
	FinishedAt time.Time   `json:"finished_at,omitzero"`
	Events     []TaskEvent `json:"events,omitempty"`
	// Handle is the driver's record of the running task, used to re-attach
	// to it after an agent restart.
	Handle map[string]string `json:"handle,omitempty"`
}

// TaskEvent is one step in a task's life, shown by `nctl describe alloc`.
type TaskEvent struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Message string    `json:"message,omitempty"`
}

// ClientStatusOf returns the client status to show for an allocation:
// what its node reported, lost for allocations stopped because their node
// went down, and pending before any report.
func (a *Allocation) ClientStatusOf() string {
	status := AllocClientPending
	if a.Status != nil && a.Status.ClientStatus != "" {
		status = a.Status.ClientStatus
	}
	if a.NodeLost && !IsTerminalClientStatus(status) {
		return AllocClientLost
	}
	if !a.DisconnectTime.IsZero() && a.DesiredStatus == AllocDesiredRun && !IsTerminalClientStatus(status) {
		return AllocClientUnknown
	}
	return status
}

// IsTerminalClientStatus reports whether an allocation in this client status
// will never run again.
func IsTerminalClientStatus(s string) bool {
	switch s {
	case AllocClientComplete, AllocClientFailed, AllocClientLost:
		return true
	}
	return false
}

// Live reports whether the allocation holds its share of its node: the
// servers want it to run and it has not ended.
func (a *Allocation) Live() bool { return a.DesiredStatus == AllocDesiredRun && !a.Terminal() }

// Terminal reports whether the allocation is finished: stopped by the
// servers and no longer running, or run to its end.
func (a *Allocation) Terminal() bool {
	cs := a.ClientStatusOf()
	if IsTerminalClientStatus(cs) {
		return true
	}
	return a.DesiredStatus == AllocDesiredStop && cs == AllocClientPending && a.Status == nil
}

// Evaluation statuses.
const (
	EvalStatusPending  = "pending"
	EvalStatusComplete = "complete"
	EvalStatusBlocked  = "blocked"
	EvalStatusFailed   = "failed"
)

// Evaluation triggers.
const (
	EvalTriggerJobRegister   = "job-register"
	EvalTriggerJobDeregister = "job-deregister"
	EvalTriggerNodeUpdate    = "node-update"
	EvalTriggerRetry         = "retry-blocked"
	EvalTriggerAllocFailure  = "alloc-failure"
	EvalTriggerReschedule    = "delayed-reschedule"
	EvalTriggerPreemption    = "preemption"
	EvalTriggerRollingUpdate = "rolling-update"
	EvalTriggerNodeDrain     = "node-drain"
	EvalTriggerDeployment    = "deployment-watcher"
)

// Evaluation is a request to reconcile one job with the cluster.
type Evaluation struct {
	ID                string    `json:"id"`
	Namespace         string    `json:"namespace"`
	JobID             string    `json:"job_id"`
	TriggeredBy       string    `json:"triggered_by"`
	NodeID            string    `json:"node_id,omitempty"`
	Status            string    `json:"status"`
	StatusDescription string    `json:"status_description,omitempty"`
	CreateTime        time.Time `json:"create_time"`
	ModifyTime        time.Time `json:"modify_time"`
	// WaitUntil delays the evaluation, as for a delayed reschedule.
	WaitUntil time.Time `json:"wait_until,omitzero"`
	// PlacedAllocs and StoppedAllocs count what the evaluation's plans did.
	PlacedAllocs  int `json:"placed_allocs,omitempty"`
	StoppedAllocs int `json:"stopped_allocs,omitempty"`
	// FailedTGAllocs explains, per task group, placements that failed.
	FailedTGAllocs map[string]*AllocMetric `json:"failed_tg_allocs,omitempty"`
	// DeploymentID is the deployment the evaluation's plan created or
	// advanced, if any.
	DeploymentID string `json:"deployment_id,omitempty"`

	Indexes
}

// AllocMetric explains how the scheduler searched for a place and why it
// found none.
type AllocMetric struct {
	NodesEvaluated int `json:"nodes_evaluated"`
	NodesFiltered  int `json:"nodes_filtered"`
	NodesExhausted int `json:"nodes_exhausted"`
	// NodesInPool counts the ready nodes of the job's pool and
	// datacenters, the ones the scheduler could consider at all.
	NodesInPool        int            `json:"nodes_in_pool"`
	ClassFiltered      map[string]int `json:"filtered_by,omitempty"`
	DimensionExhausted map[string]int `json:"exhausted_on,omitempty"`
	CoalescedFailures  int            `json:"coalesced_failures,omitempty"`
}

// Server is a live nomadic server, registered under its lease.
type Server struct {
	Name      string    `json:"name"`
	HTTPAddr  string    `json:"http_addr"`
	Version   string    `json:"version"`
	StartTime time.Time `json:"start_time"`
	Leader    bool      `json:"leader,omitempty"`
	// PlanLock says the server commits plans under the servers' plan
	// lock; servers from before it bump a key per node instead, and the
	// others do too while one of them is live.
	PlanLock bool `json:"plan_lock,omitempty"`
}

// JobSubmission is the job file a job was registered from, sent beside
// the job so that the servers keep it with the version (what `nomad job
// inspect -hcl` shows). Variables are sealed with the keyring.
type JobSubmission struct {
	Source string `json:"source"`
	// Format is hcl2, json or yaml.
	Format string `json:"format"`
	// VariableFlags are the -var values; Variables the -var-file
	// contents.
	VariableFlags map[string]string `json:"variable_flags,omitempty"`
	Variables     string            `json:"variables,omitempty"`
}

// JobSource is what GET /v1/job/{id}/submission answers: the file a
// version was registered from, with its variables when the server can
// open them.
type JobSource struct {
	JobSubmission
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	Version   uint64 `json:"version"`
	// VariablesMissing is set when the version was submitted with
	// variables that are not given here (a server without a keyring did
	// not keep them, or their key left the keyring): the file alone may
	// not give the job.
	VariablesMissing bool `json:"variables_missing,omitempty"`
}

// RegisterResponse is the API's answer to a job submission.
type RegisterResponse struct {
	// Result is created, updated or unchanged.
	Result     string `json:"result"`
	JobID      string `json:"job_id"`
	Namespace  string `json:"namespace"`
	JobVersion uint64 `json:"job_version"`
	EvalID     string `json:"eval_id,omitempty"`
	// Warnings name what the job asks for that is accepted but not acted
	// on yet.
	Warnings []string `json:"warnings,omitempty"`
}

// PlanResponse is the API's answer to a dry run of a job.
type PlanResponse struct {
	JobID string `json:"job_id"`
	// Result is what applying the job would do to it: created, updated
	// or unchanged.
	Result string `json:"result"`
	// Diff lists the changed fields of the job, by field path.
	Diff []FieldDiff `json:"diff,omitempty"`
	// Changes counts, per group, what the scheduler would do.
	Changes map[string]*PlanChanges `json:"changes,omitempty"`
	// Placements are where new allocations would go.
	Placements     []PlannedAlloc          `json:"placements,omitempty"`
	FailedTGAllocs map[string]*AllocMetric `json:"failed_tg_allocs,omitempty"`
	// Distribution shows, for spread blocks, allocations per value
	// after the plan against the targets.
	Distribution []SpreadDistribution `json:"distribution,omitempty"`
	Warnings     []string             `json:"warnings,omitempty"`
}

// PlanChanges counts what a plan does to one task group.
type PlanChanges struct {
	Place       int `json:"place,omitempty"`
	Stop        int `json:"stop,omitempty"`
	InPlace     int `json:"in_place,omitempty"`
	Destructive int `json:"destructive,omitempty"`
	Migrate     int `json:"migrate,omitempty"`
	Reschedule  int `json:"reschedule,omitempty"`
	Lost        int `json:"lost,omitempty"`
	Canary      int `json:"canary,omitempty"`
	Preempt     int `json:"preempt,omitempty"`
	// Disconnect counts allocations kept as unknown on a node that went
	// down, within their group's lost_after.
	Disconnect int `json:"disconnect,omitempty"`
	// Reconnect counts allocations whose node came back in time.
	Reconnect int `json:"reconnect,omitempty"`
	Ignore    int `json:"ignore,omitempty"`
	Failed    int `json:"failed,omitempty"`
}

// FieldDiff is one changed field of a job.
type FieldDiff struct {
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// PlannedAlloc is one placement of a dry run.
type PlannedAlloc struct {
	Name     string `json:"name"`
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
}

// SpreadDistribution is how a group's allocations share the values of a
// spread attribute.
type SpreadDistribution struct {
	Group     string         `json:"group"`
	Attribute string         `json:"attribute"`
	Counts    map[string]int `json:"counts"`
	// Targets are the desired counts per value: the target shares, the
	// rest split over the other values, or an even split.
	Targets map[string]float64 `json:"targets,omitempty"`
}

// ServiceRegistration is one instance of a service in the built-in
// catalog: where an allocation serves it, and how its checks fare. Node
// agents write them under their lease, so a dead node's instances vanish
// with it.
type ServiceRegistration struct {
	ID          string            `json:"id"`
	ServiceName string            `json:"service_name"`
	Namespace   string            `json:"namespace"`
	JobID       string            `json:"job_id"`
	AllocID     string            `json:"alloc_id"`
	NodeID      string            `json:"node_id"`
	Task        string            `json:"task,omitempty"`
	Address     string            `json:"address"`
	Port        int               `json:"port"`
	Tags        []string          `json:"tags,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Checks      []CheckStatus     `json:"checks,omitempty"`
	Indexes
}

// Healthy reports whether every check of the instance passes.
func (s *ServiceRegistration) Healthy() bool {
	for _, c := range s.Checks {
		if c.Status != CheckPassing {
			return false
		}
	}
	return true
}

// AllocExceededMaxRunDuration is the description of an allocation of a
// batch or sysbatch job that its node stopped at max_run_duration (Nomad's
// words, which its tools read).
const AllocExceededMaxRunDuration = "allocation exceeded max_run_duration"

// Check statuses.
const (
	CheckPending  = "pending"
	CheckPassing  = "passing"
	CheckWarning  = "warning"
	CheckCritical = "critical"
)

// CheckStatus is the last result of one health check.
type CheckStatus struct {
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	Status string    `json:"status"`
	Output string    `json:"output,omitempty"`
	Time   time.Time `json:"time,omitzero"`
}

// ErrorResponse is the body of every API error.
type ErrorResponse struct {
	Error string `json:"error"`
}

// MemoryUnlimited as a task's memory_max lets it use all the memory of its
// node: it is scheduled by its memory, and no limit is set (Nomad's -1).
const MemoryUnlimited = -1
