package jobspec

// Blocks of Nomad job files that nomadic keeps but acts on only in part
// (Vault, Consul, identities, actions, check restarts), and the legacy
// forms it rewrites (a network inside resources).

import (
	"fmt"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// taskExtras decodes a task's Vault, Consul, identity and action blocks,
// its max_run_duration, and refuses what nomadic cannot run.
func (d *decoder) taskExtras(path string, b *taskBlock, t *api.Task, inherit inherited) {
	mrd := b.MaxRunDuration
	if isNull(mrd) {
		mrd = inherit.maxRunDuration
	}
	d.dur(mrd, &t.MaxRunDuration)
	d.atExpr(path+".max_run_duration", mrd)
	vb := b.Vault
	if vb == nil {
		vb = inherit.vault
	}
	if vb != nil {
		d.at(path+".vault", vb.DefRange)
		v := &api.Vault{Policies: vb.Policies, Env: vb.Env}
		set(&v.Role, vb.Role)
		set(&v.Namespace, vb.Namespace)
		set(&v.Cluster, vb.Cluster)
		set(&v.ChangeSignal, vb.ChangeSignal)
		setb(&v.DisableFile, vb.DisableFile)
		d.str(vb.ChangeMode, &v.ChangeMode)
		d.atExpr(path+".vault.change_mode", vb.ChangeMode)
		t.Vault = v
	}
	cb := b.Consul
	if cb == nil {
		cb = inherit.consul
	}
	if cb != nil {
		d.at(path+".consul", cb.DefRange)
		c := &api.Consul{}
		set(&c.Namespace, cb.Namespace)
		set(&c.Cluster, cb.Cluster)
		set(&c.Partition, cb.Partition)
		t.Consul = c
	}
	for i, ib := range b.Identities {
		ip := fmt.Sprintf("%s.identities[%d]", path, i)
		d.at(ip, ib.DefRange)
		id := &api.WorkloadIdentity{Audience: ib.Audience}
		set(&id.Name, ib.Name)
		setb(&id.Env, ib.Env)
		setb(&id.File, ib.File)
		set(&id.Filepath, ib.Filepath)
		set(&id.ChangeMode, ib.ChangeMode)
		set(&id.ChangeSignal, ib.ChangeSignal)
		d.dur(ib.TTL, &id.TTL)
		t.Identities = append(t.Identities, id)
	}
	for i, ab := range b.Actions {
		ap := fmt.Sprintf("%s.actions[%d]", path, i)
		d.at(ap, ab.DefRange)
		a := &api.Action{Name: ab.Name, Args: ab.Args}
		set(&a.Command, ab.Command)
		t.Actions = append(t.Actions, a)
	}
	if b.CSIPlugin != nil {
		d.warnf(b.CSIPlugin.DefRange, "csi_plugin is ignored: nomadic mounts host volumes only, so the task runs as a plain task and serves no CSI volumes")
	}
	for _, sb := range b.Secrets {
		d.errorf(sb.DefRange, "the secret %q block (Nomad's secret providers) is not supported: read the value in a template, from nomadVar for a Nomad variable", sb.Label)
	}
	if b.Schedule != nil {
		d.errorf(b.Schedule.DefRange, "schedule blocks (Nomad Enterprise time windows) are not supported")
	}
	for _, sc := range b.Scaling {
		d.warnf(sc.DefRange, "the task's scaling %q block (dynamic application sizing, Nomad Enterprise) is ignored", sc.Label)
	}
	if b.VaultToken != nil {
		d.warnf(b.DefRange, "vault_token is ignored: Vault is not integrated")
	}
}

func (d *decoder) checkRestart(path string, b *checkRestartBlock) *api.CheckRestart {
	if b == nil {
		return nil
	}
	d.at(path, b.DefRange)
	c := &api.CheckRestart{}
	d.intv(b.Limit, &c.Limit)
	d.atExpr(path+".limit", b.Limit)
	d.dur(b.Grace, &c.Grace)
	d.atExpr(path+".grace", b.Grace)
	setb(&c.IgnoreWarnings, b.IgnoreWarnings)
	return c
}

// connect reads a service's connect block: native services are kept as
// plain ones; sidecars and gateways are kept, with a warning that the
// group will not be placed, since nomadic has no service mesh.
func (d *decoder) connect(b *bodyBlock) *api.Connect {
	m := d.freeform(b.Body)
	c := &api.Connect{SidecarService: m["sidecar_service"], SidecarTask: m["sidecar_task"], Gateway: m["gateway"]}
	if n, ok := m["native"].(bool); ok {
		c.Native = n
	}
	if what := c.Mesh(); what != "" {
		d.warnf(b.DefRange, "Consul Connect %s needs a service mesh, which nomadic does not have: the group is accepted but not placed "+
			"(reach upstreams through their ports or the built-in catalog instead)", what)
	}
	return c
}

// legacyNetwork moves a network block inside a task's resources (Nomad's
// pre-0.12 form) to the group's network, with a deprecation warning.
func (d *decoder) legacyNetwork(path string, b *networkBlock, g *api.TaskGroup) {
	d.warnf(b.DefRange, "a network block inside resources is deprecated: its ports are moved to the group's network block (write network { port ... } in the group)")
	n := d.network(path+".resources.network", b)
	if g.Network == nil {
		g.Network = &api.Network{Mode: n.Mode, MBits: n.MBits}
	}
	have := map[string]bool{}
	for _, p := range g.Network.Ports {
		have[p.Label] = true
	}
	if d.moved == nil {
		d.moved = map[*api.TaskGroup]map[string]bool{}
	}
	moved := d.moved[g]
	if moved == nil {
		moved = map[string]bool{}
		d.moved[g] = moved
	}
	for i, p := range n.Ports {
		switch {
		case moved[p.Label]:
			// Each task of old had a network of its own; the group has one.
			d.warnf(b.Ports[i].DefRange, "port %q is also in another task's resources: the tasks share the group's port %q", p.Label, p.Label)
			continue
		case have[p.Label]:
			d.errorf(b.Ports[i].DefRange, "port %q is defined twice: in the group's network and in a task's resources", p.Label)
			continue
		}
		have[p.Label] = true
		moved[p.Label] = true
		g.Network.Ports = append(g.Network.Ports, p)
	}
}
