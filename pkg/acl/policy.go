package acl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// The coarse policies of the node, agent, operator, plugin and host
// volume blocks, and of a namespace block's policy attribute.
const (
	PolicyDeny  = "deny"
	PolicyRead  = "read"
	PolicyWrite = "write"
	// PolicyScale is a namespace's policy that may read and change job
	// scaling only.
	PolicyScale = "scale"
	// PolicyList is a plugin's policy that may only list plugins.
	PolicyList = "list"
)

// The namespace capabilities, as Nomad names them.
const (
	CapDeny                = "deny"
	CapListJobs            = "list-jobs"
	CapParseJob            = "parse-job"
	CapReadJob             = "read-job"
	CapSubmitJob           = "submit-job"
	CapDispatchJob         = "dispatch-job"
	CapReadLogs            = "read-logs"
	CapReadFS              = "read-fs"
	CapAllocExec           = "alloc-exec"
	CapAllocNodeExec       = "alloc-node-exec"
	CapAllocLifecycle      = "alloc-lifecycle"
	CapScaleJob            = "scale-job"
	CapReadJobScaling      = "read-job-scaling"
	CapListScalingPolicies = "list-scaling-policies"
	CapReadScalingPolicy   = "read-scaling-policy"
	CapSubmitRecommend     = "submit-recommendation"
	CapCSIRegisterPlugin   = "csi-register-plugin"
	CapCSIWriteVolume      = "csi-write-volume"
	CapCSIReadVolume       = "csi-read-volume"
	CapCSIListVolume       = "csi-list-volume"
	CapCSIMountVolume      = "csi-mount-volume"
	CapHostVolumeCreate    = "host-volume-create"
	CapHostVolumeRegister  = "host-volume-register"
	CapHostVolumeRead      = "host-volume-read"
	CapHostVolumeWrite     = "host-volume-write"
	CapHostVolumeDelete    = "host-volume-delete"
	CapSentinelOverride    = "sentinel-override"
)

// The variable capabilities of a variables path block.
const (
	VarList    = "list"
	VarRead    = "read"
	VarWrite   = "write"
	VarDestroy = "destroy"
	VarDeny    = "deny"
)

var namespaceCaps = []string{CapDeny, CapListJobs, CapParseJob, CapReadJob, CapSubmitJob, CapDispatchJob,
	CapReadLogs, CapReadFS, CapAllocExec, CapAllocNodeExec, CapAllocLifecycle, CapScaleJob, CapReadJobScaling,
	CapListScalingPolicies, CapReadScalingPolicy, CapSubmitRecommend, CapCSIRegisterPlugin, CapCSIWriteVolume,
	CapCSIReadVolume, CapCSIListVolume, CapCSIMountVolume, CapHostVolumeCreate, CapHostVolumeRegister,
	CapHostVolumeRead, CapHostVolumeWrite, CapHostVolumeDelete, CapSentinelOverride}

var variableCaps = []string{VarList, VarRead, VarWrite, VarDestroy, VarDeny}

var hostVolumeCaps = []string{CapDeny, CapHostVolumeCreate, CapHostVolumeRegister, CapHostVolumeRead,
	CapHostVolumeWrite, CapHostVolumeDelete}

// expandNamespacePolicy is what a namespace block's policy grants.
func expandNamespacePolicy(policy string) []string {
	read := []string{CapListJobs, CapParseJob, CapReadJob, CapCSIListVolume, CapCSIReadVolume,
		CapReadJobScaling, CapListScalingPolicies, CapReadScalingPolicy, CapHostVolumeRead}
	switch policy {
	case PolicyDeny:
		return []string{CapDeny}
	case PolicyRead:
		return read
	case PolicyWrite:
		return append(read, CapScaleJob, CapSubmitJob, CapDispatchJob, CapReadLogs, CapReadFS,
			CapAllocExec, CapAllocLifecycle, CapCSIMountVolume, CapCSIWriteVolume, CapSubmitRecommend,
			CapHostVolumeCreate, CapHostVolumeRegister, CapHostVolumeWrite, CapHostVolumeDelete)
	case PolicyScale:
		return []string{CapListScalingPolicies, CapReadScalingPolicy, CapReadJobScaling, CapScaleJob}
	}
	return nil
}

