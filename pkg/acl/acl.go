// Package acl parses ACL policies in Nomad's policy syntax and compiles a
// token's policies into an ACL, which answers whether the token may do an
// operation. It is pure: the store keeps policies and tokens, the HTTP
// APIs resolve a request's token and ask its ACL.
//
// Merging follows Nomad: the capabilities of every policy naming the same
// namespace (or glob) add up, and "deny" anywhere takes them all away; a
// namespace is governed by the rule of the exact name if there is one,
// else by the glob that matches it most specifically (the most literal
// characters). Coarse policies (node, agent, operator, plugin, quota)
// take the broadest grant, and "deny" wins over any.
package acl

import (
	"slices"
	"sort"
	"strings"
)

// ACL is what a token may do: compiled from its policies, or management
// (everything).
type ACL struct {
	management bool
	namespaces []nsEntry
	hostVols   []capEntry
	node       string
	agent      string
	operator   string
	plugin     string
	quota      string
}

type nsEntry struct {
	pattern string
	caps    []string
	vars    []capEntry
}

type capEntry struct {
	pattern string
	caps    []string
}

// Management is the ACL of a management token.
var Management = &ACL{management: true}

// Deny is the ACL that allows nothing (an anonymous request when there is
// no anonymous policy).
var Deny = &ACL{}

// Compile merges policies into one ACL.
func Compile(policies ...*Policy) *ACL {
	a := &ACL{}
	ns := map[string]*nsEntry{}
	hv := map[string]*capEntry{}
	for _, p := range policies {
		for _, r := range p.Namespaces {
			e := ns[r.Name]
			if e == nil {
				e = &nsEntry{pattern: r.Name}
				ns[r.Name] = e
			}
			e.caps = union(e.caps, r.Capabilities)
			for _, v := range r.Variables {
				e.vars = mergeEntry(e.vars, v.Path, v.Capabilities)
			}
		}
		for _, r := range p.HostVolumes {
			e := hv[r.Name]
			if e == nil {
				e = &capEntry{pattern: r.Name}
				hv[r.Name] = e
			}
			e.caps = union(e.caps, expandHostVolumePolicy(r.Policy))
			e.caps = union(e.caps, r.Capabilities)
		}
		a.node = maxCoarse(a.node, p.Node)
		a.agent = maxCoarse(a.agent, p.Agent)
		a.operator = maxCoarse(a.operator, p.Operator)
		a.plugin = maxCoarse(a.plugin, p.Plugin)
		a.quota = maxCoarse(a.quota, p.Quota)
	}
	for _, e := range ns {
		a.namespaces = append(a.namespaces, *e)
	}
	sort.Slice(a.namespaces, func(i, j int) bool { return a.namespaces[i].pattern < a.namespaces[j].pattern })
	for _, e := range hv {
		a.hostVols = append(a.hostVols, *e)
	}
	sort.Slice(a.hostVols, func(i, j int) bool { return a.hostVols[i].pattern < a.hostVols[j].pattern })
	return a
}

func mergeEntry(list []capEntry, pattern string, caps []string) []capEntry {
	for i := range list {
		if list[i].pattern == pattern {
			list[i].caps = union(list[i].caps, caps)
			return list
		}
	}
	return append(list, capEntry{pattern: pattern, caps: slices.Clone(caps)})
}

func expandHostVolumePolicy(policy string) []string {
	switch policy {
	case PolicyDeny:
		return []string{CapDeny}
	case PolicyRead:
		return []string{CapHostVolumeRead}
	case PolicyWrite:
		return []string{CapHostVolumeRead, CapHostVolumeCreate, CapHostVolumeRegister, CapHostVolumeWrite, CapHostVolumeDelete}
	}
	return nil
}

// IsManagement reports whether the ACL is a management token's.
func (a *ACL) IsManagement() bool { return a.management }

// AllowNamespaceOp reports whether the ACL has capability op in namespace
// ns. The namespace "*" (every namespace) is allowed only by rules that
// match it: a "*" glob.
func (a *ACL) AllowNamespaceOp(ns, op string) bool {
	if a.management {
		return true
	}
	e := a.namespaceRule(ns)
	if e == nil || slices.Contains(e.caps, CapDeny) {
		return false
	}
	return slices.Contains(e.caps, op)
}

