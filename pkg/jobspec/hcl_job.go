package jobspec

// The job, group and task blocks of an HCL job file, decoded into the API
// types with the field path of every value recorded for located errors.

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

//
// The decoder converts shapes and types; what a value means is checked by
// api.Job.Validate, the same code that checks API submissions. To locate
// its problems, the decoder records the range of every block and value it
// reads under the field path Validate uses ("groups[0].tasks[1].driver").

func (d *decoder) at(path string, rng hcl.Range) {
	if _, ok := d.ranges[path]; !ok {
		d.ranges[path] = rng
	}
}

// atExpr records the range of an attribute's value, if it was given.
func (d *decoder) atExpr(path string, expr hcl.Expression) {
	if !isNull(expr) {
		d.at(path, expr.Range())
	}
}

func (d *decoder) job(b *hcl.Block) *api.Job {
	body := dynblock.Expand(b.Body, d.ctx)
	jb := &jobBlock{Name: b.Labels[0], DefRange: b.DefRange}
	// Decoding goes on past errors, so that the job's own problems are
	// reported together with the file's.
	d.add(gohcl.DecodeBody(body, d.ctx, jb))
	d.at("", b.DefRange)
	d.at("id", b.LabelRanges[0])
	job := &api.Job{ID: jb.Name, Name: jb.Name}
	if jb.ID != nil {
		job.ID = *jb.ID
	}
	set(&job.Name, jb.NameAttr) // Nomad's display name; the label stays the ID
	d.str(jb.Type, &job.Type)
	d.atExpr("type", jb.Type)
	if d.intv(jb.Priority, &job.Priority) && job.Priority == 0 {
		job.Priority = -1 // zero would read as "not set" and take the default
	}
	d.atExpr("priority", jb.Priority)
	set(&job.Namespace, jb.Namespace)
	set(&job.Region, jb.Region)
	set(&job.NodePool, jb.NodePool)
	job.Datacenters = jb.Datacenters
	job.Meta = d.meta(jb.MetaAttr, jb.Meta)
	job.Constraints = d.constraints("constraints", jb.Constraints)
	job.Affinities = d.affinities("affinities", jb.Affinities)
	job.Spreads = d.spreads("spreads", jb.Spreads)
	job.Update = d.update("update", jb.Update)
	job.Migrate = d.migrate("migrate", jb.Migrate)
	job.Reschedule = d.reschedule("reschedule", jb.Reschedule)
	job.Periodic = d.periodic("periodic", jb.Periodic)
	if p := jb.Parameterized; p != nil {
		job.Parameterized = &api.ParameterizedConfig{MetaRequired: p.MetaRequired, MetaOptional: p.MetaOptional}
		d.str(p.Payload, &job.Parameterized.Payload)
		d.at("parameterized", p.DefRange)
		d.atExpr("parameterized.payload", p.Payload)
	}
	if u := jb.UI; u != nil {
		d.at("ui", u.DefRange)
		job.UI = &api.JobUI{}
		set(&job.UI.Description, u.Description)
		for _, l := range u.Links {
			job.UI.Links = append(job.UI.Links, api.JobUILink{Label: l.Label, URL: l.URL})
		}
	}
	if jb.Multiregion != nil {
		d.errorf(jb.Multiregion.DefRange, "multiregion jobs are not supported: nomadic runs one region")
	}
	for _, t := range jb.Tasks {
		// Nomad's old shorthand: a task outside any group gets a group of
		// its own, of the same name.
		d.warnf(t.DefRange, "a task outside a group is deprecated: it runs in a group of its own named %q", t.Name)
		jb.Groups = append(jb.Groups, &groupBlock{Name: t.Name, Tasks: []*taskBlock{t}, DefRange: t.DefRange, NameRange: t.NameRange})
	}
	for _, tok := range []*string{jb.VaultToken, jb.ConsulToken} {
		if tok != nil {
			d.warnf(jb.DefRange, "vault_token and consul_token are ignored: Vault and Consul are not used")
			break
		}
	}
	inherit := inherited{vault: jb.Vault, consul: jb.Consul, jobType: job.Type}
	for i, g := range jb.Groups {
		job.Groups = append(job.Groups, d.group(fmt.Sprintf("groups[%d]", i), g, inherit))
	}
	return job
}

