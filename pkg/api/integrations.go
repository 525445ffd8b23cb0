package api

import (
	"fmt"
	"strings"
)

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

// WorkloadIdentity is a task's identity block. The default identity (no
// name, or "default") is a token signed by the servers that the task is
// given in NOMAD_TOKEN (Env) and in secrets/nomad_token (File), and with
// which its templates read variables. Named identities (audiences for
// Vault or Consul) are kept but not issued.
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

// IsDefault reports whether the block is the task's default identity.
func (w *WorkloadIdentity) IsDefault() bool {
	return w.Name == "" || w.Name == "default"
}

// DefaultIdentity returns the task's default identity block, or nil.
func (t *Task) DefaultIdentity() *WorkloadIdentity {
	for _, w := range t.Identities {
		if w != nil && w.IsDefault() {
			return w
		}
	}
	return nil
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

// Connect is a service's Consul Connect block. Native services are kept
// as plain ones. Sidecars and gateways need a service mesh, which nomadic
// does not have: they are kept as written, and a group that asks for one
// is not placed (its placement says why).
type Connect struct {
	Native         bool `json:"native,omitempty"`
	SidecarService any  `json:"sidecar_service,omitempty"`
	SidecarTask    any  `json:"sidecar_task,omitempty"`
	Gateway        any  `json:"gateway,omitempty"`
}

// Mesh names what of the block needs a service mesh ("" for nothing).
func (c *Connect) Mesh() string {
	switch {
	case c == nil:
		return ""
	case c.SidecarService != nil:
		return "sidecar_service"
	case c.SidecarTask != nil:
		return "sidecar_task"
	case c.Gateway != nil:
		return "gateway"
	}
	return ""
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

// ScaleRequest asks for a group's count to change (POST
// /v1/job/{id}/scale), as Nomad's scale API and autoscalers send it.
type ScaleRequest struct {
	// Count is the new count; nil only records the event.
	Count *int `json:"count,omitempty"`
	// Target names the group: {"group": "web"}.
	Target  map[string]string `json:"target"`
	Message string            `json:"message,omitempty"`
	Error   bool              `json:"error,omitempty"`
	Meta    map[string]any    `json:"meta,omitempty"`
}

// Scale sets a group's count, within its scaling block's bounds when it
// has one. It changes nothing when it returns an error.
func (j *Job) Scale(group string, count int) error {
	g := j.LookupGroup(group)
	if g == nil {
		names := make([]string, 0, len(j.Groups))
		for _, x := range j.Groups {
			names = append(names, x.Name)
		}
		return fmt.Errorf("job %q has no group %q: it does not exist (groups: %s)", j.ID, group, strings.Join(names, ", "))
	}
	if j.Type == JobTypeSystem || j.Type == JobTypeSysbatch {
		return fmt.Errorf("job %q is a %s job: it runs one allocation per node and cannot be scaled", j.ID, j.Type)
	}
	if count < 0 {
		return fmt.Errorf("count %d must not be negative", count)
	}
	// A disabled policy still bounds the count: enabled is for
	// autoscalers.
	if sc := g.Scaling; sc != nil {
		if count < sc.Min || count > sc.Max {
			return fmt.Errorf("count %d is outside the scaling bounds of group %q: %d to %d", count, group, sc.Min, sc.Max)
		}
	}
	g.Count = count
	return nil
}
