package api

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/driver/drivercfg"
)

// Warning is one thing a job asks for that nomadic accepts but does not
// do as asked, with the field path it is about (as in Problem).
type Warning struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Warnings lists what a job asks for that nomadic accepts but does not do
// as asked, so the user is told rather than surprised: the located
// warnings of the job file when the job was read from one, else each
// warning named by its group and task.
func (j *Job) Warnings() []string {
	if j.LocatedWarnings != nil {
		return j.LocatedWarnings
	}
	var out []string
	for _, w := range j.FieldWarnings() {
		out = append(out, w.Message)
	}
	return out
}

// FieldWarnings lists the job's warnings with their field paths. Each
// message names its group and task, so that it reads on its own.
func (j *Job) FieldWarnings() []Warning {
	var out []Warning
	add := func(path, format string, args ...any) {
		out = append(out, Warning{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for gi, g := range j.Groups {
		if g == nil {
			continue
		}
		gp := fmt.Sprintf("groups[%d]", gi)
		where := fmt.Sprintf("group %q", g.Name)
		// Bridge and CNI modes give the allocation a network of its own,
		// where each port is mapped to its container port (to).
		bridge := g.Network != nil && (g.Network.Mode == "bridge" || strings.HasPrefix(g.Network.Mode, "cni/"))
		if n := g.Network; n != nil {
			if len(n.CNIArgs) > 0 {
				add(gp+".network", "%s: cni args are kept but not passed to any CNI plugin", where)
			}
		}
		services := func(sp string, ss []*Service, where string) {
			for si, s := range ss {
				if s == nil {
					continue
				}
				p := fmt.Sprintf("%s.services[%d]", sp, si)
				if s.Provider == "consul" {
					add(p+".provider", "%s: service %q is registered in nomadic's built-in catalog: Consul is not used", where, s.Name)
				}
				if s.Connect != nil && s.Connect.Native {
					add(p+".connect", "%s: service %q is Connect-native: it is registered as a plain service, without Consul's mTLS", where, s.Name)
				}
				for ci, c := range s.Checks {
					cp := fmt.Sprintf("%s.checks[%d]", p, ci)
					if c.Expose {
						add(cp+".expose", "%s: expose is a Consul Connect setting and is ignored", where)
					}
				}
			}
		}
		services(gp, g.Services, where)
		for ti, t := range g.Tasks {
			if t == nil {
				continue
			}
			tp := fmt.Sprintf("%s.tasks[%d]", gp, ti)
			tw := fmt.Sprintf("group %q task %q", g.Name, t.Name)
			services(tp, t.Services, tw)
			if t.Vault != nil {
				add(tp+".vault", "%s: Vault is not integrated: no Vault token is issued, and a template that reads a secret fails when it is rendered", tw)
			}
			if t.Consul != nil {
				add(tp+".consul", "%s: the consul block is ignored: Consul is not used", tw)
			}
			for ti, tpl := range t.Templates {
				if calls := tpl.ConsulCalls(); len(calls) > 0 {
					add(fmt.Sprintf("%s.templates[%d]", tp, ti), "%s: the template for %q calls %s, which read Consul or Vault: nomadic uses neither, and the template fails when it is rendered (read variables with nomadVar, services with nomadService)", tw, tpl.Destination, strings.Join(calls, ", "))
				}
			}
			for ii, id := range t.Identities {
				if !id.IsDefault() {
					add(fmt.Sprintf("%s.identities[%d]", tp, ii), "%s: identity %q is kept but not issued: only the default workload identity (no name) is; Vault and Consul are not integrated", tw, id.Name)
					break
				}
			}
			if typ := cmp.Or(j.Type, JobTypeService); t.MaxRunDuration > 0 && typ != JobTypeBatch && typ != JobTypeSysbatch {
				add(tp+".max_run_duration", "%s: max_run_duration bounds the tasks of batch and sysbatch jobs: it is ignored in a %s job", tw, typ)
			}
			if t.Resources != nil && len(t.Resources.Devices) > 0 {
				add(tp+".resources.devices[0]", "%s: no nomadic node offers devices yet, so a group asking for %q is accepted but not placed (its placement says why)", tw, t.Resources.Devices[0].Name)
			}
			schema := drivercfg.Lookup(t.Driver)
			if !drivercfg.Known(t.Driver) && t.Driver != "" {
				add(tp+".driver", "%s: nomadic ships no %q driver: the job is placed only on nodes whose agent has one", tw, t.Driver)
				continue
			}
			if schema == nil {
				continue
			}
			for _, w := range schema.Warnings(t.Config) {
				add(tp+".config."+w.Option, "%s: %s", tw, w.Message)
			}
			if t.Driver == "docker" || t.Driver == "podman" {
				declared := map[string]bool{}
				if g.Network != nil {
					for _, p := range g.Network.Ports {
						declared[p.Label] = true
					}
				}
				if ps, ok := t.Config["ports"].([]any); ok {
					for pi, p := range ps {
						if l, ok := p.(string); ok && !declared[l] && !strings.Contains(l, "${") {
							add(fmt.Sprintf("%s.config.ports[%d]", tp, pi), "%s: config.ports names %q, which the group's network block does not declare: nothing is mapped for it, and Nomad fails such a task at its start (declare it with port %q {} in the group's network)", tw, l, l)
						}
					}
				}
			}
			if (t.Driver == "docker" || t.Driver == "podman") && g.Network != nil && !bridge {
				ports := map[string]Port{}
				for _, p := range g.Network.Ports {
					ports[p.Label] = p
				}
				for pi, p := range g.Network.Ports {
					if p.To > 0 && p.To != p.Static && usesPort(t.Config, p.Label) {
						add(fmt.Sprintf("%s.network.ports[%d].to", gp, pi),
							"%s: port %q maps to %d, but in host network mode the container listens on the host's network: it must listen on NOMAD_PORT_%s, or the group needs network { mode = \"bridge\" }", tw, p.Label, p.To, p.Label)
					}
				}
			}
		}
	}
	return out
}

// usesPort reports whether a docker config lists a port label in ports or
// port_map.
func usesPort(config map[string]any, label string) bool {
	if ps, ok := config["ports"].([]any); ok {
		for _, p := range ps {
			if p == label {
				return true
			}
		}
	}
	switch pm := config["port_map"].(type) {
	case []any:
		for _, m := range pm {
			if mm, ok := m.(map[string]any); ok && mm[label] != nil {
				return true
			}
		}
	case map[string]any:
		return pm[label] != nil
	}
	return false
}