// inherited are blocks a job or group gives the tasks that lack their own.
type inherited struct {
	jobType        string
	vault          *vaultBlock
	consul         *consulBlock
	maxRunDuration hcl.Expression
}

func (d *decoder) group(path string, b *groupBlock, inherit inherited) *api.TaskGroup {
	d.at(path, b.NameRange)
	g := &api.TaskGroup{Name: b.Name, Count: 1}
	countGiven := d.intv(b.Count, &g.Count)
	d.atExpr(path+".count", b.Count)
	if sc := b.Scaling; sc != nil {
		d.at(path+".scaling", sc.DefRange)
		g.Scaling = &api.ScalingPolicy{Enabled: true}
		if !d.intv(sc.Min, &g.Scaling.Min) {
			// As in Nomad: without a min, the group's count is.
			g.Scaling.Min = g.Count
		}
		d.atExpr(path+".scaling.min", sc.Min)
		if !d.intv(sc.Max, &g.Scaling.Max) {
			d.errorf(sc.DefRange, "a scaling block needs max")
		}
		d.atExpr(path+".scaling.max", sc.Max)
		setb(&g.Scaling.Enabled, sc.Enabled)
		if sc.Policy != nil {
			d.labelLists = true
			g.Scaling.Policy = d.freeform(sc.Policy.Body)
			d.labelLists = false
		}
		if !countGiven && g.Scaling.Min > 0 {
			// As in Nomad: a scaled group without a count starts at min.
			g.Count = g.Scaling.Min
		}
	}
	if b.Vault != nil {
		inherit.vault = b.Vault
	}
	if b.Consul != nil {
		inherit.consul = b.Consul
	}
	if !isNull(b.MaxRunDuration) {
		inherit.maxRunDuration = b.MaxRunDuration
	}
	if b.PreventRescheduleOnLost != nil && *b.PreventRescheduleOnLost {
		d.warnf(b.DefRange, "prevent_reschedule_on_lost is ignored: allocations of a lost node are replaced per the disconnect block")
	}
	g.Meta = d.meta(b.MetaAttr, b.Meta)
	g.Constraints = d.constraints(path+".constraints", b.Constraints)
	g.Affinities = d.affinities(path+".affinities", b.Affinities)
	g.Spreads = d.spreads(path+".spreads", b.Spreads)
	g.Update = d.update(path+".update", b.Update)
	g.Migrate = d.migrate(path+".migrate", b.Migrate)
	g.Reschedule = d.reschedule(path+".reschedule", b.Reschedule)
	g.Restart = d.restart(path+".restart", b.Restart)
	d.dur(b.ShutdownDelay, &g.ShutdownDelay)
	switch len(b.Networks) {
	case 0:
	case 1:
		g.Network = d.network(path+".network", b.Networks[0])
	default:
		d.errorf(b.Networks[1].DefRange, "only one network block is allowed in a group")
	}
	if e := b.EphemeralDisk; e != nil {
		g.EphemeralDisk = &api.EphemeralDisk{}
		d.at(path+".ephemeral_disk", e.DefRange)
		d.intv(e.Size, &g.EphemeralDisk.SizeMB)
		d.atExpr(path+".ephemeral_disk.size", e.Size)
		setb(&g.EphemeralDisk.Migrate, e.Migrate)
		setb(&g.EphemeralDisk.Sticky, e.Sticky)
	}
	for _, v := range b.Volumes {
		if g.Volumes == nil {
			g.Volumes = map[string]*api.VolumeRequest{}
		}
		if g.Volumes[v.Name] != nil {
			d.errorf(v.DefRange, "volume %q is defined twice", v.Name)
			continue
		}
		vp := path + ".volumes." + v.Name
		d.at(vp, v.DefRange)
		vr := &api.VolumeRequest{Name: v.Name, Type: "host", Source: v.Source}
		d.str(v.Type, &vr.Type)
		d.atExpr(vp+".type", v.Type)
		if vr.Type == "csi" {
			d.warnf(v.DefRange, "volume %q is a CSI volume, which nomadic does not mount (host volumes only): the group is accepted but not placed", v.Name)
		}
		setb(&vr.ReadOnly, v.ReadOnly)
		setb(&vr.Sticky, v.Sticky)
		setb(&vr.PerAlloc, v.PerAlloc)
		set(&vr.AccessMode, v.AccessMode)
		set(&vr.AttachmentMode, v.AttachmentMode)
		g.Volumes[v.Name] = vr
	}
	if c := b.Disconnect; c != nil {
		d.at(path+".disconnect", c.DefRange)
		g.Disconnect = &api.DisconnectStrategy{Replace: c.Replace}
		d.dur(c.LostAfter, &g.Disconnect.LostAfter)
		d.dur(c.StopAfter, &g.Disconnect.StopAfter)
		d.str(c.Reconcile, &g.Disconnect.Reconcile)
		d.atExpr(path+".disconnect.reconcile", c.Reconcile)
	}
	var mcd api.Duration
	if d.dur(b.MaxClientDisconnect, &mcd) {
		g.MaxClientDisconnect = &mcd
	}
	var sacd api.Duration
	if d.dur(b.StopAfterClientDisconnect, &sacd) {
		if g.Disconnect == nil {
			g.Disconnect = &api.DisconnectStrategy{}
		}
		g.Disconnect.StopAfter = sacd
	}
	for i, s := range b.Services {
		g.Services = append(g.Services, d.service(fmt.Sprintf("%s.services[%d]", path, i), s))
	}
	for i, t := range b.Tasks {
		g.Tasks = append(g.Tasks, d.task(fmt.Sprintf("%s.tasks[%d]", path, i), t, g, inherit))
	}
	return g
}