// expandVariablesPolicy is what a namespace block's policy grants on its
// variables, when it has no variables block of its own.
func expandVariablesPolicy(policy string) []string {
	switch policy {
	case PolicyDeny:
		return []string{VarDeny}
	case PolicyRead:
		return []string{VarList, VarRead}
	case PolicyWrite:
		return []string{VarList, VarRead, VarWrite, VarDestroy}
	}
	return nil
}

// Policy is a parsed ACL policy document.
type Policy struct {
	Namespaces  []NamespaceRule
	HostVolumes []HostVolumeRule
	// Node, Agent, Operator, Plugin and Quota are coarse policies
	// ("deny", "read", "write"; a plugin also "list"); empty when the
	// document has no such block.
	Node, Agent, Operator, Plugin, Quota string
}

// NamespaceRule is one namespace block: its name (a glob: '*' matches any
// run of characters), its policy, and the capabilities it grants, the
// policy's expanded.
type NamespaceRule struct {
	Name         string
	Policy       string
	Capabilities []string
	// Variables are the rules of its variables block, by path glob.
	Variables []VariableRule
}

// VariableRule is one path block of a namespace's variables block.
type VariableRule struct {
	Path         string
	Capabilities []string
}

// HostVolumeRule is one host_volume block.
type HostVolumeRule struct {
	Name         string
	Policy       string
	Capabilities []string
}

// The document's HCL schema. Attributes are kept as attributes, so that
// a bad value is reported where it is.
type docHCL struct {
	Namespaces  []*namespaceHCL  `hcl:"namespace,block"`
	HostVolumes []*hostVolumeHCL `hcl:"host_volume,block"`
	Node        []*coarseHCL     `hcl:"node,block"`
	Agent       []*coarseHCL     `hcl:"agent,block"`
	Operator    []*coarseHCL     `hcl:"operator,block"`
	Plugin      []*coarseHCL     `hcl:"plugin,block"`
	Quota       []*coarseHCL     `hcl:"quota,block"`
}

type namespaceHCL struct {
	Name         string          `hcl:"name,label"`
	Policy       *hcl.Attribute  `hcl:"policy"`
	Capabilities *hcl.Attribute  `hcl:"capabilities"`
	Variables    []*variablesHCL `hcl:"variables,block"`
	DefRange     hcl.Range       `hcl:",def_range"`
}

type variablesHCL struct {
	Paths []*pathHCL `hcl:"path,block"`
}

type pathHCL struct {
	Path         string         `hcl:"path,label"`
	Capabilities *hcl.Attribute `hcl:"capabilities"`
}

type hostVolumeHCL struct {
	Name         string         `hcl:"name,label"`
	Policy       *hcl.Attribute `hcl:"policy"`
	Capabilities *hcl.Attribute `hcl:"capabilities"`
}

type coarseHCL struct {
	Policy *hcl.Attribute `hcl:"policy"`
}

