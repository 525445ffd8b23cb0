package nomadapi

import "time"

// The wire shapes of Nomad's HTTP API: field names in PascalCase, times as
// Nomad encodes them (int64 nanoseconds for SubmitTime, CreateTime,
// ModifyTime and TaskEvent.Time, and for durations; RFC 3339 for the
// time.Time fields of task states and deployments), indexes as etcd
// revisions. Only what nomadic can fill is here; fields Nomad's CLI reads
// without a nil check are always set.

// Job is a job as GET /v1/job/{id} answers it.
type Job struct {
	// VersionTag is the version's tag (nomad job tag apply), if any.
	VersionTag        *JobVersionTag `json:",omitempty"`
	Region            *string
	Namespace         *string
	ID                *string
	Name              *string
	Type              *string
	Priority          *int
	AllAtOnce         *bool
	Datacenters       []string
	NodePool          *string
	Constraints       []*Constraint
	Affinities        []*Affinity
	TaskGroups        []*TaskGroup
	Update            *UpdateStrategy
	Spreads           []*Spread
	Periodic          *PeriodicConfig
	ParameterizedJob  *ParameterizedJobConfig
	Reschedule        *ReschedulePolicy
	Migrate           *MigrateStrategy
	Meta              map[string]string
	Stop              *bool
	ParentID          *string
	Dispatched        bool
	Payload           []byte
	Status            *string
	StatusDescription *string
	Stable            *bool
	Version           *uint64
	SubmitTime        *int64
	CreateIndex       *uint64
	ModifyIndex       *uint64
	JobModifyIndex    *uint64
}

// TaskGroup is a group of a Job.
type TaskGroup struct {
	Name                *string
	Count               *int
	Constraints         []*Constraint
	Affinities          []*Affinity
	Tasks               []*Task
	Spreads             []*Spread
	Volumes             map[string]*VolumeRequest
	RestartPolicy       *RestartPolicy
	ReschedulePolicy    *ReschedulePolicy
	EphemeralDisk       *EphemeralDisk
	Update              *UpdateStrategy
	Migrate             *MigrateStrategy
	Networks            []*NetworkResource
	Meta                map[string]string
	Services            []*Service
	ShutdownDelay       *time.Duration
	MaxClientDisconnect *time.Duration
	Disconnect          *DisconnectStrategy
	Scaling             *ScalingPolicy
}

// Task is a task of a TaskGroup.
type Task struct {
	Name            string
	Driver          string
	User            string
	Lifecycle       *TaskLifecycle
	Config          map[string]any
	Constraints     []*Constraint
	Affinities      []*Affinity
	Env             map[string]string
	Services        []*Service
	Resources       *Resources
	RestartPolicy   *RestartPolicy
	Meta            map[string]string
	KillTimeout     *time.Duration
	LogConfig       *LogConfig
	Artifacts       []*TaskArtifact
	Templates       []*Template
	DispatchPayload *DispatchPayloadConfig
	VolumeMounts    []*VolumeMount
	Leader          bool
	ShutdownDelay   time.Duration
	KillSignal      string
	Actions         []*Action
}

// Action is a command a task can be asked to run.
type Action struct {
	Name    string
	Command string
	Args    []string
}

// TaskLifecycle says when a task runs.
type TaskLifecycle struct {
	Hook    string
	Sidecar bool
}

// Constraint restricts placement.
type Constraint struct {
	LTarget string
	RTarget string
	Operand string
}

// Affinity prefers some nodes.
type Affinity struct {
	LTarget string
	RTarget string
	Operand string
	Weight  *int8
}

// Spread spreads allocations over an attribute's values.
type Spread struct {
	Attribute    string
	Weight       *int8
	SpreadTarget []*SpreadTarget
}

// SpreadTarget is a share of a spread.
type SpreadTarget struct {
	Value   string
	Percent uint8
}

