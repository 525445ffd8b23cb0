package jobspec

import "github.com/hashicorp/hcl/v2"

// The HCL shape of a job file, decoded with gohcl. Fields whose values need
// checks with a position (durations, enumerations, numbers that must be
// positive) are kept as expressions and converted by the decoder, which
// knows their ranges. Blocks of free-form attributes (meta, env, config)
// are kept as bodies.

type variableBlock struct {
	Name        string
	Type        hcl.Expression     `hcl:"type,optional"`
	Default     hcl.Expression     `hcl:"default,optional"`
	Description *string            `hcl:"description,optional"`
	Sensitive   *bool              `hcl:"sensitive,optional"`
	Validations []*validationBlock `hcl:"validation,block"`
	DefRange    hcl.Range
}

type validationBlock struct {
	Condition    hcl.Expression `hcl:"condition"`
	ErrorMessage string         `hcl:"error_message"`
}

type localsBlock struct {
	Attrs hcl.Attributes `hcl:",remain"`
}

type kvBlock struct {
	Attrs hcl.Attributes `hcl:",remain"`
}

// bodyBlock keeps a block's body for free-form decoding (driver config,
// which may nest blocks).
type bodyBlock struct {
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type jobBlock struct {
	Name          string
	ID            *string             `hcl:"id,optional"`
	Type          hcl.Expression      `hcl:"type,optional"`
	Priority      hcl.Expression      `hcl:"priority,optional"`
	Namespace     *string             `hcl:"namespace,optional"`
	Region        *string             `hcl:"region,optional"`
	NodePool      *string             `hcl:"node_pool,optional"`
	Datacenters   []string            `hcl:"datacenters,optional"`
	AllAtOnce     *bool               `hcl:"all_at_once,optional"`
	MetaAttr      map[string]string   `hcl:"meta,optional"`
	Meta          []*kvBlock          `hcl:"meta,block"`
	Constraints   []*constraintBlock  `hcl:"constraint,block"`
	Affinities    []*affinityBlock    `hcl:"affinity,block"`
	Spreads       []*spreadBlock      `hcl:"spread,block"`
	Update        *updateBlock        `hcl:"update,block"`
	Migrate       *migrateBlock       `hcl:"migrate,block"`
	Reschedule    *rescheduleBlock    `hcl:"reschedule,block"`
	Periodic      *periodicBlock      `hcl:"periodic,block"`
	Parameterized *parameterizedBlock `hcl:"parameterized,block"`
	Groups        []*groupBlock       `hcl:"group,block"`
	DefRange      hcl.Range
}

type constraintBlock struct {
	Attribute        *string        `hcl:"attribute,optional"`
	Operator         hcl.Expression `hcl:"operator,optional"`
	Value            *string        `hcl:"value,optional"`
	DistinctHosts    *bool          `hcl:"distinct_hosts,optional"`
	DistinctProperty *string        `hcl:"distinct_property,optional"`
	Regexp           *string        `hcl:"regexp,optional"`
	SetContains      *string        `hcl:"set_contains,optional"`
	SetContainsAny   *string        `hcl:"set_contains_any,optional"`
	Version          *string        `hcl:"version,optional"`
	Semver           *string        `hcl:"semver,optional"`
	DefRange         hcl.Range      `hcl:",def_range"`
}

type affinityBlock struct {
	Attribute      *string        `hcl:"attribute,optional"`
	Operator       hcl.Expression `hcl:"operator,optional"`
	Value          *string        `hcl:"value,optional"`
	Regexp         *string        `hcl:"regexp,optional"`
	SetContains    *string        `hcl:"set_contains,optional"`
	SetContainsAny *string        `hcl:"set_contains_any,optional"`
	Version        *string        `hcl:"version,optional"`
	Semver         *string        `hcl:"semver,optional"`
	Weight         hcl.Expression `hcl:"weight,optional"`
	DefRange       hcl.Range      `hcl:",def_range"`
}

type spreadBlock struct {
	Attribute string         `hcl:"attribute"`
	Weight    hcl.Expression `hcl:"weight,optional"`
	Targets   []*targetBlock `hcl:"target,block"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type targetBlock struct {
	Value    string         `hcl:"value,label"`
	Percent  hcl.Expression `hcl:"percent,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type updateBlock struct {
	MaxParallel      hcl.Expression `hcl:"max_parallel,optional"`
	HealthCheck      hcl.Expression `hcl:"health_check,optional"`
	MinHealthyTime   hcl.Expression `hcl:"min_healthy_time,optional"`
	HealthyDeadline  hcl.Expression `hcl:"healthy_deadline,optional"`
	ProgressDeadline hcl.Expression `hcl:"progress_deadline,optional"`
	AutoRevert       *bool          `hcl:"auto_revert,optional"`
	AutoPromote      *bool          `hcl:"auto_promote,optional"`
	Canary           hcl.Expression `hcl:"canary,optional"`
	Stagger          hcl.Expression `hcl:"stagger,optional"`
	DefRange         hcl.Range      `hcl:",def_range"`
}

type migrateBlock struct {
	MaxParallel     hcl.Expression `hcl:"max_parallel,optional"`
	HealthCheck     hcl.Expression `hcl:"health_check,optional"`
	MinHealthyTime  hcl.Expression `hcl:"min_healthy_time,optional"`
	HealthyDeadline hcl.Expression `hcl:"healthy_deadline,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type rescheduleBlock struct {
	Attempts      hcl.Expression `hcl:"attempts,optional"`
	Interval      hcl.Expression `hcl:"interval,optional"`
	Delay         hcl.Expression `hcl:"delay,optional"`
	DelayFunction hcl.Expression `hcl:"delay_function,optional"`
	MaxDelay      hcl.Expression `hcl:"max_delay,optional"`
	Unlimited     *bool          `hcl:"unlimited,optional"`
	DefRange      hcl.Range      `hcl:",def_range"`
}

type restartBlock struct {
	Attempts        hcl.Expression `hcl:"attempts,optional"`
	Interval        hcl.Expression `hcl:"interval,optional"`
	Delay           hcl.Expression `hcl:"delay,optional"`
	Mode            hcl.Expression `hcl:"mode,optional"`
	RenderTemplates *bool          `hcl:"render_templates,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type periodicBlock struct {
	Cron            hcl.Expression `hcl:"cron,optional"`
	Crons           hcl.Expression `hcl:"crons,optional"`
	ProhibitOverlap *bool          `hcl:"prohibit_overlap,optional"`
	TimeZone        hcl.Expression `hcl:"time_zone,optional"`
	Enabled         *bool          `hcl:"enabled,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

type parameterizedBlock struct {
	Payload      hcl.Expression `hcl:"payload,optional"`
	MetaRequired []string       `hcl:"meta_required,optional"`
	MetaOptional []string       `hcl:"meta_optional,optional"`
	DefRange     hcl.Range      `hcl:",def_range"`
}

type groupBlock struct {
	Name                      string             `hcl:"name,label"`
	Count                     hcl.Expression     `hcl:"count,optional"`
	MetaAttr                  map[string]string  `hcl:"meta,optional"`
	Meta                      []*kvBlock         `hcl:"meta,block"`
	Constraints               []*constraintBlock `hcl:"constraint,block"`
	Affinities                []*affinityBlock   `hcl:"affinity,block"`
	Spreads                   []*spreadBlock     `hcl:"spread,block"`
	Update                    *updateBlock       `hcl:"update,block"`
	Migrate                   *migrateBlock      `hcl:"migrate,block"`
	Reschedule                *rescheduleBlock   `hcl:"reschedule,block"`
	Restart                   *restartBlock      `hcl:"restart,block"`
	Networks                  []*networkBlock    `hcl:"network,block"`
	Services                  []*serviceBlock    `hcl:"service,block"`
	EphemeralDisk             *diskBlock         `hcl:"ephemeral_disk,block"`
	Volumes                   []*volumeBlock     `hcl:"volume,block"`
	Disconnect                *disconnectBlock   `hcl:"disconnect,block"`
	MaxClientDisconnect       hcl.Expression     `hcl:"max_client_disconnect,optional"`
	StopAfterClientDisconnect hcl.Expression     `hcl:"stop_after_client_disconnect,optional"`
	ShutdownDelay             hcl.Expression     `hcl:"shutdown_delay,optional"`
	Tasks                     []*taskBlock       `hcl:"task,block"`
	DefRange                  hcl.Range          `hcl:",def_range"`
	NameRange                 hcl.Range          `hcl:"name,label_range"`
}

type networkBlock struct {
	Mode     hcl.Expression `hcl:"mode,optional"`
	Hostname *string        `hcl:"hostname,optional"`
	Ports    []*portBlock   `hcl:"port,block"`
	DNS      *kvBlock       `hcl:"dns,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type portBlock struct {
	Label       string         `hcl:"label,label"`
	Static      hcl.Expression `hcl:"static,optional"`
	To          hcl.Expression `hcl:"to,optional"`
	HostNetwork *string        `hcl:"host_network,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
	NameRange   hcl.Range      `hcl:"label,label_range"`
}

type serviceBlock struct {
	Name        *string           `hcl:"name,optional"`
	Tags        []string          `hcl:"tags,optional"`
	Port        hcl.Expression    `hcl:"port,optional"`
	Provider    hcl.Expression    `hcl:"provider,optional"`
	AddressMode hcl.Expression    `hcl:"address_mode,optional"`
	Address     *string           `hcl:"address,optional"`
	Task        *string           `hcl:"task,optional"`
	MetaAttr    map[string]string `hcl:"meta,optional"`
	Meta        []*kvBlock        `hcl:"meta,block"`
	Checks      []*checkBlock     `hcl:"check,block"`
	DefRange    hcl.Range         `hcl:",def_range"`
}

type checkBlock struct {
	Name           *string             `hcl:"name,optional"`
	Type           hcl.Expression      `hcl:"type"`
	Path           *string             `hcl:"path,optional"`
	Method         *string             `hcl:"method,optional"`
	Protocol       *string             `hcl:"protocol,optional"`
	Port           hcl.Expression      `hcl:"port,optional"`
	Command        *string             `hcl:"command,optional"`
	Args           []string            `hcl:"args,optional"`
	Interval       hcl.Expression      `hcl:"interval"`
	Timeout        hcl.Expression      `hcl:"timeout"`
	Task           *string             `hcl:"task,optional"`
	Header         map[string][]string `hcl:"header,optional"`
	ExpectedStatus hcl.Expression      `hcl:"expected_status,optional"`
	DefRange       hcl.Range           `hcl:",def_range"`
}

type diskBlock struct {
	Size     hcl.Expression `hcl:"size,optional"`
	Migrate  *bool          `hcl:"migrate,optional"`
	Sticky   *bool          `hcl:"sticky,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type volumeBlock struct {
	Name     string         `hcl:"name,label"`
	Type     hcl.Expression `hcl:"type,optional"`
	Source   string         `hcl:"source"`
	ReadOnly *bool          `hcl:"read_only,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type disconnectBlock struct {
	LostAfter hcl.Expression `hcl:"lost_after,optional"`
	Replace   *bool          `hcl:"replace,optional"`
	Reconcile hcl.Expression `hcl:"reconcile,optional"`
	StopAfter hcl.Expression `hcl:"stop_after,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type taskBlock struct {
	Name          string             `hcl:"name,label"`
	Driver        hcl.Expression     `hcl:"driver"`
	User          *string            `hcl:"user,optional"`
	Leader        *bool              `hcl:"leader,optional"`
	KillTimeout   hcl.Expression     `hcl:"kill_timeout,optional"`
	KillSignal    *string            `hcl:"kill_signal,optional"`
	ShutdownDelay hcl.Expression     `hcl:"shutdown_delay,optional"`
	EnvAttr       map[string]string  `hcl:"env,optional"`
	Env           []*kvBlock         `hcl:"env,block"`
	MetaAttr      map[string]string  `hcl:"meta,optional"`
	Meta          []*kvBlock         `hcl:"meta,block"`
	Config        []*bodyBlock       `hcl:"config,block"`
	Resources     *resourcesBlock    `hcl:"resources,block"`
	Lifecycle     *lifecycleBlock    `hcl:"lifecycle,block"`
	Logs          *logsBlock         `hcl:"logs,block"`
	Constraints   []*constraintBlock `hcl:"constraint,block"`
	Affinities    []*affinityBlock   `hcl:"affinity,block"`
	Services      []*serviceBlock    `hcl:"service,block"`
	Artifacts     []*artifactBlock   `hcl:"artifact,block"`
	Templates     []*templateBlock   `hcl:"template,block"`
	VolumeMounts  []*volumeMount     `hcl:"volume_mount,block"`
	Restart       *restartBlock      `hcl:"restart,block"`
	Dispatch      *dispatchBlock     `hcl:"dispatch_payload,block"`
	Identity      *identityBlock     `hcl:"identity,block"`
	DefRange      hcl.Range          `hcl:",def_range"`
	NameRange     hcl.Range          `hcl:"name,label_range"`
}

type dispatchBlock struct {
	File     string    `hcl:"file"`
	DefRange hcl.Range `hcl:",def_range"`
}

type resourcesBlock struct {
	CPU       hcl.Expression `hcl:"cpu,optional"`
	Cores     hcl.Expression `hcl:"cores,optional"`
	Memory    hcl.Expression `hcl:"memory,optional"`
	MemoryMax hcl.Expression `hcl:"memory_max,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type lifecycleBlock struct {
	Hook     hcl.Expression `hcl:"hook"`
	Sidecar  *bool          `hcl:"sidecar,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type logsBlock struct {
	MaxFiles    hcl.Expression `hcl:"max_files,optional"`
	MaxFileSize hcl.Expression `hcl:"max_file_size,optional"`
	Disabled    *bool          `hcl:"disabled,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type artifactBlock struct {
	Source      string     `hcl:"source"`
	Destination *string    `hcl:"destination,optional"`
	Mode        *string    `hcl:"mode,optional"`
	Options     []*kvBlock `hcl:"options,block"`
	Headers     []*kvBlock `hcl:"headers,block"`
	DefRange    hcl.Range  `hcl:",def_range"`
}

type templateBlock struct {
	Data         *string        `hcl:"data,optional"`
	Source       *string        `hcl:"source,optional"`
	Destination  string         `hcl:"destination"`
	ChangeMode   hcl.Expression `hcl:"change_mode,optional"`
	ChangeSignal *string        `hcl:"change_signal,optional"`
	Perms        *string        `hcl:"perms,optional"`
	LeftDelim    *string        `hcl:"left_delimiter,optional"`
	RightDelim   *string        `hcl:"right_delimiter,optional"`
	Env          *bool          `hcl:"env,optional"`
	Splay        hcl.Expression `hcl:"splay,optional"`
	UID          hcl.Expression `hcl:"uid,optional"`
	GID          hcl.Expression `hcl:"gid,optional"`
	Wait         *waitBlock     `hcl:"wait,block"`
	ErrMissing   *bool          `hcl:"error_on_missing_key,optional"`
	ChangeScript *scriptBlock   `hcl:"change_script,block"`
	DefRange     hcl.Range      `hcl:",def_range"`
}

type scriptBlock struct {
	Command     string         `hcl:"command"`
	Args        hcl.Expression `hcl:"args,optional"`
	Timeout     hcl.Expression `hcl:"timeout,optional"`
	FailOnError *bool          `hcl:"fail_on_error,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type waitBlock struct {
	Min      hcl.Expression `hcl:"min,optional"`
	Max      hcl.Expression `hcl:"max,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type identityBlock struct {
	Env      *bool     `hcl:"env,optional"`
	File     *bool     `hcl:"file,optional"`
	DefRange hcl.Range `hcl:",def_range"`
}

type volumeMount struct {
	Volume      string    `hcl:"volume"`
	Destination string    `hcl:"destination"`
	ReadOnly    *bool     `hcl:"read_only,optional"`
	DefRange    hcl.Range `hcl:",def_range"`
}