// Parse reads a policy document in Nomad's ACL policy syntax, HCL or its
// JSON form (a document whose first character is '{'). filename names it
// in errors, which say file:line:col.
func Parse(filename, src string) (*Policy, error) {
	var (
		f     *hcl.File
		diags hcl.Diagnostics
	)
	if strings.HasPrefix(strings.TrimSpace(src), "{") {
		f, diags = hcljson.Parse([]byte(src), filename)
	} else {
		f, diags = hclsyntax.ParseConfig([]byte(src), filename, hcl.Pos{Line: 1, Column: 1})
	}
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var doc docHCL
	if diags := gohcl.DecodeBody(f.Body, nil, &doc); diags.HasErrors() {
		return nil, diagError(diags)
	}
	p := &Policy{}
	var errs hcl.Diagnostics
	for _, ns := range doc.Namespaces {
		rule := NamespaceRule{Name: ns.Name}
		if !validGlob(ns.Name) {
			errs = append(errs, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "invalid namespace name",
				Detail:  fmt.Sprintf("%q: a namespace name holds letters, digits, '-', '_', '.' and the glob '*'", ns.Name),
				Subject: ns.DefRange.Ptr()})
		}
		rule.Policy, errs = str(ns.Policy, []string{PolicyDeny, PolicyRead, PolicyWrite, PolicyScale}, errs)
		var caps []string
		caps, errs = strList(ns.Capabilities, namespaceCaps, errs)
		rule.Capabilities = union(expandNamespacePolicy(rule.Policy), caps)
		for _, vb := range ns.Variables {
			for _, pb := range vb.Paths {
				var vcaps []string
				vcaps, errs = strList(pb.Capabilities, variableCaps, errs)
				rule.Variables = append(rule.Variables, VariableRule{Path: pb.Path, Capabilities: vcaps})
			}
		}
		if len(ns.Variables) == 0 {
			if vc := expandVariablesPolicy(rule.Policy); vc != nil {
				rule.Variables = []VariableRule{{Path: "*", Capabilities: vc}}
			}
		}
		p.Namespaces = append(p.Namespaces, rule)
	}
	for _, hv := range doc.HostVolumes {
		rule := HostVolumeRule{Name: hv.Name}
		rule.Policy, errs = str(hv.Policy, []string{PolicyDeny, PolicyRead, PolicyWrite}, errs)
		var caps []string
		caps, errs = strList(hv.Capabilities, hostVolumeCaps, errs)
		rule.Capabilities = caps
		p.HostVolumes = append(p.HostVolumes, rule)
	}
	coarse := []struct {
		blocks  []*coarseHCL
		dst     *string
		allowed []string
	}{
		{doc.Node, &p.Node, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{doc.Agent, &p.Agent, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{doc.Operator, &p.Operator, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{doc.Plugin, &p.Plugin, []string{PolicyDeny, PolicyList, PolicyRead}},
		{doc.Quota, &p.Quota, []string{PolicyDeny, PolicyRead, PolicyWrite}},
	}
	for _, c := range coarse {
		for _, b := range c.blocks {
			var v string
			v, errs = str(b.Policy, c.allowed, errs)
			*c.dst = maxCoarse(*c.dst, v)
		}
	}
	if errs.HasErrors() {
		return nil, diagError(errs)
	}
	return p, nil
}

// str evaluates a string attribute that must be one of allowed.
func str(a *hcl.Attribute, allowed []string, errs hcl.Diagnostics) (string, hcl.Diagnostics) {
	if a == nil {
		return "", errs
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return "", append(errs, diags...)
	}
	if v.IsNull() || !v.Type().Equals(cty.String) {
		return "", append(errs, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "invalid " + a.Name,
			Detail: fmt.Sprintf("%s must be a string: one of %s", a.Name, strings.Join(allowed, ", ")), Subject: a.Expr.Range().Ptr()})
	}
	s := v.AsString()
	if !slices.Contains(allowed, s) {
		return "", append(errs, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "invalid " + a.Name,
			Detail: fmt.Sprintf("%q is not one of %s", s, strings.Join(allowed, ", ")), Subject: a.Expr.Range().Ptr()})
	}
	return s, errs
}

// strList evaluates a list of strings, each of which must be in allowed.
func strList(a *hcl.Attribute, allowed []string, errs hcl.Diagnostics) ([]string, hcl.Diagnostics) {
	if a == nil {
		return nil, errs
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return nil, append(errs, diags...)
	}
	bad := func(detail string) hcl.Diagnostics {
		return append(errs, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "invalid " + a.Name,
			Detail: detail, Subject: a.Expr.Range().Ptr()})
	}
	if v.IsNull() || !(v.Type().IsListType() || v.Type().IsTupleType()) {
		return nil, bad(a.Name + " must be a list of strings")
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.Type().Equals(cty.String) {
			return nil, bad(a.Name + " must be a list of strings")
		}
		s := e.AsString()
		if !slices.Contains(allowed, s) {
			return nil, bad(fmt.Sprintf("%q is not a capability here; the capabilities are %s", s, strings.Join(allowed, ", ")))
		}
		out = append(out, s)
	}
	return out, errs
}

// diagError formats diagnostics as file:line:col: summary: detail, one
// a line.
func diagError(diags hcl.Diagnostics) error {
	var lines []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		lines = append(lines, msg)
	}
	return &ParseError{Msg: strings.Join(lines, "\n")}
}

// ParseError is a policy document that does not parse; its message says
// where, as file:line:col.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

// validGlob reports whether a namespace name or glob holds only the
// characters namespace names may.
func validGlob(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '*':
		default:
			return false
		}
	}
	return true
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// maxCoarse merges two coarse policies: deny wins, then the broader.
func maxCoarse(a, b string) string {
	rank := map[string]int{"": 0, PolicyList: 1, PolicyRead: 2, PolicyWrite: 3, PolicyDeny: 4}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