// UpdateStrategy is a job's or group's update block.
type UpdateStrategy struct {
	Stagger          *time.Duration
	MaxParallel      *int
	HealthCheck      *string
	MinHealthyTime   *time.Duration
	HealthyDeadline  *time.Duration
	ProgressDeadline *time.Duration
	Canary           *int
	AutoRevert       *bool
	AutoPromote      *bool
}

// MigrateStrategy is a migrate block.
type MigrateStrategy struct {
	MaxParallel     *int
	HealthCheck     *string
	MinHealthyTime  *time.Duration
	HealthyDeadline *time.Duration
}

// ReschedulePolicy is a reschedule block.
type ReschedulePolicy struct {
	Attempts      *int
	Interval      *time.Duration
	Delay         *time.Duration
	DelayFunction *string
	MaxDelay      *time.Duration
	Unlimited     *bool
}

// RestartPolicy is a restart block.
type RestartPolicy struct {
	Interval        *time.Duration
	Attempts        *int
	Delay           *time.Duration
	Mode            *string
	RenderTemplates *bool
}

// PeriodicConfig is a periodic block.
type PeriodicConfig struct {
	Enabled         *bool
	Spec            *string
	Specs           []string
	SpecType        *string
	ProhibitOverlap *bool
	TimeZone        *string
}

// ParameterizedJobConfig is a parameterized block.
type ParameterizedJobConfig struct {
	Payload      string
	MetaRequired []string
	MetaOptional []string
}

// EphemeralDisk is an ephemeral_disk block.
type EphemeralDisk struct {
	Sticky  *bool
	Migrate *bool
	SizeMB  *int
}

// DisconnectStrategy is a disconnect block.
type DisconnectStrategy struct {
	LostAfter         *time.Duration
	StopOnClientAfter *time.Duration
	Replace           *bool
	Reconcile         *string
}

// VolumeRequest is a volume block.
type VolumeRequest struct {
	Name     string
	Type     string
	Source   string
	ReadOnly bool
}

// VolumeMount is a volume_mount block.
type VolumeMount struct {
	Volume      *string
	Destination *string
	ReadOnly    *bool
}

// NetworkResource is a network block, or the network an allocation got.
type NetworkResource struct {
	Mode          string
	Hostname      string
	IP            string
	ReservedPorts []Port
	DynamicPorts  []Port
}

// Port is a port of a network.
type Port struct {
	Label       string
	Value       int
	To          int
	HostNetwork string
}

// Service is a service block.
type Service struct {
	Name        string
	Tags        []string
	PortLabel   string
	AddressMode string
	Address     string
	Checks      []ServiceCheck
	Meta        map[string]string
	TaskName    string
	Provider    string
}

// ServiceCheck is a check block.
type ServiceCheck struct {
	Name      string
	Type      string
	Command   string
	Args      []string
	Path      string
	Protocol  string
	PortLabel string
	Interval  time.Duration
	Timeout   time.Duration
	Header    map[string][]string
	Method    string
	TaskName  string
}

// Resources are what a task asks for, or an allocation holds.
type Resources struct {
	CPU         *int
	Cores       *int
	MemoryMB    *int
	MemoryMaxMB *int
	DiskMB      *int
	Networks    []*NetworkResource
}

// LogConfig is a logs block.
type LogConfig struct {
	MaxFiles      *int
	MaxFileSizeMB *int
	Disabled      *bool
}

// TaskArtifact is an artifact block.
type TaskArtifact struct {
	GetterSource  *string
	GetterOptions map[string]string
	GetterMode    *string
	RelativeDest  *string
}

// Template is a template block.
type Template struct {
	SourcePath   *string
	DestPath     *string
	EmbeddedTmpl *string
	ChangeMode   *string
	ChangeSignal *string
	Splay        *time.Duration
	Perms        *string
	LeftDelim    *string
	RightDelim   *string
	Envvars      *bool
}

// DispatchPayloadConfig is a dispatch_payload block.
type DispatchPayloadConfig struct {
	File string
}