// AllowNamespace reports whether the ACL grants anything in namespace ns
// (what lists of namespaces are filtered by).
func (a *ACL) AllowNamespace(ns string) bool {
	if a.management {
		return true
	}
	e := a.namespaceRule(ns)
	if e == nil || slices.Contains(e.caps, CapDeny) {
		return false
	}
	return len(e.caps) > 0 || len(e.vars) > 0
}

// AllowVariableOp reports whether the ACL has variable capability op
// (list, read, write, destroy) on the variable at path in namespace ns.
func (a *ACL) AllowVariableOp(ns, path, op string) bool {
	if a.management {
		return true
	}
	e := a.namespaceRule(ns)
	if e == nil || slices.Contains(e.caps, CapDeny) {
		return false
	}
	v := mostSpecific(e.vars, path)
	if v == nil || slices.Contains(v.caps, VarDeny) {
		return false
	}
	return slices.Contains(v.caps, op)
}

// AllowHostVolumeOp reports whether the ACL has capability op on the host
// volume name.
func (a *ACL) AllowHostVolumeOp(name, op string) bool {
	if a.management {
		return true
	}
	e := mostSpecific(a.hostVols, name)
	if e == nil || slices.Contains(e.caps, CapDeny) {
		return false
	}
	return slices.Contains(e.caps, op)
}

func (a *ACL) namespaceRule(ns string) *nsEntry {
	best, bestScore := -1, -1
	for i, e := range a.namespaces {
		if e.pattern == ns {
			return &a.namespaces[i]
		}
		if score := literalLen(e.pattern); score > bestScore && globMatch(e.pattern, ns) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil
	}
	return &a.namespaces[best]
}

func mostSpecific(list []capEntry, name string) *capEntry {
	best, bestScore := -1, -1
	for i, e := range list {
		if e.pattern == name {
			return &list[i]
		}
		if score := literalLen(e.pattern); score > bestScore && globMatch(e.pattern, name) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil
	}
	return &list[best]
}

func literalLen(pattern string) int { return len(pattern) - strings.Count(pattern, "*") }

// globMatch matches name against a pattern in which '*' stands for any
// run of characters, '/' included.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

func allowCoarse(policy string, write bool) bool {
	switch policy {
	case PolicyWrite:
		return true
	case PolicyRead:
		return !write
	}
	return false
}

// AllowNodeRead reports whether the ACL may read nodes.
func (a *ACL) AllowNodeRead() bool { return a.management || allowCoarse(a.node, false) }

// AllowNodeWrite reports whether the ACL may change nodes (eligibility,
// drain, purge).
func (a *ACL) AllowNodeWrite() bool { return a.management || allowCoarse(a.node, true) }

// AllowAgentRead reports whether the ACL may read the agent's self,
// members and metrics.
func (a *ACL) AllowAgentRead() bool { return a.management || allowCoarse(a.agent, false) }

// AllowAgentWrite reports whether the ACL may change agents (force-leave).
func (a *ACL) AllowAgentWrite() bool { return a.management || allowCoarse(a.agent, true) }

// AllowOperatorRead reports whether the ACL may read the cluster's
// operator settings (scheduler configuration, raft/servers).
func (a *ACL) AllowOperatorRead() bool { return a.management || allowCoarse(a.operator, false) }

// AllowOperatorWrite reports whether the ACL may change them.
func (a *ACL) AllowOperatorWrite() bool { return a.management || allowCoarse(a.operator, true) }

// AllowPluginRead reports whether the ACL may read CSI plugins.
func (a *ACL) AllowPluginRead() bool { return a.management || allowCoarse(a.plugin, false) }

// AllowPluginList reports whether the ACL may list CSI plugins.
func (a *ACL) AllowPluginList() bool {
	return a.management || a.plugin == PolicyList || allowCoarse(a.plugin, false)
}

// AllowQuotaRead reports whether the ACL may read quotas.
func (a *ACL) AllowQuotaRead() bool { return a.management || allowCoarse(a.quota, false) }

// AllowAnyNamespaceOp reports whether the ACL has capability op in some
// namespace: a list across namespaces is refused to a token that could
// see nothing in it, and filtered for the others.
func (a *ACL) AllowAnyNamespaceOp(op string) bool {
	if a.management {
		return true
	}
	for _, e := range a.namespaces {
		if !slices.Contains(e.caps, CapDeny) && slices.Contains(e.caps, op) {
			return true
		}
	}
	return false
}