func (d *decoder) task(path string, b *taskBlock, g *api.TaskGroup, inherit inherited) *api.Task {
	d.at(path, b.NameRange)
	t := &api.Task{Name: b.Name}
	if isNull(b.Driver) {
		d.errorf(b.DefRange, "Missing required argument; task %q needs a driver", b.Name)
	}
	d.str(b.Driver, &t.Driver)
	d.atExpr(path+".driver", b.Driver)
	set(&t.User, b.User)
	setb(&t.Leader, b.Leader)
	set(&t.KillSignal, b.KillSignal)
	d.dur(b.KillTimeout, &t.KillTimeout)
	d.dur(b.ShutdownDelay, &t.ShutdownDelay)
	t.Env = d.meta(b.EnvAttr, b.Env)
	t.Meta = d.meta(b.MetaAttr, b.Meta)
	switch len(b.Config) {
	case 0:
	case 1:
		t.Config = d.freeform(b.Config[0].Body)
		d.at(path+".config", b.Config[0].DefRange)
		if syn := d.bodies[syntaxRange(b.Config[0].Body)]; syn != nil {
			for name, a := range syn.Attributes {
				d.at(path+".config."+d.quoted.name(name), a.NameRange)
			}
			for _, blk := range syn.Blocks {
				d.at(path+".config."+blk.Type, blk.TypeRange)
			}
		}
	default:
		d.errorf(b.DefRange, "only one config block is allowed in a task")
	}
	if r := b.Resources; r != nil {
		d.at(path+".resources", r.DefRange)
		t.Resources = &api.Resources{}
		for _, f := range []struct {
			expr hcl.Expression
			dst  *int
			name string
		}{{r.CPU, &t.Resources.CPU, "cpu"}, {r.Memory, &t.Resources.MemoryMB, "memory"}, {r.MemoryMax, &t.Resources.MemoryMax, "memory_max"}, {r.Cores, &t.Resources.Cores, "cores"}} {
			if d.intv(f.expr, f.dst) && *f.dst == 0 && f.name != "memory_max" {
				// Zero would read as "not set" and take the default
				// (memory_max's zero is its default: no maximum; its -1
				// is no limit at all, as in Nomad).
				*f.dst = -1
			}
			d.atExpr(path+".resources."+f.name, f.expr)
		}
		d.intv(r.Disk, &t.Resources.DiskMB)
		d.atExpr(path+".resources.disk", r.Disk)
		if !isNull(r.IOPS) {
			d.warnf(r.IOPS.Range(), "resources.iops is ignored, as in Nomad since 0.9")
		}
		for i, dev := range r.Devices {
			dp := fmt.Sprintf("%s.resources.devices[%d]", path, i)
			d.at(dp, dev.DefRange)
			rd := &api.RequestedDevice{Name: dev.Name, Count: 1}
			d.intv(dev.Count, &rd.Count)
			d.atExpr(dp+".count", dev.Count)
			rd.Constraints = d.constraints(dp+".constraints", dev.Constraints)
			rd.Affinities = d.affinities(dp+".affinities", dev.Affinities)
			for _, fa := range dev.FirstAvailable {
				rd.FirstAvailable = append(rd.FirstAvailable, d.freeform(fa.Body))
			}
			t.Resources.Devices = append(t.Resources.Devices, rd)
		}
		if r.NUMA != nil {
			d.warnf(r.NUMA.DefRange, "the numa block is ignored: tasks are not pinned to NUMA nodes")
		}
		for _, n := range r.Networks {
			d.legacyNetwork(path, n, g)
		}
	}
	if l := b.Lifecycle; l != nil {
		d.at(path+".lifecycle", l.DefRange)
		t.Lifecycle = &api.Lifecycle{}
		d.str(l.Hook, &t.Lifecycle.Hook)
		d.atExpr(path+".lifecycle.hook", l.Hook)
		setb(&t.Lifecycle.Sidecar, l.Sidecar)
	}
	if l := b.Logs; l != nil {
		d.at(path+".logs", l.DefRange)
		t.Logs = &api.LogConfig{MaxFiles: 10, MaxFileSizeMB: 10}
		d.intv(l.MaxFiles, &t.Logs.MaxFiles)
		d.atExpr(path+".logs.max_files", l.MaxFiles)
		d.intv(l.MaxFileSize, &t.Logs.MaxFileSizeMB)
		d.atExpr(path+".logs.max_file_size", l.MaxFileSize)
		setb(&t.Logs.Disabled, l.Disabled)
		if l.Enabled != nil {
			t.Logs.Disabled = !*l.Enabled
		}
	}
	if b.Restart != nil {
		// A task's restart block is its group's with what it sets.
		base := g.Restart
		if base == nil {
			base = api.DefaultRestart(inherit.jobType) // "": a service job's
		}
		t.Restart = d.restartOver(path+".restart", b.Restart, *base)
	}
	d.taskExtras(path, b, t, inherit)
	if b.Dispatch != nil {
		d.at(path+".dispatch_payload", b.Dispatch.DefRange)
		t.DispatchPayload = &api.DispatchPayload{File: b.Dispatch.File}
	}
	t.Constraints = d.constraints(path+".constraints", b.Constraints)
	t.Affinities = d.affinities(path+".affinities", b.Affinities)
	for i, s := range b.Services {
		t.Services = append(t.Services, d.service(fmt.Sprintf("%s.services[%d]", path, i), s))
	}
	for i, a := range b.Artifacts {
		d.at(fmt.Sprintf("%s.artifacts[%d]", path, i), a.DefRange)
		art := &api.Artifact{Source: a.Source}
		set(&art.Destination, a.Destination)
		set(&art.Mode, a.Mode)
		setb(&art.Chown, a.Chown)
		if len(a.Options) > 0 {
			art.Options = d.meta(nil, a.Options)
		}
		if len(a.Headers) > 0 {
			art.Headers = d.meta(nil, a.Headers)
		}
		t.Artifacts = append(t.Artifacts, art)
	}
	for i, tb := range b.Templates {
		tp := fmt.Sprintf("%s.templates[%d]", path, i)
		d.at(tp, tb.DefRange)
		tpl := &api.Template{Destination: tb.Destination}
		set(&tpl.Data, tb.Data)
		set(&tpl.Source, tb.Source)
		set(&tpl.ChangeSignal, tb.ChangeSignal)
		set(&tpl.Perms, tb.Perms)
		set(&tpl.LeftDelim, tb.LeftDelim)
		set(&tpl.RightDelim, tb.RightDelim)
		setb(&tpl.Env, tb.Env)
		d.str(tb.ChangeMode, &tpl.ChangeMode)
		d.atExpr(tp+".change_mode", tb.ChangeMode)
		d.dur(tb.Splay, &tpl.Splay)
		for _, id := range []struct {
			expr hcl.Expression
			dst  **int
			name string
		}{{tb.UID, &tpl.UID, "uid"}, {tb.GID, &tpl.GID, "gid"}} {
			var n int
			if d.intv(id.expr, &n) {
				*id.dst = &n
			}
			d.atExpr(tp+"."+id.name, id.expr)
		}
		if w := tb.Wait; w != nil {
			tpl.Wait = &api.TemplateWait{}
			d.dur(w.Min, &tpl.Wait.Min)
			d.dur(w.Max, &tpl.Wait.Max)
		}
		setb(&tpl.ErrMissingKey, tb.ErrMissingKey)
		setb(&tpl.Once, tb.Once)
		if cs := tb.ChangeScript; cs != nil {
			tpl.ChangeScript = &api.ChangeScript{Command: cs.Command, Args: cs.Args}
			d.dur(cs.Timeout, &tpl.ChangeScript.Timeout)
			setb(&tpl.ChangeScript.FailOnError, cs.FailOnError)
		}
		if !isNull(tb.VaultGrace) {
			d.warnf(tb.VaultGrace.Range(), "vault_grace is ignored, as in Nomad since 0.11")
		}
		t.Templates = append(t.Templates, tpl)
	}
	for i, vm := range b.VolumeMounts {
		d.at(fmt.Sprintf("%s.volume_mounts[%d]", path, i), vm.DefRange)
		mp := fmt.Sprintf("%s.volume_mounts[%d]", path, i)
		m := &api.VolumeMount{Volume: vm.Volume, Destination: vm.Destination}
		setb(&m.ReadOnly, vm.ReadOnly)
		d.str(vm.SELinuxLabel, &m.SELinuxLabel)
		d.atExpr(mp+".selinux_label", vm.SELinuxLabel)
		d.str(vm.PropagationMode, &m.PropagationMode)
		d.atExpr(mp+".propagation_mode", vm.PropagationMode)
		t.VolumeMounts = append(t.VolumeMounts, m)
	}
	return t
}