// JobListStub is one job of GET /v1/jobs.
type JobListStub struct {
	ID                string
	ParentID          string
	Name              string
	Namespace         string
	Datacenters       []string
	Type              string
	Priority          int
	Periodic          bool
	ParameterizedJob  bool
	Stop              bool
	Status            string
	StatusDescription string
	JobSummary        *JobSummary
	CreateIndex       uint64
	ModifyIndex       uint64
	JobModifyIndex    uint64
	SubmitTime        int64
	Meta              map[string]string `json:",omitempty"`
}

// JobSummary counts a job's allocations by group and status.
type JobSummary struct {
	JobID       string
	Namespace   string
	Summary     map[string]TaskGroupSummary
	Children    *JobChildrenSummary
	CreateIndex uint64
	ModifyIndex uint64
}

// TaskGroupSummary counts one group's allocations.
type TaskGroupSummary struct {
	Queued   int
	Complete int
	Failed   int
	Running  int
	Starting int
	Lost     int
	Unknown  int
}

// JobChildrenSummary counts the children of a periodic or parameterized
// job.
type JobChildrenSummary struct {
	Pending int64
	Running int64
	Dead    int64
}

// JobRegisterRequest is the body of PUT /v1/jobs (and of the job update
// endpoint).
type JobRegisterRequest struct {
	Job            *Job
	EnforceIndex   bool   `json:",omitempty"`
	JobModifyIndex uint64 `json:",omitempty"`
	PolicyOverride bool   `json:",omitempty"`
	PreserveCounts bool   `json:",omitempty"`
	// PreserveResources keeps the tasks' current resources (Nomad 1.9's
	// job run -preserve-resources).
	PreserveResources bool `json:",omitempty"`
	EvalPriority      int  `json:",omitempty"`
	// Diff asks a plan for the diff against the current version
	// (nomad job plan always does).
	Diff bool `json:",omitempty"`
	// Submission is the job file the job was parsed from (nomad job run
	// sends it): kept as the source of the version registered.
	Submission *JobSubmission `json:",omitempty"`
}

// JobVersionTag is a name given to a version of a job.
type JobVersionTag struct {
	Name        string
	Description string
	TaggedTime  int64
}

// TagVersionRequest tags a version (PUT /v1/job/{id}/versions/{name}/tag).
type TagVersionRequest struct {
	Version     uint64
	Latest      bool
	Description string
}

// JobSubmission is the job file a version of a job was submitted from,
// with the variables given with it (nomad job inspect -hcl -with-vars).
type JobSubmission struct {
	Source        string
	Format        string
	VariableFlags map[string]string
	Variables     string
	// Which version of which job it is the source of (answers only).
	Namespace string `json:",omitempty"`
	JobID     string `json:",omitempty"`
	Version   uint64 `json:",omitempty"`
}

// JobRegisterResponse answers a registration.
type JobRegisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Warnings        string
	Index           uint64
	LastContact     int64
	KnownLeader     bool
}

// JobDeregisterResponse answers a deregistration.
type JobDeregisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Index           uint64
}

// JobVersionsResponse answers GET /v1/job/{id}/versions.
type JobVersionsResponse struct {
	Versions    []*Job
	Diffs       []*JobDiff
	Index       uint64
	KnownLeader bool
}

// JobDispatchResponse answers a dispatch.
type JobDispatchResponse struct {
	DispatchedJobID string
	EvalID          string
	EvalCreateIndex uint64
	JobCreateIndex  uint64
	Index           uint64
}

// JobPlanResponse answers PUT /v1/job/{id}/plan.
type JobPlanResponse struct {
	JobModifyIndex     uint64
	CreatedEvals       []*Evaluation
	Diff               *JobDiff
	Annotations        *PlanAnnotations
	FailedTGAllocs     map[string]*AllocationMetric
	NextPeriodicLaunch time.Time
	Warnings           string
}

