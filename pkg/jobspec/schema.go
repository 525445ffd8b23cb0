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
	// Body is read with decoder.kvAttrs: the iterators of enclosing
	// dynamic blocks reach its attributes only that way.
	Body hcl.Body `hcl:",remain"`
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
	NameAttr      *string             `hcl:"name,optional"`
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
	UI            *uiBlock            `hcl:"ui,block"`
	Vault         *vaultBlock         `hcl:"vault,block"`
	Consul        *consulBlock        `hcl:"consul,block"`
	VaultToken    *string             `hcl:"vault_token,optional"`
	ConsulToken   *string             `hcl:"consul_token,optional"`
	Multiregion   *bodyBlock          `hcl:"multiregion,block"`
	Tasks         []*taskBlock        `hcl:"task,block"`
	DefRange      hcl.Range
}

type uiBlock struct {
	Description *string        `hcl:"description,optional"`
	Links       []*uiLinkBlock `hcl:"link,block"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type uiLinkBlock struct {
	Label string `hcl:"label"`
	URL   string `hcl:"url"`
}

type vaultBlock struct {
	Policies             []string       `hcl:"policies,optional"`
	Role                 *string        `hcl:"role,optional"`
	Namespace            *string        `hcl:"namespace,optional"`
	Cluster              *string        `hcl:"cluster,optional"`
	ChangeMode           hcl.Expression `hcl:"change_mode,optional"`
	ChangeSignal         *string        `hcl:"change_signal,optional"`
	Env                  *bool          `hcl:"env,optional"`
	DisableFile          *bool          `hcl:"disable_file,optional"`
	AllowTokenExpiration *bool          `hcl:"allow_token_expiration,optional"`
	DefRange             hcl.Range      `hcl:",def_range"`
}

type consulBlock struct {
	Namespace *string   `hcl:"namespace,optional"`
	Cluster   *string   `hcl:"cluster,optional"`
	Partition *string   `hcl:"partition,optional"`
	DefRange  hcl.Range `hcl:",def_range"`
}

type identityBlock struct {
	Name         *string        `hcl:"name,optional"`
	Audience     []string       `hcl:"aud,optional"`
	Env          *bool          `hcl:"env,optional"`
	File         *bool          `hcl:"file,optional"`
	Filepath     *string        `hcl:"filepath,optional"`
	TTL          hcl.Expression `hcl:"ttl,optional"`
	ChangeMode   *string        `hcl:"change_mode,optional"`
	ChangeSignal *string        `hcl:"change_signal,optional"`
	DefRange     hcl.Range      `hcl:",def_range"`
}

type actionBlock struct {
	Name     string    `hcl:"name,label"`
	Command  *string   `hcl:"command,optional"`
	Args     []string  `hcl:"args,optional"`
	DefRange hcl.Range `hcl:",def_range"`
}

type scalingBlock struct {
	Min      hcl.Expression `hcl:"min,optional"`
	Max      hcl.Expression `hcl:"max,optional"`
	Enabled  *bool          `hcl:"enabled,optional"`
	Policy   *bodyBlock     `hcl:"policy,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}

// taskScalingBlock is a task's scaling "cpu" or "mem" block, Nomad
// Enterprise's dynamic application sizing.
type taskScalingBlock struct {
	Label    string    `hcl:"label,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type checkRestartBlock struct {
	Limit          hcl.Expression `hcl:"limit,optional"`
	Grace          hcl.Expression `hcl:"grace,optional"`
	IgnoreWarnings *bool          `hcl:"ignore_warnings,optional"`
	DefRange       hcl.Range      `hcl:",def_range"`
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
	PreventRescheduleOnLost   *bool              `hcl:"prevent_reschedule_on_lost,optional"`
	MaxRunDuration            hcl.Expression     `hcl:"max_run_duration,optional"`
	Scaling                   *scalingBlock      `hcl:"scaling,block"`
	Vault                     *vaultBlock        `hcl:"vault,block"`
	Consul                    *consulBlock       `hcl:"consul,block"`
	Tasks                     []*taskBlock       `hcl:"task,block"`
	DefRange                  hcl.Range          `hcl:",def_range"`
	NameRange                 hcl.Range          `hcl:"name,label_range"`
}

type networkBlock struct {
	Mode     hcl.Expression `hcl:"mode,optional"`
	Hostname *string        `hcl:"hostname,optional"`
	MBits    hcl.Expression `hcl:"mbits,optional"`
	Ports    []*portBlock   `hcl:"port,block"`
	DNS      *dnsBlock      `hcl:"dns,block"`
	CNI      *cniBlock      `hcl:"cni,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type dnsBlock struct {
	Servers  []string `hcl:"servers,optional"`
	Searches []string `hcl:"searches,optional"`
	Options  []string `hcl:"options,optional"`
}

type cniBlock struct {
	Args map[string]string `hcl:"args,optional"`
}

type portBlock struct {
	Label           string         `hcl:"label,label"`
	Static          hcl.Expression `hcl:"static,optional"`
	To              hcl.Expression `hcl:"to,optional"`
	HostNetwork     *string        `hcl:"host_network,optional"`
	IgnoreCollision *bool          `hcl:"ignore_collision,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
	NameRange       hcl.Range      `hcl:"label,label_range"`
}

type serviceBlock struct {
	Name                *string            `hcl:"name,optional"`
	Tags                []string           `hcl:"tags,optional"`
	Port                hcl.Expression     `hcl:"port,optional"`
	Provider            hcl.Expression     `hcl:"provider,optional"`
	AddressMode         hcl.Expression     `hcl:"address_mode,optional"`
	Address             *string            `hcl:"address,optional"`
	Task                *string            `hcl:"task,optional"`
	MetaAttr            map[string]string  `hcl:"meta,optional"`
	Meta                []*kvBlock         `hcl:"meta,block"`
	Checks              []*checkBlock      `hcl:"check,block"`
	CanaryTags          []string           `hcl:"canary_tags,optional"`
	CanaryMetaAttr      map[string]string  `hcl:"canary_meta,optional"`
	CanaryMeta          []*kvBlock         `hcl:"canary_meta,block"`
	EnableTagOverride   *bool              `hcl:"enable_tag_override,optional"`
	TaggedAddressesAttr map[string]string  `hcl:"tagged_addresses,optional"`
	TaggedAddresses     []*kvBlock         `hcl:"tagged_addresses,block"`
	OnUpdate            hcl.Expression     `hcl:"on_update,optional"`
	Connect             *bodyBlock         `hcl:"connect,block"`
	CheckRestart        *checkRestartBlock `hcl:"check_restart,block"`
	Identity            *identityBlock     `hcl:"identity,block"`
	Cluster             *string            `hcl:"cluster,optional"`
	Kind                *string            `hcl:"kind,optional"`
	Weights             *bodyBlock         `hcl:"weights,block"`
	DefRange            hcl.Range          `hcl:",def_range"`
}

type checkBlock struct {
	Name                   *string             `hcl:"name,optional"`
	Type                   hcl.Expression      `hcl:"type"`
	Path                   *string             `hcl:"path,optional"`
	Method                 *string             `hcl:"method,optional"`
	Protocol               *string             `hcl:"protocol,optional"`
	Port                   hcl.Expression      `hcl:"port,optional"`
	Command                *string             `hcl:"command,optional"`
	Args                   []string            `hcl:"args,optional"`
	Interval               hcl.Expression      `hcl:"interval"`
	Timeout                hcl.Expression      `hcl:"timeout"`
	Task                   *string             `hcl:"task,optional"`
	Header                 map[string][]string `hcl:"header,optional"`
	HeaderBlocks           []*kvBlock          `hcl:"header,block"`
	ExpectedStatus         hcl.Expression      `hcl:"expected_status,optional"`
	Body                   *string             `hcl:"body,optional"`
	AddressMode            hcl.Expression      `hcl:"address_mode,optional"`
	InitialStatus          hcl.Expression      `hcl:"initial_status,optional"`
	OnUpdate               hcl.Expression      `hcl:"on_update,optional"`
	Expose                 *bool               `hcl:"expose,optional"`
	SuccessBeforePassing   hcl.Expression      `hcl:"success_before_passing,optional"`
	FailuresBeforeCritical hcl.Expression      `hcl:"failures_before_critical,optional"`
	FailuresBeforeWarning  hcl.Expression      `hcl:"failures_before_warning,optional"`
	TLSSkipVerify          *bool               `hcl:"tls_skip_verify,optional"`
	TLSServerName          *string             `hcl:"tls_server_name,optional"`
	GRPCService            *string             `hcl:"grpc_service,optional"`
	GRPCUseTLS             *bool               `hcl:"grpc_use_tls,optional"`
	Notes                  *string             `hcl:"notes,optional"`
	CheckRestart           *checkRestartBlock  `hcl:"check_restart,block"`
	DefRange               hcl.Range           `hcl:",def_range"`
}

type diskBlock struct {
	Size     hcl.Expression `hcl:"size,optional"`
	Migrate  *bool          `hcl:"migrate,optional"`
	Sticky   *bool          `hcl:"sticky,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type volumeBlock struct {
	Name           string         `hcl:"name,label"`
	Type           hcl.Expression `hcl:"type,optional"`
	Source         string         `hcl:"source"`
	ReadOnly       *bool          `hcl:"read_only,optional"`
	Sticky         *bool          `hcl:"sticky,optional"`
	PerAlloc       *bool          `hcl:"per_alloc,optional"`
	AccessMode     *string        `hcl:"access_mode,optional"`
	AttachmentMode *string        `hcl:"attachment_mode,optional"`
	MountOptions   *bodyBlock     `hcl:"mount_options,block"`
	DefRange       hcl.Range      `hcl:",def_range"`
}

type disconnectBlock struct {
	LostAfter hcl.Expression `hcl:"lost_after,optional"`
	Replace   *bool          `hcl:"replace,optional"`
	Reconcile hcl.Expression `hcl:"reconcile,optional"`
	StopAfter hcl.Expression `hcl:"stop_after,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type taskBlock struct {
	Name           string              `hcl:"name,label"`
	Driver         hcl.Expression      `hcl:"driver"`
	User           *string             `hcl:"user,optional"`
	Leader         *bool               `hcl:"leader,optional"`
	KillTimeout    hcl.Expression      `hcl:"kill_timeout,optional"`
	KillSignal     *string             `hcl:"kill_signal,optional"`
	ShutdownDelay  hcl.Expression      `hcl:"shutdown_delay,optional"`
	EnvAttr        map[string]string   `hcl:"env,optional"`
	Env            []*kvBlock          `hcl:"env,block"`
	MetaAttr       map[string]string   `hcl:"meta,optional"`
	Meta           []*kvBlock          `hcl:"meta,block"`
	Config         []*bodyBlock        `hcl:"config,block"`
	Resources      *resourcesBlock     `hcl:"resources,block"`
	Lifecycle      *lifecycleBlock     `hcl:"lifecycle,block"`
	Logs           *logsBlock          `hcl:"logs,block"`
	Constraints    []*constraintBlock  `hcl:"constraint,block"`
	Affinities     []*affinityBlock    `hcl:"affinity,block"`
	Services       []*serviceBlock     `hcl:"service,block"`
	Artifacts      []*artifactBlock    `hcl:"artifact,block"`
	Templates      []*templateBlock    `hcl:"template,block"`
	VolumeMounts   []*volumeMount      `hcl:"volume_mount,block"`
	Restart        *restartBlock       `hcl:"restart,block"`
	Dispatch       *dispatchBlock      `hcl:"dispatch_payload,block"`
	Kind           *string             `hcl:"kind,optional"`
	MaxRunDuration hcl.Expression      `hcl:"max_run_duration,optional"`
	Vault          *vaultBlock         `hcl:"vault,block"`
	Consul         *consulBlock        `hcl:"consul,block"`
	Identities     []*identityBlock    `hcl:"identity,block"`
	Actions        []*actionBlock      `hcl:"action,block"`
	CSIPlugin      *bodyBlock          `hcl:"csi_plugin,block"`
	Scaling        []*taskScalingBlock `hcl:"scaling,block"`
	Schedule       *bodyBlock          `hcl:"schedule,block"`
	Secrets        []*labeledBody      `hcl:"secret,block"`
	VaultToken     *string             `hcl:"vault_token,optional"`
	DefRange       hcl.Range           `hcl:",def_range"`
	NameRange      hcl.Range           `hcl:"name,label_range"`
}

type dispatchBlock struct {
	File     string    `hcl:"file"`
	DefRange hcl.Range `hcl:",def_range"`
}

type resourcesBlock struct {
	CPU       hcl.Expression  `hcl:"cpu,optional"`
	Cores     hcl.Expression  `hcl:"cores,optional"`
	Memory    hcl.Expression  `hcl:"memory,optional"`
	MemoryMax hcl.Expression  `hcl:"memory_max,optional"`
	Disk      hcl.Expression  `hcl:"disk,optional"`
	IOPS      hcl.Expression  `hcl:"iops,optional"`
	Networks  []*networkBlock `hcl:"network,block"`
	Devices   []*deviceBlock  `hcl:"device,block"`
	NUMA      *bodyBlock      `hcl:"numa,block"`
	DefRange  hcl.Range       `hcl:",def_range"`
}

type deviceBlock struct {
	Name        string             `hcl:"name,label"`
	Count       hcl.Expression     `hcl:"count,optional"`
	Constraints []*constraintBlock `hcl:"constraint,block"`
	Affinities  []*affinityBlock   `hcl:"affinity,block"`
	// FirstAvailable are alternative asks (Nomad 1.10): kept as written.
	FirstAvailable []*bodyBlock `hcl:"first_available,block"`
	DefRange       hcl.Range    `hcl:",def_range"`
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
	Enabled     *bool          `hcl:"enabled,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type artifactBlock struct {
	Source      string     `hcl:"source"`
	Destination *string    `hcl:"destination,optional"`
	Mode        *string    `hcl:"mode,optional"`
	Options     []*kvBlock `hcl:"options,block"`
	Headers     []*kvBlock `hcl:"headers,block"`
	Chown       *bool      `hcl:"chown,optional"`
	DefRange    hcl.Range  `hcl:",def_range"`
}

type templateBlock struct {
	Data          *string            `hcl:"data,optional"`
	Source        *string            `hcl:"source,optional"`
	Destination   string             `hcl:"destination"`
	ChangeMode    hcl.Expression     `hcl:"change_mode,optional"`
	ChangeSignal  *string            `hcl:"change_signal,optional"`
	Perms         *string            `hcl:"perms,optional"`
	LeftDelim     *string            `hcl:"left_delimiter,optional"`
	RightDelim    *string            `hcl:"right_delimiter,optional"`
	Env           *bool              `hcl:"env,optional"`
	Splay         hcl.Expression     `hcl:"splay,optional"`
	UID           hcl.Expression     `hcl:"uid,optional"`
	GID           hcl.Expression     `hcl:"gid,optional"`
	Wait          *waitBlock         `hcl:"wait,block"`
	ErrMissingKey *bool              `hcl:"error_on_missing_key,optional"`
	Once          *bool              `hcl:"once,optional"`
	VaultGrace    hcl.Expression     `hcl:"vault_grace,optional"`
	ChangeScript  *changeScriptBlock `hcl:"change_script,block"`
	DefRange      hcl.Range          `hcl:",def_range"`
}

type waitBlock struct {
	Min hcl.Expression `hcl:"min,optional"`
	Max hcl.Expression `hcl:"max,optional"`
}

type changeScriptBlock struct {
	Command     string         `hcl:"command"`
	Args        []string       `hcl:"args,optional"`
	Timeout     hcl.Expression `hcl:"timeout,optional"`
	FailOnError *bool          `hcl:"fail_on_error,optional"`
}

type volumeMount struct {
	Volume          string         `hcl:"volume"`
	Destination     string         `hcl:"destination"`
	ReadOnly        *bool          `hcl:"read_only,optional"`
	SELinuxLabel    hcl.Expression `hcl:"selinux_label,optional"`
	PropagationMode hcl.Expression `hcl:"propagation_mode,optional"`
	DefRange        hcl.Range      `hcl:",def_range"`
}

// labeledBody is a block with one label whose body is not read.
type labeledBody struct {
	Label    string    `hcl:"name,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}
