package api

// This file holds the parts of a job beyond its skeleton: placement rules,
// update and reschedule policies, networks, services, and task details.

// Constraint operators, as in Nomad.
const (
	ConstraintEqual            = "="
	ConstraintNotEqual         = "!="
	ConstraintGreater          = ">"
	ConstraintGreaterEqual     = ">="
	ConstraintLess             = "<"
	ConstraintLessEqual        = "<="
	ConstraintRegex            = "regexp"
	ConstraintSetContains      = "set_contains"
	ConstraintSetContainsAll   = "set_contains_all"
	ConstraintSetContainsAny   = "set_contains_any"
	ConstraintVersion          = "version"
	ConstraintSemver           = "semver"
	ConstraintIsSet            = "is_set"
	ConstraintIsNotSet         = "is_not_set"
	ConstraintDistinctHosts    = "distinct_hosts"
	ConstraintDistinctProperty = "distinct_property"
)

// ConstraintOperators lists every operator a constraint may use.
var ConstraintOperators = []string{
	ConstraintEqual, ConstraintNotEqual, ConstraintGreater, ConstraintGreaterEqual, ConstraintLess,
	ConstraintLessEqual, ConstraintRegex, ConstraintSetContains, ConstraintSetContainsAll,
	ConstraintSetContainsAny, ConstraintVersion, ConstraintSemver, ConstraintIsSet, ConstraintIsNotSet,
	ConstraintDistinctHosts, ConstraintDistinctProperty,
}

// Constraint restricts the nodes a job, group or task may run on.
// Attribute and Value may hold interpolations such as
// ${attr.kernel.name} that the scheduler resolves per node.
type Constraint struct {
	Attribute string `json:"attribute,omitempty"`
	Operator  string `json:"operator"`
	Value     string `json:"value,omitempty"`
}

// Affinity prefers (positive weight) or avoids (negative weight) nodes.
type Affinity struct {
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     string `json:"value"`
	Weight    int    `json:"weight"`
}

// Spread spreads allocations over the values of a node attribute.
type Spread struct {
	Attribute string         `json:"attribute"`
	Weight    int            `json:"weight"`
	Targets   []SpreadTarget `json:"targets,omitempty"`
}

// SpreadTarget is the share of allocations one attribute value should get.
type SpreadTarget struct {
	Value   string `json:"value"`
	Percent int    `json:"percent"`
}

// UpdateStrategy is how a service job's allocations are replaced when the
// job changes.
type UpdateStrategy struct {
	MaxParallel      int      `json:"max_parallel"`
	HealthCheck      string   `json:"health_check,omitempty"`
	MinHealthyTime   Duration `json:"min_healthy_time,omitempty"`
	HealthyDeadline  Duration `json:"healthy_deadline,omitempty"`
	ProgressDeadline Duration `json:"progress_deadline,omitempty"`
	AutoRevert       bool     `json:"auto_revert,omitempty"`
	AutoPromote      bool     `json:"auto_promote,omitempty"`
	Canary           int      `json:"canary,omitempty"`
	Stagger          Duration `json:"stagger,omitempty"`
}

// MigrateStrategy is how allocations leave a draining node.
type MigrateStrategy struct {
	MaxParallel     int      `json:"max_parallel"`
	HealthCheck     string   `json:"health_check,omitempty"`
	MinHealthyTime  Duration `json:"min_healthy_time,omitempty"`
	HealthyDeadline Duration `json:"healthy_deadline,omitempty"`
}

// ReschedulePolicy is how failed allocations are replaced on other nodes.
type ReschedulePolicy struct {
	Attempts      int      `json:"attempts"`
	Interval      Duration `json:"interval,omitempty"`
	Delay         Duration `json:"delay,omitempty"`
	DelayFunction string   `json:"delay_function,omitempty"`
	MaxDelay      Duration `json:"max_delay,omitempty"`
	Unlimited     bool     `json:"unlimited,omitempty"`
}

// RestartPolicy is how a node agent restarts a failed task in place.
type RestartPolicy struct {
	Attempts        int      `json:"attempts"`
	Interval        Duration `json:"interval,omitempty"`
	Delay           Duration `json:"delay,omitempty"`
	Mode            string   `json:"mode,omitempty"`
	RenderTemplates bool     `json:"render_templates,omitempty"`
}

// PeriodicConfig launches a batch job on a cron schedule.
type PeriodicConfig struct {
	Crons           []string `json:"crons"`
	ProhibitOverlap bool     `json:"prohibit_overlap,omitempty"`
	TimeZone        string   `json:"time_zone,omitempty"`
	Enabled         bool     `json:"enabled"`
}