// JobDiff is the difference between two versions of a job.
type JobDiff struct {
	Type       string
	ID         string
	Fields     []*FieldDiff
	Objects    []*ObjectDiff
	TaskGroups []*TaskGroupDiff
}

// TaskGroupDiff is the difference in one group.
type TaskGroupDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	Tasks   []*TaskDiff
	Updates map[string]uint64
}

// TaskDiff is the difference in one task.
type TaskDiff struct {
	Type        string
	Name        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// FieldDiff is the difference in one field.
type FieldDiff struct {
	Type        string
	Name        string
	Old, New    string
	Annotations []string
}

// ObjectDiff is the difference in one nested object.
type ObjectDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
}

// PlanAnnotations say what a plan would do to each group.
type PlanAnnotations struct {
	DesiredTGUpdates map[string]*DesiredUpdates
	PreemptedAllocs  []*AllocationListStub
}

// DesiredUpdates counts a group's planned changes.
type DesiredUpdates struct {
	Ignore            uint64
	Place             uint64
	Migrate           uint64
	Stop              uint64
	InPlaceUpdate     uint64
	DestructiveUpdate uint64
	Canary            uint64
	Preemptions       uint64
}

// Allocation is an allocation as GET /v1/allocation/{id} answers it.
type Allocation struct {
	ID                    string
	Namespace             string
	EvalID                string
	Name                  string
	NodeID                string
	NodeName              string
	JobID                 string
	Job                   *Job
	TaskGroup             string
	Resources             *Resources
	TaskResources         map[string]*Resources
	AllocatedResources    *AllocatedResources
	NetworkStatus         *AllocNetworkStatus
	Metrics               *AllocationMetric
	DesiredStatus         string
	DesiredDescription    string
	DesiredTransition     DesiredTransition
	ClientStatus          string
	ClientDescription     string
	TaskStates            map[string]*TaskState
	DeploymentID          string
	DeploymentStatus      *AllocDeploymentStatus
	FollowupEvalID        string
	PreviousAllocation    string
	NextAllocation        string
	RescheduleTracker     *RescheduleTracker
	PreemptedAllocations  []string
	PreemptedByAllocation string
	CreateIndex           uint64
	ModifyIndex           uint64
	AllocModifyIndex      uint64
	CreateTime            int64
	ModifyTime            int64
}

// AllocNetworkStatus is an allocation's own network: in bridge mode its
// interface and address in its network namespace; empty on the node's
// network.
type AllocNetworkStatus struct {
	InterfaceName string
	Address       string
	AddressIPv6   string
}

// DesiredTransition marks an allocation for a move.
type DesiredTransition struct {
	Migrate         *bool
	Reschedule      *bool
	NoShutdownDelay *bool
}

// AllocatedResources are the resources an allocation holds.
type AllocatedResources struct {
	Tasks  map[string]*AllocatedTaskResources
	Shared AllocatedSharedResources
}

// AllocatedTaskResources are one task's share.
type AllocatedTaskResources struct {
	Cpu    AllocatedCpuResources
	Memory AllocatedMemoryResources
}

// AllocatedCpuResources is the CPU of a task.
type AllocatedCpuResources struct {
	CpuShares int64
}

// AllocatedMemoryResources is the memory of a task.
type AllocatedMemoryResources struct {
	MemoryMB    int64
	MemoryMaxMB int64
}

// AllocatedSharedResources are what the group's tasks share.
type AllocatedSharedResources struct {
	DiskMB   int64
	Networks []*NetworkResource
	Ports    []PortMapping
}

// PortMapping is a port an allocation holds.
type PortMapping struct {
	Label  string
	Value  int
	To     int
	HostIP string
}

