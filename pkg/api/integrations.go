package api

// This file holds the blocks of a Nomad job that nomadic keeps but acts on
// only in part: scaling bounds, Vault and Consul settings, workload
// identities, actions, check restarts and the UI block. Warnings says, for
// each, what is and is not done.

// ScalingPolicy bounds a group's count. Min and Max are enforced by the
// scale API; Policy is kept for an external autoscaler.
type ScalingPolicy struct {
	Min     int            `json:"min"`
	Max     int            `json:"max"`
	Enabled bool           `json:"enabled"`
	Policy  map[string]any `json:"policy,omitempty"`
}

// Vault is a task's Vault block. Vault is not integrated: no token is
// issued, and a template that reads a secret fails when rendered.
type Vault struct {
	Policies     []string `json:"policies,omitempty"`
	Role         string   `json:"role,omitempty"`
	Namespace    string   `json:"namespace,omitempty"`
	Cluster      string   `json:"cluster,omitempty"`
	ChangeMode   string   `json:"change_mode,omitempty"`
	ChangeSignal string   `json:"change_signal,omitempty"`
	Env          *bool    `json:"env,omitempty"`
	DisableFile  bool     `json:"disable_file,omitempty"`
}

// Consul is a task's Consul block (namespace, cluster); Consul is not
// used.
type Consul struct {
	Namespace string `json:"namespace,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
	Partition string `json:"partition,omitempty"`
}

// WorkloadIdentity is a task's identity block. nomadic issues no workload
// identity tokens: the block is kept, and NOMAD_TOKEN is not set.
type WorkloadIdentity struct {
	Name         string   `json:"name,omitempty"`
	Audience     []string `json:"aud,omitempty"`
	Env          bool     `json:"env,omitempty"`
	File         bool     `json:"file,omitempty"`
	Filepath     string   `json:"filepath,omitempty"`
	TTL          Duration `json:"ttl,omitempty"`
	ChangeMode   string   `json:"change_mode,omitempty"`
	ChangeSignal string   `json:"change_signal,omitempty"`
}

// Action is a command an operator may run in a task on demand.
type Action struct {
	Name    string   `json:"name"`
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
}

// CheckRestart restarts a task whose check fails Limit times in a row,
// after Grace from the task's start.
type CheckRestart struct {
	Limit          int      `json:"limit"`
	Grace          Duration `json:"grace,omitempty"`
	IgnoreWarnings bool     `json:"ignore_warnings,omitempty"`
}

// Connect is a service's Consul Connect block. Only native services are
// accepted (as plain services); sidecars and gateways need Consul.
type Connect struct {
	Native bool `json:"native,omitempty"`
}

// TemplateWait bounds the quiet time before a template is re-rendered.
type TemplateWait struct {
	Min Duration `json:"min,omitempty"`
	Max Duration `json:"max,omitempty"`
}

// ChangeScript is the script a template with change_mode "script" runs.
type ChangeScript struct {
	Command     string   `json:"command"`
	Args        []string `json:"args,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`
	FailOnError bool     `json:"fail_on_error,omitempty"`
}

// JobUI is what the web UI shows of a job: a description and links.
type JobUI struct {
	Description string      `json:"description,omitempty"`
	Links       []JobUILink `json:"links,omitempty"`
}

// JobUILink is one link of a job's UI block.
type JobUILink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}