// ParameterizedConfig makes a job a template launched by dispatch.
type ParameterizedConfig struct {
	Payload      string   `json:"payload,omitempty"`
	MetaRequired []string `json:"meta_required,omitempty"`
	MetaOptional []string `json:"meta_optional,omitempty"`
}

// Network is a group's network: its mode and the ports it asks for.
type Network struct {
	Mode     string `json:"mode,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Ports    []Port `json:"ports,omitempty"`
	// MBits is the bandwidth asked for, as in Nomad; not enforced.
	MBits int `json:"mbits,omitempty"`
	// DNS is the allocation's resolver configuration.
	DNS *DNSConfig `json:"dns,omitempty"`
	// CNIArgs are the arguments given to the CNI plugins of a cni/ mode.
	CNIArgs map[string]string `json:"cni_args,omitempty"`
}

// DNSConfig is a network's resolver configuration.
type DNSConfig struct {
	Servers  []string `json:"servers,omitempty"`
	Searches []string `json:"searches,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// Port is a named port: static (a fixed host port) or dynamic (0: chosen
// by the scheduler), optionally mapped to To inside the allocation.
type Port struct {
	Label       string `json:"label"`
	Static      int    `json:"static,omitempty"`
	To          int    `json:"to,omitempty"`
	HostNetwork string `json:"host_network,omitempty"`
}

// Service is registered in the built-in catalog while its allocation runs.
type Service struct {
	Name        string            `json:"name"`
	Tags        []string          `json:"tags,omitempty"`
	Port        string            `json:"port,omitempty"`
	Provider    string            `json:"provider,omitempty"`
	AddressMode string            `json:"address_mode,omitempty"`
	Address     string            `json:"address,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Checks      []*ServiceCheck   `json:"checks,omitempty"`
	// TaskName is set for services declared inside a task.
	TaskName string `json:"task,omitempty"`
	// CanaryTags and CanaryMeta replace Tags and Meta on canaries.
	CanaryTags        []string          `json:"canary_tags,omitempty"`
	CanaryMeta        map[string]string `json:"canary_meta,omitempty"`
	EnableTagOverride bool              `json:"enable_tag_override,omitempty"`
	TaggedAddresses   map[string]string `json:"tagged_addresses,omitempty"`
	// OnUpdate is how the service's checks count towards deployment
	// health: require_healthy, ignore_warnings or ignore.
	OnUpdate string `json:"on_update,omitempty"`
	// Connect holds Consul Connect settings (see Connect).
	Connect *Connect `json:"connect,omitempty"`
	// CheckRestart applies to every check of the service that has none.
	CheckRestart *CheckRestart `json:"check_restart,omitempty"`
}

// ServiceCheck is a health check of a service.
type ServiceCheck struct {
	Name           string              `json:"name,omitempty"`
	Type           string              `json:"type"`
	Path           string              `json:"path,omitempty"`
	Method         string              `json:"method,omitempty"`
	Protocol       string              `json:"protocol,omitempty"`
	Port           string              `json:"port,omitempty"`
	Command        string              `json:"command,omitempty"`
	Args           []string            `json:"args,omitempty"`
	Interval       Duration            `json:"interval"`
	Timeout        Duration            `json:"timeout"`
	Header         map[string][]string `json:"header,omitempty"`
	ExpectedStatus int                 `json:"expected_status,omitempty"`
	Task           string              `json:"task,omitempty"`
	Body           string              `json:"body,omitempty"`
	// AddressMode is which address the check reaches: host, driver or
	// alloc.
	AddressMode string `json:"address_mode,omitempty"`
	// InitialStatus is the check's status before its first run.
	InitialStatus string `json:"initial_status,omitempty"`
	// OnUpdate is how the check counts towards deployment health.
	OnUpdate               string `json:"on_update,omitempty"`
	SuccessBeforePassing   int    `json:"success_before_passing,omitempty"`
	FailuresBeforeCritical int    `json:"failures_before_critical,omitempty"`
	FailuresBeforeWarning  int    `json:"failures_before_warning,omitempty"`
	// Expose is Consul Connect's path exposure; accepted, not acted on.
	Expose        bool   `json:"expose,omitempty"`
	TLSSkipVerify bool   `json:"tls_skip_verify,omitempty"`
	TLSServerName string `json:"tls_server_name,omitempty"`
	GRPCService   string `json:"grpc_service,omitempty"`
	GRPCUseTLS    bool   `json:"grpc_use_tls,omitempty"`
	// CheckRestart restarts the task when the check keeps failing.
	CheckRestart *CheckRestart `json:"check_restart,omitempty"`
}

// DisplayName is the name a check's results go by: its name, else its
// type and "check".
func (c *ServiceCheck) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type + " check"
}

// EphemeralDisk is the allocation directory's disk.
type EphemeralDisk struct {
	SizeMB  int  `json:"size"`
	Migrate bool `json:"migrate,omitempty"`
	Sticky  bool `json:"sticky,omitempty"`
}

// VolumeRequest asks for a host volume, mounted into tasks by name.
type VolumeRequest struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Source   string `json:"source"`
	ReadOnly bool   `json:"read_only,omitempty"`
	Sticky   bool   `json:"sticky,omitempty"`
	PerAlloc bool   `json:"per_alloc,omitempty"`
	// AccessMode and AttachmentMode are CSI volume fields.
	AccessMode     string `json:"access_mode,omitempty"`
	AttachmentMode string `json:"attachment_mode,omitempty"`
}

// VolumeMount mounts a group's volume into a task.
type VolumeMount struct {
	Volume      string `json:"volume"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"read_only,omitempty"`
	// SELinuxLabel is z (shared) or Z (private) relabelling.
	SELinuxLabel    string `json:"selinux_label,omitempty"`
	PropagationMode string `json:"propagation_mode,omitempty"`
}

// DisconnectStrategy is what happens to allocations of a node that stops
// answering.
type DisconnectStrategy struct {
	LostAfter Duration `json:"lost_after,omitempty"`
	Replace   *bool    `json:"replace,omitempty"`
	Reconcile string   `json:"reconcile,omitempty"`
	StopAfter Duration `json:"stop_after,omitempty"`
}

// LostAfter is how long allocations of the group on a node that went down
// are kept as unknown before they are lost: disconnect.lost_after, or the
// older max_client_disconnect; 0 means lost at once.
func (g *TaskGroup) LostAfter() Duration {
	if g.Disconnect != nil && g.Disconnect.LostAfter > 0 {
		return g.Disconnect.LostAfter
	}
	if g.MaxClientDisconnect != nil {
		return *g.MaxClientDisconnect
	}
	return 0
}

// ReplaceDisconnected reports whether an unknown allocation is replaced
// while its node is away (disconnect.replace, default true).
func (g *TaskGroup) ReplaceDisconnected() bool {
	return g.Disconnect == nil || g.Disconnect.Replace == nil || *g.Disconnect.Replace
}

// ReconcileMode is what happens when a node comes back to an allocation
// that was replaced meanwhile (disconnect.reconcile, default best_score).
func (g *TaskGroup) ReconcileMode() string {
	if g.Disconnect == nil || g.Disconnect.Reconcile == "" {
		return "best_score"
	}
	return g.Disconnect.Reconcile
}

// Lifecycle places a task before, beside or after the group's main tasks.
type Lifecycle struct {
	Hook    string `json:"hook"`
	Sidecar bool   `json:"sidecar,omitempty"`
}

// LogConfig bounds a task's rotated log files.
type LogConfig struct {
	MaxFiles      int  `json:"max_files"`
	MaxFileSizeMB int  `json:"max_file_size"`
	Disabled      bool `json:"disabled,omitempty"`
}

// Artifact is a file fetched into the task directory before it starts.
type Artifact struct {
	Source      string            `json:"source"`
	Destination string            `json:"destination,omitempty"`
	Mode        string            `json:"mode,omitempty"`
	Options     map[string]string `json:"options,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Chown       bool              `json:"chown,omitempty"`
}

// Template is a file rendered into the task directory.
type Template struct {
	Data         string   `json:"data,omitempty"`
	Source       string   `json:"source,omitempty"`
	Destination  string   `json:"destination"`
	ChangeMode   string   `json:"change_mode,omitempty"`
	ChangeSignal string   `json:"change_signal,omitempty"`
	Perms        string   `json:"perms,omitempty"`
	LeftDelim    string   `json:"left_delimiter,omitempty"`
	RightDelim   string   `json:"right_delimiter,omitempty"`
	Env          bool     `json:"env,omitempty"`
	Splay        Duration `json:"splay,omitempty"`
	// UID and GID own the rendered file (nil: the agent's user).
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`
	// Wait bounds how long a change waits before the file is re-rendered.
	Wait          *TemplateWait `json:"wait,omitempty"`
	ErrMissingKey bool          `json:"error_on_missing_key,omitempty"`
	Once          bool          `json:"once,omitempty"`
	ChangeScript  *ChangeScript `json:"change_script,omitempty"`
}