// AllocationListStub is one allocation of a list.
type AllocationListStub struct {
	ID                    string
	EvalID                string
	Name                  string
	Namespace             string
	NodeID                string
	NodeName              string
	JobID                 string
	JobType               string
	JobVersion            uint64
	TaskGroup             string
	DesiredStatus         string
	DesiredDescription    string
	ClientStatus          string
	ClientDescription     string
	TaskStates            map[string]*TaskState
	DeploymentStatus      *AllocDeploymentStatus
	FollowupEvalID        string
	NextAllocation        string
	RescheduleTracker     *RescheduleTracker
	PreemptedAllocations  []string
	PreemptedByAllocation string
	// AllocatedResources is listed with ?resources=true.
	AllocatedResources *AllocatedResources `json:",omitempty"`
	CreateIndex        uint64
	ModifyIndex        uint64
	CreateTime         int64
	ModifyTime         int64
}

// AllocDeploymentStatus is an allocation's health in its deployment.
type AllocDeploymentStatus struct {
	Healthy     *bool
	Timestamp   time.Time
	Canary      bool
	ModifyIndex uint64
}

// RescheduleTracker lists an allocation's reschedules.
type RescheduleTracker struct {
	Events []*RescheduleEvent
}

// RescheduleEvent is one reschedule.
type RescheduleEvent struct {
	RescheduleTime int64
	PrevAllocID    string
	PrevNodeID     string
	Delay          time.Duration
}

// TaskState is one task's state in an allocation.
type TaskState struct {
	State       string
	Failed      bool
	Restarts    uint64
	LastRestart time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	Events      []*TaskEvent
}

// TaskEvent is one event of a task.
type TaskEvent struct {
	Type           string
	Time           int64
	DisplayMessage string
	Details        map[string]string
	Message        string
	ExitCode       int
	FailsTask      bool
}

// AllocationMetric explains a placement.
type AllocationMetric struct {
	NodesEvaluated     int
	NodesFiltered      int
	NodesInPool        int
	NodePool           string
	NodesAvailable     map[string]int
	ClassFiltered      map[string]int
	ConstraintFiltered map[string]int
	NodesExhausted     int
	ClassExhausted     map[string]int
	DimensionExhausted map[string]int
	QuotaExhausted     []string
	Scores             map[string]float64
	AllocationTime     time.Duration
	CoalescedFailures  int
}

// Evaluation is an evaluation.
type Evaluation struct {
	ID                string
	Priority          int
	Type              string
	TriggeredBy       string
	Namespace         string
	JobID             string
	JobModifyIndex    uint64
	NodeID            string
	NodeModifyIndex   uint64
	DeploymentID      string
	Status            string
	StatusDescription string
	Wait              time.Duration
	WaitUntil         time.Time
	NextEval          string
	PreviousEval      string
	BlockedEval       string
	FailedTGAllocs    map[string]*AllocationMetric
	QueuedAllocations map[string]int
	SnapshotIndex     uint64
	CreateIndex       uint64
	ModifyIndex       uint64
	CreateTime        int64
	ModifyTime        int64
	// RelatedEvals are, with ?related=true, the evaluations linked to
	// this one by NextEval, PreviousEval and BlockedEval, and theirs.
	RelatedEvals []*EvaluationStub `json:",omitzero"` // [] when asked for and none
}

// EvaluationStub is an evaluation as a list of related ones shows it.
type EvaluationStub struct {
	ID                string
	Priority          int
	Type              string
	TriggeredBy       string
	Namespace         string
	JobID             string
	NodeID            string
	DeploymentID      string
	Status            string
	StatusDescription string
	WaitUntil         time.Time
	NextEval          string
	PreviousEval      string
	BlockedEval       string
	CreateIndex       uint64
	ModifyIndex       uint64
	CreateTime        int64
	ModifyTime        int64
}

// Deployment is a deployment.
type Deployment struct {
	ID                 string
	Namespace          string
	JobID              string
	JobVersion         uint64
	JobModifyIndex     uint64
	JobSpecModifyIndex uint64
	JobCreateIndex     uint64
	IsMultiregion      bool
	TaskGroups         map[string]*DeploymentState
	Status             string
	StatusDescription  string
	CreateIndex        uint64
	ModifyIndex        uint64
}