// shortForms are Nomad's one-attribute constraint and affinity forms, such
// as regexp = "..." for operator = "regexp", value = "...".
func shortForms(regexp, setContains, setContainsAny, version, semver *string) (op, value string, n int) {
	for _, s := range []struct {
		op  string
		val *string
	}{{api.ConstraintRegex, regexp}, {api.ConstraintSetContains, setContains}, {api.ConstraintSetContainsAny, setContainsAny},
		{api.ConstraintVersion, version}, {api.ConstraintSemver, semver}} {
		if s.val != nil {
			op, value, n = s.op, *s.val, n+1
		}
	}
	return op, value, n
}

// operatorAlias maps Nomad's other spellings of constraint operators
// ("==", "is", "not") to the ones nomadic stores.
func operatorAlias(op string) string {
	switch op {
	case "==", "is":
		return api.ConstraintEqual
	case "not":
		return api.ConstraintNotEqual
	}
	return op
}

func (d *decoder) constraints(path string, blocks []*constraintBlock) []*api.Constraint {
	var out []*api.Constraint
	for _, b := range blocks {
		p := fmt.Sprintf("%s[%d]", path, len(out))
		c := &api.Constraint{Operator: api.ConstraintEqual}
		set(&c.Attribute, b.Attribute)
		set(&c.Value, b.Value)
		d.str(b.Operator, &c.Operator)
		c.Operator = operatorAlias(c.Operator)
		op, val, short := shortForms(b.Regexp, b.SetContains, b.SetContainsAny, b.Version, b.Semver)
		if short > 0 {
			c.Operator, c.Value = op, val
		}
		if b.DistinctHosts != nil {
			short++
			if !*b.DistinctHosts {
				continue
			}
			c.Operator = api.ConstraintDistinctHosts
		}
		if b.DistinctProperty != nil {
			short++
			c.Operator, c.Attribute = api.ConstraintDistinctProperty, *b.DistinctProperty
		}
		if short > 1 || (short == 1 && !isNull(b.Operator)) {
			d.errorf(b.DefRange, "a constraint has one operator: use operator = ..., or one short form such as distinct_hosts")
			continue
		}
		d.at(p, b.DefRange)
		d.atExpr(p+".operator", b.Operator)
		out = append(out, c)
	}
	return out
}

