package api

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// ValidName reports whether s may name a job, group or task: 1 to 128
// letters, digits, '_', '.' or '-', starting with a letter or digit.
func ValidName(s string) bool { return namePattern.MatchString(s) }

var serviceNamePattern = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$`)

var portLabelPattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

// CronSchedule is a parsed cron expression.
type CronSchedule interface {
	// Next is the first time after t that the expression matches; the
	// zero time when it never will.
	Next(t time.Time) time.Time
}

// ParseCron parses the cron expression of a periodic job as Nomad does:
// five fields (minute to day of week), six (and a year), or seven (a
// leading second, and a year); "?", "L", "W" and "#" as in Quartz; and
// @yearly, @monthly, @weekly, @daily, @hourly.
func ParseCron(expr string) (CronSchedule, error) {
	e, err := cronexpr.Parse(expr)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Problem is one thing wrong with a job: where (a field path such as
// "groups[0].tasks[1].resources.memory") and what.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in a job.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	if len(parts) == 1 {
		return "invalid job: " + parts[0]
	}
	return "invalid job:\n  " + strings.Join(parts, "\n  ")
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// validator collects problems while it walks a job.
type validator struct {
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(path, what, got string, allowed ...string) {
	if got == "" {
		return
	}
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.add(path, "%s %q is not one of %s", what, got, strings.Join(allowed, ", "))
}

func (v *validator) nonNegative(path string, d Duration) {
	if d < 0 {
		v.add(path, "must not be negative")
	}
}

// Validate checks a canonicalized job and returns every problem found, each
// naming the field it is about. The servers call it on every submission;
// job files are checked by the same code, with the paths turned into
// file positions.
func (j *Job) Validate() error {
	v := &validator{}
	if j.ID == "" {
		v.add("id", "job id is required")
	} else if !namePattern.MatchString(j.ID) {
		v.add("id", "job id %q must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit", j.ID)
	}
	if j.Namespace != "" && !namePattern.MatchString(j.Namespace) {
		v.add("namespace", "namespace %q is not a valid name", j.Namespace)
	}
	v.oneOf("type", "job type", j.Type, JobTypeService, JobTypeBatch, JobTypeSystem, JobTypeSysbatch)
	if j.Priority < 1 || j.Priority > 100 {
		v.add("priority", "priority must be between 1 and 100")
	}
	for i, dc := range j.Datacenters {
		if dc == "" {
			v.add(fmt.Sprintf("datacenters[%d]", i), "datacenter must not be empty")
		}
	}
	v.constraints("constraints", j.Constraints)
	v.affinities("affinities", j.Affinities)
	v.spreads("spreads", j.Spreads)
	v.update("update", j.Update)
	v.migrate("migrate", j.Migrate)
	v.reschedule("reschedule", j.Reschedule)
	if p := j.Periodic; p != nil {
		if j.Type != JobTypeBatch && j.Type != JobTypeSysbatch {
			v.add("periodic", "periodic jobs must be of type batch or sysbatch, not %s", j.Type)
		}
		if len(p.Crons) == 0 {
			v.add("periodic", "periodic needs cron or crons")
		}
		for i, c := range p.Crons {
			if _, err := ParseCron(c); err != nil {
				v.add(fmt.Sprintf("periodic.crons[%d]", i), "cron expression %q does not parse: %v", c, err)
			}
		}
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				v.add("periodic.time_zone", "unknown time zone %q", p.TimeZone)
			}
		}
	}
	if p := j.Parameterized; p != nil {
		v.oneOf("parameterized.payload", "payload", p.Payload, "optional", "required", "forbidden")
		if j.Type != JobTypeBatch && j.Type != JobTypeSysbatch {
			v.add("parameterized", "parameterized jobs must be of type batch or sysbatch, not %s", j.Type)
		}
	}
	if len(j.Groups) == 0 {
		v.add("", "job %q has no group", j.ID)
	}
	groups := map[string]int{}
	for gi, g := range j.Groups {
		path := fmt.Sprintf("groups[%d]", gi)
		if g == nil {
			v.add(path, "group is empty")
			continue
		}
		if g.Name == "" {
			v.add(path, "group name is required")
		} else if !namePattern.MatchString(g.Name) {
			v.add(path, "group name %q is not a valid name", g.Name)
		}
		if first, dup := groups[g.Name]; dup {
			v.add(path, "group %q is defined twice (groups[%d] and groups[%d])", g.Name, first, gi)
		} else {
			groups[g.Name] = gi
		}
		v.group(path, j, g)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func (v *validator) group(path string, j *Job, g *TaskGroup) {
	if g.Count < 0 {
		v.add(path+".count", "count %d must not be negative", g.Count)
	} else if g.Count > MaxCount {
		v.add(path+".count", "count %d is over the limit of %d allocations a group may ask for (servers' -max-count)", g.Count, MaxCount)
	}
	v.constraints(path+".constraints", g.Constraints)
	v.affinities(path+".affinities", g.Affinities)
	v.spreads(path+".spreads", g.Spreads)
	v.update(path+".update", g.Update)
	v.migrate(path+".migrate", g.Migrate)
	v.reschedule(path+".reschedule", g.Reschedule)
	if r := g.Restart; r != nil {
		if r.Attempts < 0 {
			v.add(path+".restart.attempts", "attempts must not be negative")
		}
		v.oneOf(path+".restart.mode", "restart mode", r.Mode, "fail", "delay")
		v.nonNegative(path+".restart.interval", r.Interval)
		v.nonNegative(path+".restart.delay", r.Delay)
	}
	v.nonNegative(path+".shutdown_delay", g.ShutdownDelay)
	if d := g.EphemeralDisk; d != nil && d.SizeMB < 0 {
		v.add(path+".ephemeral_disk.size", "size must be a positive number of MB")
	}
	ports := map[string]bool{}
	if n := g.Network; n != nil {
		if n.Mode != "" && n.Mode != "host" && n.Mode != "bridge" && n.Mode != "none" && !strings.HasPrefix(n.Mode, "cni/") {
			v.add(path+".network.mode", "network mode %q is not one of host, bridge, none or cni/<name>", n.Mode)
		}
		for pi, p := range n.Ports {
			pp := fmt.Sprintf("%s.network.ports[%d]", path, pi)
			if !portLabelPattern.MatchString(p.Label) {
				v.add(pp, "port label %q must be a letter or '_' followed by letters, digits, '_' or '-'", p.Label)
			}
			if ports[p.Label] {
				v.add(pp, "port %q is defined twice", p.Label)
			}
			ports[p.Label] = true
			if p.Static < 0 || p.Static > 65535 {
				v.add(pp+".static", "static port %d must be between 1 and 65535", p.Static)
			}
			if p.To < -1 || p.To > 65535 {
				v.add(pp+".to", "to %d must be between -1 and 65535", p.To)
			}
		}
	}
	for name, vol := range g.Volumes {
		vp := path + ".volumes." + name
		if vol == nil {
			continue
		}
		switch vol.Type {
		case "host", "csi": // a CSI volume is not placed (the scheduler says why)
		default:
			v.add(vp+".type", "volume type %q is not supported: only host volumes are", vol.Type)
		}
		if vol.Source == "" {
			v.add(vp+".source", "a volume needs a source")
		}
	}
	if sc := g.Scaling; sc != nil {
		switch {
		case sc.Min < 0:
			v.add(path+".scaling.min", "scaling min %d must not be negative", sc.Min)
		case sc.Max < sc.Min:
			v.add(path+".scaling.max", "scaling max %d must not be below min %d", sc.Max, sc.Min)
		case g.Count < sc.Min || g.Count > sc.Max:
			v.add(path+".count", "count %d is outside the scaling bounds %d to %d", g.Count, sc.Min, sc.Max)
		}
	}
	if d := g.Disconnect; d != nil {
		v.nonNegative(path+".disconnect.lost_after", d.LostAfter)
		v.nonNegative(path+".disconnect.stop_after", d.StopAfter)
		v.oneOf(path+".disconnect.reconcile", "reconcile", d.Reconcile, "best_score", "keep_original", "keep_replacement", "longest_running")
	}
	for _, s := range g.Services {
		if s != nil && s.Connect.Mesh() != "" {
			// Nomad allocates the ports of sidecars and gateways itself
			// (connect-proxy-<service>, connect-mesh-<service>-lan, …);
			// checks may name them. Such a group is not placed anyway.
			ports[meshPorts] = true
		}
	}
	for si, s := range g.Services {
		v.service(fmt.Sprintf("%s.services[%d]", path, si), s, ports, g)
		if s != nil && s.Connect != nil && s.Connect.SidecarService != nil {
			// As Nomad's registration refuses it: the sidecar proxy
			// shares the allocation's network namespace.
			switch {
			case g.Network == nil:
				v.add(fmt.Sprintf("%s.services[%d].connect", path, si), "a Consul Connect sidecar needs the group's network block in bridge mode (group %q has none)", g.Name)
			case g.Network.Mode != "bridge" && !strings.HasPrefix(g.Network.Mode, "cni/"):
				v.add(fmt.Sprintf("%s.services[%d].connect", path, si), "a Consul Connect sidecar needs the group's network in bridge mode, not %q", g.Network.Mode)
			}
		}
	}
	if len(g.Tasks) == 0 && !hasGateway(g) {
		// (Nomad adds a gateway's proxy task itself; such a group is
		// not placed here, for want of a service mesh.)
		v.add(path, "group %q has no task", g.Name)
	}
	tasks := map[string]int{}
	leaders := 0
	for ti, t := range g.Tasks {
		tp := fmt.Sprintf("%s.tasks[%d]", path, ti)
		if t == nil {
			v.add(tp, "task is empty")
			continue
		}
		if t.Name == "" {
			v.add(tp, "task name is required")
		} else if !namePattern.MatchString(t.Name) {
			v.add(tp, "task name %q is not a valid name", t.Name)
		}
		if first, dup := tasks[t.Name]; dup {
			v.add(tp, "task %q is defined twice in group %q (tasks[%d] and tasks[%d])", t.Name, g.Name, first, ti)
		} else {
			tasks[t.Name] = ti
		}
		if t.Leader {
			leaders++
		}
		v.task(tp, t, ports, g)
	}
	if leaders > 1 {
		v.add(path, "only one task of group %q may be the leader", g.Name)
	}
}

func (v *validator) task(path string, t *Task, ports map[string]bool, g *TaskGroup) {
	if t.Driver == "" {
		v.add(path+".driver", "driver is required")
	}
	if r := t.Resources; r != nil {
		for _, f := range []struct {
			name string
			val  int
		}{{"cpu", r.CPU}, {"memory", r.MemoryMB}, {"memory_max", r.MemoryMax}, {"cores", r.Cores}} {
			if f.val < 0 && !(f.name == "memory_max" && f.val == MemoryUnlimited) {
				v.add(path+".resources."+f.name, "%s must be a positive number", f.name)
			}
		}
		if r.MemoryMax > 0 && r.MemoryMax < r.MemoryMB {
			v.add(path+".resources.memory_max", "memory_max %d must not be below memory %d", r.MemoryMax, r.MemoryMB)
		}
		if r.Cores > 0 && r.CPU > 0 {
			v.add(path+".resources.cores", "cpu and cores cannot both be set")
		}
		for di, dev := range r.Devices {
			dp := fmt.Sprintf("%s.resources.devices[%d]", path, di)
			if dev.Name == "" {
				v.add(dp, "a device request needs a name such as \"gpu\" or \"nvidia/gpu\"")
			}
			if dev.Count < 1 {
				v.add(dp+".count", "device count %d must be at least 1", dev.Count)
			}
			v.constraints(dp+".constraints", dev.Constraints)
			v.affinities(dp+".affinities", dev.Affinities)
		}
	}
	v.nonNegative(path+".kill_timeout", t.KillTimeout)
	v.nonNegative(path+".shutdown_delay", t.ShutdownDelay)
	if l := t.Lifecycle; l != nil {
		if l.Hook == "" {
			v.add(path+".lifecycle.hook", "lifecycle needs a hook: prestart, poststart or poststop")
		}
		v.oneOf(path+".lifecycle.hook", "lifecycle hook", l.Hook, "prestart", "poststart", "poststop")
	}
	if l := t.Logs; l != nil {
		if l.MaxFiles < 1 {
			v.add(path+".logs.max_files", "max_files must be at least 1")
		}
		if l.MaxFileSizeMB < 1 {
			v.add(path+".logs.max_file_size", "max_file_size must be at least 1 (MB)")
		}
	}
	v.constraints(path+".constraints", t.Constraints)
	v.affinities(path+".affinities", t.Affinities)
	for si, s := range t.Services {
		v.service(fmt.Sprintf("%s.services[%d]", path, si), s, ports, g)
	}
	for ai, a := range t.Artifacts {
		ap := fmt.Sprintf("%s.artifacts[%d]", path, ai)
		if a.Source == "" {
			v.add(ap+".source", "an artifact needs a source")
		}
		v.oneOf(ap+".mode", "artifact mode", a.Mode, "any", "file", "dir")
		if escapesDir(t.Name, a.Destination) {
			v.add(ap+".destination", "artifact destination %q leaves the task directory (and the allocation's alloc/ directory)", a.Destination)
		}
	}
	for ti, tpl := range t.Templates {
		tp := fmt.Sprintf("%s.templates[%d]", path, ti)
		if tpl.Data == "" && tpl.Source == "" {
			v.add(tp, "a template needs data or source")
		}
		if tpl.Destination == "" {
			v.add(tp+".destination", "a template needs a destination")
		}
		if escapesDir(t.Name, tpl.Destination) {
			v.add(tp+".destination", "template destination %q leaves the task directory (and the allocation's alloc/ directory)", tpl.Destination)
		}
		if tpl.Perms != "" {
			if n, err := strconv.ParseUint(tpl.Perms, 8, 32); err != nil || n > 0o7777 {
				v.add(tp+".perms", "perms %q is not an octal file mode such as \"0644\"", tpl.Perms)
			}
		}
		if tpl.ChangeMode == "script" && (tpl.ChangeScript == nil || tpl.ChangeScript.Command == "") {
			v.add(tp+".change_script", "change_mode \"script\" needs a change_script with a command")
		}
		if w := tpl.Wait; w != nil && w.Max > 0 && w.Max < w.Min {
			v.add(tp+".wait.max", "wait max must not be below min")
		}
		v.oneOf(tp+".change_mode", "change_mode", tpl.ChangeMode, "noop", "restart", "signal", "script")
		if tpl.ChangeMode == "signal" && tpl.ChangeSignal == "" {
			v.add(tp+".change_signal", "change_mode \"signal\" needs change_signal")
		}
	}
	if dp := t.DispatchPayload; dp != nil {
		if dp.File == "" || strings.Contains(dp.File, "..") || strings.HasPrefix(dp.File, "/") {
			v.add(path+".dispatch_payload.file", "dispatch_payload file %q must be a relative path inside local/", dp.File)
		}
	}
	for mi, m := range t.VolumeMounts {
		mp := fmt.Sprintf("%s.volume_mounts[%d]", path, mi)
		if g.Volumes[m.Volume] == nil {
			v.add(mp, "volume_mount refers to volume %q, which group %q does not define", m.Volume, g.Name)
		}
		v.oneOf(mp+".selinux_label", "selinux_label", m.SELinuxLabel, "z", "Z")
		v.oneOf(mp+".propagation_mode", "propagation_mode", m.PropagationMode, "private", "host-to-task", "bidirectional")
	}
	for ti, tpl := range t.Templates {
		tp := fmt.Sprintf("%s.templates[%d]", path, ti)
		for name, id := range map[string]*int{"uid": tpl.UID, "gid": tpl.GID} {
			if id != nil && *id < -1 {
				v.add(tp+"."+name, "%s %d must be a user or group id, or -1", name, *id)
			}
		}
		if tpl.ChangeMode == "script" && (tpl.ChangeScript == nil || tpl.ChangeScript.Command == "") {
			v.add(tp+".change_mode", "change_mode \"script\" needs a change_script block with a command")
		}
	}
	if r := t.Restart; r != nil {
		if r.Attempts < 0 {
			v.add(path+".restart.attempts", "attempts must not be negative")
		}
		v.oneOf(path+".restart.mode", "restart mode", r.Mode, "fail", "delay")
	}
	v.nonNegative(path+".max_run_duration", t.MaxRunDuration)
	if vt := t.Vault; vt != nil {
		v.oneOf(path+".vault.change_mode", "change_mode", vt.ChangeMode, "noop", "restart", "signal")
		if vt.ChangeMode == "signal" && vt.ChangeSignal == "" {
			v.add(path+".vault.change_signal", "change_mode \"signal\" needs change_signal")
		}
	}
	idents := map[string]bool{}
	for ii, id := range t.Identities {
		ip := fmt.Sprintf("%s.identities[%d]", path, ii)
		if idents[id.Name] {
			v.add(ip, "identity %q is defined twice", id.Name)
		}
		idents[id.Name] = true
		v.oneOf(ip+".change_mode", "change_mode", id.ChangeMode, "noop", "restart", "signal")
	}
	actions := map[string]bool{}
	for ai, a := range t.Actions {
		ap := fmt.Sprintf("%s.actions[%d]", path, ai)
		switch {
		case a.Name == "":
			v.add(ap, "an action needs a name")
		case actions[a.Name]:
			v.add(ap, "action %q is defined twice", a.Name)
		}
		actions[a.Name] = true
		if a.Command == "" {
			v.add(ap+".command", "action %q needs a command", a.Name)
		}
	}
}

func (v *validator) checkRestart(path string, c *CheckRestart) {
	if c == nil {
		return
	}
	if c.Limit < 0 {
		v.add(path+".limit", "limit must not be negative")
	}
	v.nonNegative(path+".grace", c.Grace)
}

func (v *validator) service(path string, s *Service, ports map[string]bool, g *TaskGroup) {
	if s == nil {
		return
	}
	if s.Name != "" && !serviceNamePattern.MatchString(s.Name) && !strings.Contains(s.Name, "${") {
		v.add(path+".name", "service name %q must be letters, digits and '-' (at most 63)", s.Name)
	}
	switch s.Provider {
	case "", "nomad", "nomadic", "consul":
	default:
		v.add(path+".provider", "service provider %q is not supported: use \"nomad\" (the built-in catalog)", s.Provider)
	}
	v.oneOf(path+".address_mode", "address_mode", s.AddressMode, "auto", "host", "driver", "alloc")
	v.oneOf(path+".on_update", "on_update", s.OnUpdate, "require_healthy", "ignore_warnings", "ignore")
	v.checkRestart(path+".check_restart", s.CheckRestart)
	v.portRef(path+".port", s.Port, ports)
	tasks := map[string]bool{}
	for _, t := range g.Tasks {
		if t != nil {
			tasks[t.Name] = true
		}
	}
	for ci, c := range s.Checks {
		cp := fmt.Sprintf("%s.checks[%d]", path, ci)
		if c.Type == "" {
			v.add(cp+".type", "a check needs a type: http, tcp, script or grpc")
		}
		v.oneOf(cp+".type", "check type", c.Type, "http", "tcp", "script", "grpc")
		if c.Interval <= 0 {
			v.add(cp+".interval", "check interval must be positive")
		}
		if c.Timeout <= 0 {
			v.add(cp+".timeout", "check timeout must be positive")
		}
		if c.ExpectedStatus != 0 && (c.ExpectedStatus < 100 || c.ExpectedStatus > 599) {
			v.add(cp+".expected_status", "expected_status %d is not an HTTP status code", c.ExpectedStatus)
		}
		v.portRef(cp+".port", c.Port, ports)
		v.oneOf(cp+".address_mode", "address_mode", c.AddressMode, "host", "driver", "alloc")
		v.oneOf(cp+".initial_status", "initial_status", c.InitialStatus, "passing", "warning", "critical")
		v.oneOf(cp+".on_update", "on_update", c.OnUpdate, "require_healthy", "ignore_warnings", "ignore")
		for _, n := range []struct {
			name string
			val  int
		}{{"success_before_passing", c.SuccessBeforePassing}, {"failures_before_critical", c.FailuresBeforeCritical}, {"failures_before_warning", c.FailuresBeforeWarning}} {
			if n.val < 0 {
				v.add(cp+"."+n.name, "%s must not be negative", n.name)
			}
		}
		v.checkRestart(cp+".check_restart", c.CheckRestart)
		switch c.Type {
		case "http":
			if c.Path == "" {
				v.add(cp+".path", "an http check needs a path")
			}
		case "script":
			if c.Command == "" {
				v.add(cp+".command", "a script check needs a command")
			}
			if c.Task == "" && s.TaskName == "" {
				v.add(cp+".task", "a script check in a group service must name its task")
			} else if c.Task != "" && !tasks[c.Task] {
				v.add(cp+".task", "check runs in task %q, which group %q does not have", c.Task, g.Name)
			}
		}
		if (c.Type == "http" || c.Type == "tcp" || c.Type == "grpc") && c.Port == "" && s.Port == "" {
			v.add(cp, "a %s check needs a port: on the check or on its service", c.Type)
		}
	}
}

// portRef checks a port given as a label of the group's network or as a
// number.
func (v *validator) portRef(path, ref string, ports map[string]bool) {
	if ref == "" || strings.Contains(ref, "${") {
		return
	}
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 1 || n > 65535 {
			v.add(path, "port number %d must be between 1 and 65535", n)
		}
		return
	}
	if !ports[ref] && !(strings.HasPrefix(ref, "connect-") && ports[meshPorts]) {
		v.add(path, "port %q is not defined in the group's network block", ref)
	}
}

// meshPorts marks, in a group's port labels, a group with a sidecar or
// gateway, whose connect-… ports Nomad allocates (no label has a '*').
const meshPorts = "connect-*"

func (v *validator) constraints(path string, cs []*Constraint) {
	for i, c := range cs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if c == nil {
			v.add(p, "constraint is empty")
			continue
		}
		v.rule(p, "constraint", c.Attribute, c.Operator, c.Value, ConstraintOperators)
	}
}

var affinityOperators = []string{
	ConstraintEqual, ConstraintNotEqual, ConstraintGreater, ConstraintGreaterEqual, ConstraintLess, ConstraintLessEqual,
	ConstraintRegex, ConstraintSetContains, ConstraintSetContainsAll, ConstraintSetContainsAny, ConstraintVersion, ConstraintSemver,
}

func (v *validator) affinities(path string, as []*Affinity) {
	for i, a := range as {
		p := fmt.Sprintf("%s[%d]", path, i)
		if a == nil {
			v.add(p, "affinity is empty")
			continue
		}
		v.rule(p, "affinity", a.Attribute, a.Operator, a.Value, affinityOperators)
		if a.Weight == 0 || a.Weight < -100 || a.Weight > 100 {
			v.add(p+".weight", "affinity weight %d must be between -100 and 100, and not 0", a.Weight)
		}
	}
}

func (v *validator) rule(path, what, attr, op, value string, allowed []string) {
	if op == "" {
		op = ConstraintEqual
	}
	v.oneOf(path+".operator", what+" operator", op, allowed...)
	switch op {
	case ConstraintDistinctHosts:
		return
	case ConstraintDistinctProperty, ConstraintIsSet, ConstraintIsNotSet:
		if attr == "" {
			v.add(path+".attribute", "%s with operator %q needs an attribute", what, op)
		}
		return
	}
	if attr == "" {
		v.add(path+".attribute", "%s with operator %q needs an attribute", what, op)
	}
	if value == "" {
		v.add(path+".value", "%s with operator %q needs a value", what, op)
	}
	if op == ConstraintRegex && !strings.Contains(value, "${") {
		if _, err := regexp.Compile(value); err != nil {
			v.add(path+".value", "regexp %q does not compile: %v", value, err)
		}
	}
}

func (v *validator) spreads(path string, ss []*Spread) {
	for i, s := range ss {
		p := fmt.Sprintf("%s[%d]", path, i)
		if s == nil {
			v.add(p, "spread is empty")
			continue
		}
		if s.Attribute == "" {
			v.add(p+".attribute", "spread needs an attribute")
		}
		if s.Weight < 0 || s.Weight > 100 {
			v.add(p+".weight", "spread weight %d must be between 0 and 100", s.Weight)
		}
		sum := 0
		seen := map[string]bool{}
		for ti, t := range s.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, ti)
			if t.Percent < 0 || t.Percent > 100 {
				v.add(tp+".percent", "target percent %d must be between 0 and 100", t.Percent)
			}
			if seen[t.Value] {
				v.add(tp, "spread target %q is defined twice", t.Value)
			}
			seen[t.Value] = true
			sum += t.Percent
		}
		if sum > 100 {
			v.add(p, "spread target percentages add up to %d, over 100", sum)
		}
	}
}

func (v *validator) update(path string, u *UpdateStrategy) {
	if u == nil {
		return
	}
	if u.MaxParallel < 0 {
		v.add(path+".max_parallel", "max_parallel must not be negative")
	}
	if u.Canary < 0 {
		v.add(path+".canary", "canary must not be negative")
	}
	v.oneOf(path+".health_check", "health_check", u.HealthCheck, "checks", "task_states", "manual")
	v.nonNegative(path+".min_healthy_time", u.MinHealthyTime)
	v.nonNegative(path+".healthy_deadline", u.HealthyDeadline)
	v.nonNegative(path+".progress_deadline", u.ProgressDeadline)
	v.nonNegative(path+".stagger", u.Stagger)
	if u.HealthyDeadline > 0 && u.MinHealthyTime >= u.HealthyDeadline {
		v.add(path+".min_healthy_time", "min_healthy_time must be shorter than healthy_deadline")
	}
	if u.ProgressDeadline > 0 && u.HealthyDeadline > u.ProgressDeadline {
		v.add(path+".healthy_deadline", "healthy_deadline must not be longer than progress_deadline")
	}
}

func (v *validator) migrate(path string, m *MigrateStrategy) {
	if m == nil {
		return
	}
	if m.MaxParallel < 0 {
		v.add(path+".max_parallel", "max_parallel must not be negative")
	}
	v.oneOf(path+".health_check", "health_check", m.HealthCheck, "checks", "task_states")
	v.nonNegative(path+".min_healthy_time", m.MinHealthyTime)
	v.nonNegative(path+".healthy_deadline", m.HealthyDeadline)
}

func (v *validator) reschedule(path string, r *ReschedulePolicy) {
	if r == nil {
		return
	}
	if r.Attempts < 0 {
		v.add(path+".attempts", "attempts must not be negative")
	}
	v.oneOf(path+".delay_function", "delay_function", r.DelayFunction, "constant", "exponential", "fibonacci")
	v.nonNegative(path+".interval", r.Interval)
	v.nonNegative(path+".delay", r.Delay)
	v.nonNegative(path+".max_delay", r.MaxDelay)
	if r.DelayFunction != "" && r.DelayFunction != "constant" && r.MaxDelay > 0 && r.MaxDelay < r.Delay {
		v.add(path+".max_delay", "max_delay must not be below delay")
	}
}

// escapesDir reports whether a path given relative to a task's directory
// climbs out of it, and out of the allocation's alloc/ directory, with "..".
func escapesDir(task, p string) bool {
	// As the node agent resolves it: a relative path is the task
	// directory's, and may reach the allocation's shared alloc/ directory
	// ("../alloc/x", as in Nomad); an absolute one is taken inside.
	p = filepath.ToSlash(p)
	if strings.HasPrefix(p, "/") {
		return false
	}
	rel := path.Clean(task + "/" + p)
	return !(rel == task || strings.HasPrefix(rel, task+"/") || rel == "alloc" || strings.HasPrefix(rel, "alloc/"))
}

// hasGateway reports whether a group runs a Consul Connect gateway.
func hasGateway(g *TaskGroup) bool {
	for _, s := range g.Services {
		if s != nil && s.Connect != nil && s.Connect.Gateway != nil {
			return true
		}
	}
	return false
}