// DeploymentState is one group's progress in a deployment.
type DeploymentState struct {
	PlacedCanaries    []string
	AutoRevert        bool
	ProgressDeadline  time.Duration
	RequireProgressBy time.Time
	Promoted          bool
	DesiredCanaries   int
	DesiredTotal      int
	PlacedAllocs      int
	HealthyAllocs     int
	UnhealthyAllocs   int
}

// DeploymentUpdateResponse answers a deployment action.
type DeploymentUpdateResponse struct {
	EvalID                string
	EvalCreateIndex       uint64
	DeploymentModifyIndex uint64
	RevertedJobVersion    *uint64
	Index                 uint64
}

// Node is a node as GET /v1/node/{id} answers it.
type Node struct {
	ID string
	// SecretID is always empty: Nomad's servers redact it so, and clients
	// check that it is.
	SecretID              string
	Datacenter            string
	Name                  string
	HTTPAddr              string
	TLSEnabled            bool
	Attributes            map[string]string
	NodeResources         *NodeResources
	ReservedResources     *NodeReservedResources
	Resources             *Resources
	Reserved              *Resources
	Links                 map[string]string
	Meta                  map[string]string
	NodeClass             string
	NodePool              string
	CgroupParent          string
	Drain                 bool
	DrainStrategy         *DrainStrategy
	LastDrain             *DrainMetadata
	SchedulingEligibility string
	Status                string
	StatusDescription     string
	StatusUpdatedAt       int64
	Events                []*NodeEvent
	Drivers               map[string]*DriverInfo
	HostVolumes           map[string]*HostVolumeInfo
	CreateIndex           uint64
	ModifyIndex           uint64
}

// NodeResources is what a node offers.
type NodeResources struct {
	Cpu    NodeCpuResources
	Memory NodeMemoryResources
	Disk   NodeDiskResources
	// MinDynamicPort and MaxDynamicPort bound the ports the scheduler
	// picks for dynamic ports on the node.
	MinDynamicPort int
	MaxDynamicPort int
}

// NodeCpuResources is a node's CPU.
type NodeCpuResources struct {
	CpuShares          int64
	TotalCpuCores      uint16
	ReservableCpuCores []uint16
}

// NodeReservedResources is what a node keeps back from allocations.
// nomadic's NodeResources are already what is left after the agent's
// reservation, so this is zero; the CLI subtracts it.
type NodeReservedResources struct {
	Cpu      struct{ CpuShares uint64 }
	Memory   struct{ MemoryMB uint64 }
	Disk     struct{ DiskMB uint64 }
	Networks struct{ ReservedHostPorts string }
}

// NodeMemoryResources is a node's memory.
type NodeMemoryResources struct {
	MemoryMB int64
}

// NodeDiskResources is a node's disk.
type NodeDiskResources struct {
	DiskMB int64
}

// DrainStrategy is how a node drains.
type DrainStrategy struct {
	DrainSpec
	ForceDeadline time.Time
	StartedAt     time.Time
}

// DrainSpec is what an operator asks of a drain.
type DrainSpec struct {
	Deadline         time.Duration
	IgnoreSystemJobs bool
}

// NodeEvent is an event of a node.
type NodeEvent struct {
	Message     string
	Subsystem   string
	Details     map[string]string
	Timestamp   time.Time
	CreateIndex uint64
}

// DriverInfo is a driver's fingerprint.
type DriverInfo struct {
	Attributes        map[string]string
	Detected          bool
	Healthy           bool
	HealthDescription string
	UpdateTime        time.Time
}

// HostVolumeInfo is a host volume of a node.
type HostVolumeInfo struct {
	Path     string
	ReadOnly bool
}