func (d *decoder) affinities(path string, blocks []*affinityBlock) []*api.Affinity {
	var out []*api.Affinity
	for i, b := range blocks {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.at(p, b.DefRange)
		a := &api.Affinity{Operator: api.ConstraintEqual, Weight: 50}
		set(&a.Attribute, b.Attribute)
		set(&a.Value, b.Value)
		d.str(b.Operator, &a.Operator)
		a.Operator = operatorAlias(a.Operator)
		d.atExpr(p+".operator", b.Operator)
		if op, val, short := shortForms(b.Regexp, b.SetContains, b.SetContainsAny, b.Version, b.Semver); short > 0 {
			a.Operator, a.Value = op, val
		}
		d.intv(b.Weight, &a.Weight)
		d.atExpr(p+".weight", b.Weight)
		out = append(out, a)
	}
	return out
}

func (d *decoder) spreads(path string, blocks []*spreadBlock) []*api.Spread {
	var out []*api.Spread
	for i, b := range blocks {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.at(p, b.DefRange)
		s := &api.Spread{Attribute: b.Attribute, Weight: 50}
		d.intv(b.Weight, &s.Weight)
		d.atExpr(p+".weight", b.Weight)
		for ti, t := range b.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, ti)
			d.at(tp, t.DefRange)
			tgt := api.SpreadTarget{Value: t.Value}
			d.intv(t.Percent, &tgt.Percent)
			d.atExpr(tp+".percent", t.Percent)
			s.Targets = append(s.Targets, tgt)
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) update(path string, b *updateBlock) *api.UpdateStrategy {
	if b == nil {
		return nil
	}
	d.at(path, b.DefRange)
	u := api.DefaultUpdate()
	for name, f := range map[string]struct {
		expr hcl.Expression
		dst  *int
	}{"max_parallel": {b.MaxParallel, &u.MaxParallel}, "canary": {b.Canary, &u.Canary}} {
		d.intv(f.expr, f.dst)
		d.atExpr(path+"."+name, f.expr)
	}
	d.str(b.HealthCheck, &u.HealthCheck)
	d.atExpr(path+".health_check", b.HealthCheck)
	for name, f := range map[string]struct {
		expr hcl.Expression
		dst  *api.Duration
	}{"min_healthy_time": {b.MinHealthyTime, &u.MinHealthyTime}, "healthy_deadline": {b.HealthyDeadline, &u.HealthyDeadline},
		"progress_deadline": {b.ProgressDeadline, &u.ProgressDeadline}, "stagger": {b.Stagger, &u.Stagger}} {
		d.dur(f.expr, f.dst)
		d.atExpr(path+"."+name, f.expr)
	}
	setb(&u.AutoRevert, b.AutoRevert)
	setb(&u.AutoPromote, b.AutoPromote)
	return u
}

func (d *decoder) migrate(path string, b *migrateBlock) *api.MigrateStrategy {
	if b == nil {
		return nil
	}
	d.at(path, b.DefRange)
	m := api.DefaultMigrate()
	d.intv(b.MaxParallel, &m.MaxParallel)
	d.atExpr(path+".max_parallel", b.MaxParallel)
	d.str(b.HealthCheck, &m.HealthCheck)
	d.atExpr(path+".health_check", b.HealthCheck)
	d.dur(b.MinHealthyTime, &m.MinHealthyTime)
	d.dur(b.HealthyDeadline, &m.HealthyDeadline)
	return m
}

func (d *decoder) reschedule(path string, b *rescheduleBlock) *api.ReschedulePolicy {
	if b == nil {
		return nil
	}
	d.at(path, b.DefRange)
	r := &api.ReschedulePolicy{}
	d.intv(b.Attempts, &r.Attempts)
	d.atExpr(path+".attempts", b.Attempts)
	d.dur(b.Interval, &r.Interval)
	d.dur(b.Delay, &r.Delay)
	d.dur(b.MaxDelay, &r.MaxDelay)
	d.atExpr(path+".max_delay", b.MaxDelay)
	d.str(b.DelayFunction, &r.DelayFunction)
	d.atExpr(path+".delay_function", b.DelayFunction)
	setb(&r.Unlimited, b.Unlimited)
	return r
}