// NodeListStub is one node of GET /v1/nodes.
type NodeListStub struct {
	Address               string
	ID                    string
	Attributes            map[string]string `json:",omitempty"`
	Datacenter            string
	Name                  string
	NodeClass             string
	NodePool              string
	Version               string
	Drain                 bool
	SchedulingEligibility string
	Status                string
	StatusDescription     string
	Drivers               map[string]*DriverInfo
	// NodeResources and ReservedResources are listed with ?resources=true.
	NodeResources     *NodeResources         `json:",omitempty"`
	ReservedResources *NodeReservedResources `json:",omitempty"`
	LastDrain         *DrainMetadata
	CreateIndex       uint64
	ModifyIndex       uint64
}

// DrainMetadata describes a node's last drain.
type DrainMetadata struct {
	StartedAt time.Time
	UpdatedAt time.Time
	Status    string
	Meta      map[string]string
}

// NodeUpdateResponse answers a node eligibility or drain change.
type NodeUpdateResponse struct {
	EvalIDs         []string
	EvalCreateIndex uint64
	NodeModifyIndex uint64
	Index           uint64
}

// NodeEligibilityUpdateRequest is the body of PUT /v1/node/{id}/eligibility.
type NodeEligibilityUpdateRequest struct {
	NodeID      string
	Eligibility string
}

// NodeDrainUpdateRequest is the body of PUT /v1/node/{id}/drain.
type NodeDrainUpdateRequest struct {
	NodeID        string
	DrainSpec     *DrainSpec
	MarkEligible  bool
	Meta          map[string]string
	UpdatedBy     string `json:",omitempty"`
	ForceDeadline time.Time
}

// AgentMember is a server in GET /v1/agent/members.
type AgentMember struct {
	Name        string
	Addr        string
	Port        uint16
	Tags        map[string]string
	Status      string
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// ServerMembers answers GET /v1/agent/members.
type ServerMembers struct {
	ServerName   string
	ServerRegion string
	ServerDC     string
	Members      []*AgentMember
}

// Namespace is a namespace.
type Namespace struct {
	Name        string
	Description string
	Meta        map[string]string
	CreateIndex uint64
	ModifyIndex uint64
}

// SearchRequest is the body of PUT /v1/search.
type SearchRequest struct {
	Prefix  string
	Context string
}

// SearchResponse answers a prefix search.
type SearchResponse struct {
	Matches     map[string][]string
	Truncations map[string]bool
	Index       uint64
	KnownLeader bool
}

// StreamFrame is one frame of a streamed file or log.
type StreamFrame struct {
	Offset    int64  `json:",omitempty"`
	Data      []byte `json:",omitempty"`
	File      string `json:",omitempty"`
	FileEvent string `json:",omitempty"`
}

// Events is one frame of the event stream.
type Events struct {
	Index  uint64
	Events []Event
}

// Event is one event of the event stream.
type Event struct {
	Topic      string
	Type       string
	Key        string
	Namespace  string
	FilterKeys []string
	Index      uint64
	Payload    map[string]any
}

// SchedulerConfiguration is the cluster's scheduler configuration.
type SchedulerConfiguration struct {
	SchedulerAlgorithm            string
	PreemptionConfig              PreemptionConfig
	MemoryOversubscriptionEnabled bool
	RejectJobRegistration         bool
	PauseEvalBroker               bool
	CreateIndex                   uint64
	ModifyIndex                   uint64
}

// PreemptionConfig says which job types may preempt.
type PreemptionConfig struct {
	SystemSchedulerEnabled   bool
	SysBatchSchedulerEnabled bool
	BatchSchedulerEnabled    bool
	ServiceSchedulerEnabled  bool
}

// SchedulerConfigurationResponse answers GET
// /v1/operator/scheduler/configuration.
type SchedulerConfigurationResponse struct {
	SchedulerConfig *SchedulerConfiguration
	Index           uint64
	LastContact     time.Duration
	KnownLeader     bool
}

// SchedulerSetConfigurationResponse answers a configuration write.
type SchedulerSetConfigurationResponse struct {
	Updated bool
	Index   uint64
}