func (d *decoder) restart(path string, b *restartBlock) *api.RestartPolicy {
	if b == nil {
		return nil
	}
	return d.restartOver(path, b, api.RestartPolicy{})
}

// restartOver decodes a restart block over base: what the block does not
// set stays base's.
func (d *decoder) restartOver(path string, b *restartBlock, base api.RestartPolicy) *api.RestartPolicy {
	d.at(path, b.DefRange)
	r := &base
	d.intv(b.Attempts, &r.Attempts)
	d.atExpr(path+".attempts", b.Attempts)
	d.dur(b.Interval, &r.Interval)
	d.dur(b.Delay, &r.Delay)
	d.str(b.Mode, &r.Mode)
	d.atExpr(path+".mode", b.Mode)
	setb(&r.RenderTemplates, b.RenderTemplates)
	return r
}

func (d *decoder) periodic(path string, b *periodicBlock) *api.PeriodicConfig {
	if b == nil {
		return nil
	}
	d.at(path, b.DefRange)
	p := &api.PeriodicConfig{Enabled: true}
	var one string
	if d.str(b.Cron, &one) {
		p.Crons = append(p.Crons, one)
		d.atExpr(path+".crons[0]", b.Cron)
	}
	if !isNull(b.Crons) {
		for i, c := range d.strs(b.Crons) {
			p.Crons = append(p.Crons, c)
			d.at(fmt.Sprintf("%s.crons[%d]", path, len(p.Crons)-1), b.Crons.Range())
			_ = i
		}
	}
	d.str(b.TimeZone, &p.TimeZone)
	d.atExpr(path+".time_zone", b.TimeZone)
	setb(&p.ProhibitOverlap, b.ProhibitOverlap)
	setb(&p.Enabled, b.Enabled)
	return p
}

func (d *decoder) network(path string, b *networkBlock) *api.Network {
	d.at(path, b.DefRange)
	n := &api.Network{}
	d.str(b.Mode, &n.Mode)
	d.atExpr(path+".mode", b.Mode)
	set(&n.Hostname, b.Hostname)
	d.intv(b.MBits, &n.MBits)
	if dns := b.DNS; dns != nil {
		n.DNS = &api.DNSConfig{Servers: dns.Servers, Searches: dns.Searches, Options: dns.Options}
	}
	if b.CNI != nil {
		n.CNIArgs = b.CNI.Args
	}
	for i, p := range b.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", path, i)
		d.at(pp, p.NameRange)
		port := api.Port{Label: p.Label}
		d.intv(p.Static, &port.Static)
		d.atExpr(pp+".static", p.Static)
		d.intv(p.To, &port.To)
		d.atExpr(pp+".to", p.To)
		set(&port.HostNetwork, p.HostNetwork)
		if p.IgnoreCollision != nil && *p.IgnoreCollision {
			d.warnf(p.DefRange, "ignore_collision is ignored: ports are given once per node")
		}
		n.Ports = append(n.Ports, port)
	}
	return n
}

func (d *decoder) service(path string, b *serviceBlock) *api.Service {
	d.at(path, b.DefRange)
	s := &api.Service{Tags: b.Tags}
	set(&s.Name, b.Name)
	set(&s.Address, b.Address)
	s.Meta = d.meta(b.MetaAttr, b.Meta)
	d.str(b.Provider, &s.Provider)
	d.atExpr(path+".provider", b.Provider)
	d.str(b.AddressMode, &s.AddressMode)
	d.atExpr(path+".address_mode", b.AddressMode)
	s.Port = d.portRef(b.Port)
	d.atExpr(path+".port", b.Port)
	s.CanaryTags = b.CanaryTags
	s.CanaryMeta = d.meta(b.CanaryMetaAttr, b.CanaryMeta)
	setb(&s.EnableTagOverride, b.EnableTagOverride)
	s.TaggedAddresses = d.meta(b.TaggedAddressesAttr, b.TaggedAddresses) // a map or a block, as Nomad reads it
	d.str(b.OnUpdate, &s.OnUpdate)
	d.atExpr(path+".on_update", b.OnUpdate)
	s.CheckRestart = d.checkRestart(path+".check_restart", b.CheckRestart)
	if c := b.Connect; c != nil {
		d.at(path+".connect", c.DefRange)
		s.Connect = d.connect(c)
	}
	for i, c := range b.Checks {
		cp := fmt.Sprintf("%s.checks[%d]", path, i)
		d.at(cp, c.DefRange)
		ck := &api.ServiceCheck{}
		set(&ck.Name, c.Name)
		set(&ck.Path, c.Path)
		set(&ck.Method, c.Method)
		set(&ck.Protocol, c.Protocol)
		set(&ck.Command, c.Command)
		set(&ck.Task, c.Task)
		ck.Args = c.Args
		ck.Header = c.Header
		d.str(c.Type, &ck.Type)
		d.atExpr(cp+".type", c.Type)
		d.dur(c.Interval, &ck.Interval)
		d.atExpr(cp+".interval", c.Interval)
		d.dur(c.Timeout, &ck.Timeout)
		d.atExpr(cp+".timeout", c.Timeout)
		d.intv(c.ExpectedStatus, &ck.ExpectedStatus)
		d.atExpr(cp+".expected_status", c.ExpectedStatus)
		ck.Port = d.portRef(c.Port)
		d.atExpr(cp+".port", c.Port)
		if len(c.HeaderBlocks) > 0 {
			if ck.Header == nil {
				ck.Header = map[string][]string{}
			}
			for _, hb := range c.HeaderBlocks {
				for name, a := range d.kvAttrs(hb) {
					ck.Header[d.quoted.name(name)] = d.strs(a.Expr)
				}
			}
		}
		set(&ck.Body, c.Body)
		for _, f := range []struct {
			expr hcl.Expression
			dst  *string
			name string
		}{{c.AddressMode, &ck.AddressMode, "address_mode"}, {c.InitialStatus, &ck.InitialStatus, "initial_status"}, {c.OnUpdate, &ck.OnUpdate, "on_update"}} {
			d.str(f.expr, f.dst)
			d.atExpr(cp+"."+f.name, f.expr)
		}
		for _, f := range []struct {
			expr hcl.Expression
			dst  *int
			name string
		}{{c.SuccessBeforePassing, &ck.SuccessBeforePassing, "success_before_passing"}, {c.FailuresBeforeCritical, &ck.FailuresBeforeCritical, "failures_before_critical"}, {c.FailuresBeforeWarning, &ck.FailuresBeforeWarning, "failures_before_warning"}} {
			d.intv(f.expr, f.dst)
			d.atExpr(cp+"."+f.name, f.expr)
		}
		setb(&ck.Expose, c.Expose)
		setb(&ck.TLSSkipVerify, c.TLSSkipVerify)
		set(&ck.TLSServerName, c.TLSServerName)
		set(&ck.GRPCService, c.GRPCService)
		setb(&ck.GRPCUseTLS, c.GRPCUseTLS)
		ck.CheckRestart = d.checkRestart(cp+".check_restart", c.CheckRestart)
		s.Checks = append(s.Checks, ck)
	}
	return s
}

// portRef reads a service or check port: a label or a number.
func (d *decoder) portRef(expr hcl.Expression) string {
	if isNull(expr) {
		return ""
	}
	v, diags := expr.Value(d.ctx)
	d.add(diags)
	if diags.HasErrors() || v.IsNull() {
		return ""
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || !sv.IsKnown() {
		d.errorf(expr.Range(), "port must be a port label or a number")
		return ""
	}
	return sv.AsString()
}
