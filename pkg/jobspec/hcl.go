package jobspec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Options are the inputs of a job file besides its text.
type Options struct {
	// Vars are -var name=value assignments.
	Vars map[string]string
	// VarFiles are the contents of -var-file files, by file name: HCL
	// (name = value lines) or JSON objects.
	VarFiles map[string][]byte
	// Env is the environment, for NOMAD_VAR_<name> values.
	Env []string
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "job", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
	},
}

// decoder turns the HCL of a job file into an api.Job, collecting every
// diagnostic on the way.
type decoder struct {
	diags  hcl.Diagnostics
	ctx    *hcl.EvalContext
	bodies map[hcl.Range]*hclsyntax.Body
	names  map[hcl.Range]string // attribute name by value range
	ranges map[string]hcl.Range // source range by api field path
}

// nameOf names the attribute an expression is the value of.
func (d *decoder) nameOf(expr hcl.Expression) string {
	if n, ok := d.names[expr.Range()]; ok {
		return n
	}
	return "value"
}

func (d *decoder) errorf(rng hcl.Range, summary string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(summary, args...), Subject: &r})
}

func (d *decoder) add(diags hcl.Diagnostics) { d.diags = append(d.diags, diags...) }

// parseHCL decodes an HCL job file. It may return a job together with
// diagnostics, so that the job's validation problems are reported along
// with the file's other errors.
func parseHCL(filename string, src []byte, opts *Options) (*api.Job, map[string]hcl.Range, hcl.Diagnostics) {
	escaped, shifts := escapeRuntimeInterpolations(src)
	file, diags := hclsyntax.ParseConfig(escaped, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, nil, shifts.fix(diags)
	}
	d := &decoder{bodies: map[hcl.Range]*hclsyntax.Body{}, names: map[hcl.Range]string{}, ranges: map[string]hcl.Range{}}
	d.indexBodies(file.Body.(*hclsyntax.Body))
	content, diags := file.Body.Content(rootSchema)
	d.add(diags)

	var jobs []*hcl.Block
	var varBlocks []*hcl.Block
	var localBlocks []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "job":
			jobs = append(jobs, b)
		case "variable":
			varBlocks = append(varBlocks, b)
		case "locals":
			localBlocks = append(localBlocks, b)
		}
	}
	d.ctx = &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions}
	d.ctx.Variables["var"] = d.variables(varBlocks, opts)
	d.ctx.Variables["local"] = d.locals(localBlocks)

	var job *api.Job
	switch {
	case len(jobs) == 0:
		if !d.diags.HasErrors() {
			d.errorf(file.Body.MissingItemRange(), "no job block in the file")
		}
	case len(jobs) > 1:
		d.errorf(jobs[1].DefRange, "only one job block is allowed per file (the first is at line %d)", jobs[0].DefRange.Start.Line)
	case !d.diags.HasErrors():
		job = d.job(jobs[0])
	}
	for path, rng := range d.ranges {
		d.ranges[path] = shifts.fixRange(rng)
	}
	return job, d.ranges, shifts.fix(d.diags)
}

// indexBodies remembers every syntax body by its range, so that free-form
// blocks can be read as written even after dynamic-block expansion wrapped
// them.
func (d *decoder) indexBodies(b *hclsyntax.Body) {
	d.bodies[b.SrcRange] = b
	d.bodies[b.MissingItemRange()] = b
	for name, a := range b.Attributes {
		d.names[a.Expr.Range()] = name
	}
	for _, blk := range b.Blocks {
		d.indexBodies(blk.Body)
	}
}

// --- variables and locals ---

func (d *decoder) variables(blocks []*hcl.Block, opts *Options) cty.Value {
	if opts == nil {
		opts = &Options{}
	}
	declared := map[string]*variableBlock{}
	for _, b := range blocks {
		v := &variableBlock{Name: b.Labels[0], DefRange: b.DefRange}
		d.add(gohcl.DecodeBody(b.Body, nil, v))
		if prev := declared[v.Name]; prev != nil {
			d.errorf(b.LabelRanges[0], "variable %q is declared twice (first at line %d)", v.Name, prev.DefRange.Start.Line)
			continue
		}
		if !hclsyntax.ValidIdentifier(v.Name) {
			d.errorf(b.LabelRanges[0], "variable name %q is not a valid identifier", v.Name)
			continue
		}
		declared[v.Name] = v
	}

	// Raw values, weakest first: environment, var files, -var.
	type raw struct {
		text string
		expr hcl.Expression
		from string
	}
	given := map[string]raw{}
	for _, kv := range opts.Env {
		if name, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, "NOMAD_VAR_") {
			n := strings.TrimPrefix(name, "NOMAD_VAR_")
			if declared[n] != nil {
				given[n] = raw{text: val, from: "environment variable " + name}
			}
		}
	}
	fileNames := make([]string, 0, len(opts.VarFiles))
	for name := range opts.VarFiles {
		fileNames = append(fileNames, name)
	}
	sort.Strings(fileNames)
	for _, name := range fileNames {
		attrs := d.varFile(name, opts.VarFiles[name])
		for n, a := range attrs {
			if declared[n] == nil {
				d.errorf(a.NameRange, "variable %q is not declared in the job file", n)
				continue
			}
			given[n] = raw{expr: a.Expr, from: name}
		}
	}
	names := make([]string, 0, len(opts.Vars))
	for n := range opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if declared[n] == nil {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("-var %s: no variable %q is declared in the job file", n, n)})
			continue
		}
		given[n] = raw{text: opts.Vars[n], from: "-var " + n}
	}

	values := map[string]cty.Value{}
	for name, v := range declared {
		ty := cty.DynamicPseudoType
		if !isNull(v.Type) {
			t, diags := typeexpr.TypeConstraint(v.Type)
			d.add(diags)
			if diags.HasErrors() {
				continue
			}
			ty = t
		}
		var val cty.Value
		rng := v.DefRange
		if g, ok := given[name]; ok {
			switch {
			case g.expr != nil:
				var diags hcl.Diagnostics
				val, diags = g.expr.Value(nil)
				d.add(diags)
				rng = g.expr.Range()
			case ty == cty.String || ty == cty.DynamicPseudoType:
				val = cty.StringVal(g.text)
			default:
				expr, diags := hclsyntax.ParseExpression([]byte(g.text), g.from, hcl.Pos{Line: 1, Column: 1})
				d.add(diags)
				if diags.HasErrors() {
					continue
				}
				val, diags = expr.Value(nil)
				d.add(diags)
			}
		} else if !isNull(v.Default) {
			var diags hcl.Diagnostics
			val, diags = v.Default.Value(nil)
			d.add(diags)
			rng = v.Default.Range()
		} else {
			d.errorf(v.DefRange, "variable %q has no value: give it a default, -var %s=..., -var-file or NOMAD_VAR_%s", name, name, name)
			continue
		}
		if val == cty.NilVal {
			continue
		}
		cv, err := convert.Convert(val, ty)
		if err != nil {
			d.errorf(rng, "variable %q: value does not fit type %s: %v", name, typeexpr.TypeString(ty), err)
			continue
		}
		values[name] = cv
	}
	// Validations see every variable.
	obj := cty.ObjectVal(values)
	for name, v := range declared {
		val, ok := values[name]
		if !ok {
			continue
		}
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": obj}, Functions: functions}
		for _, rule := range v.Validations {
			res, diags := rule.Condition.Value(ctx)
			d.add(diags)
			if diags.HasErrors() {
				continue
			}
			if res.Type() != cty.Bool || !res.IsKnown() || res.IsNull() {
				d.errorf(rule.Condition.Range(), "validation condition of variable %q must be true or false", name)
				continue
			}
			if res.False() {
				d.errorf(rule.Condition.Range(), "invalid value for variable %q: %s", name, rule.ErrorMessage)
			}
		}
		_ = val
	}
	return obj
}

func (d *decoder) varFile(name string, src []byte) hcl.Attributes {
	trimmed := strings.TrimSpace(string(src))
	if strings.HasPrefix(trimmed, "{") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(src, &m); err != nil {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: invalid JSON: %v", name, err)})
			return nil
		}
		attrs := hcl.Attributes{}
		for k, raw := range m {
			var x any
			_ = json.Unmarshal(raw, &x)
			ty, err := ctyjson.ImpliedType(raw)
			if err != nil {
				continue
			}
			v, err := ctyjson.Unmarshal(raw, ty)
			if err != nil {
				continue
			}
			rng := hcl.Range{Filename: name, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}
			attrs[k] = &hcl.Attribute{Name: k, Expr: hcl.StaticExpr(v, rng), NameRange: rng, Range: rng}
		}
		return attrs
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.Pos{Line: 1, Column: 1})
	d.add(diags)
	if diags.HasErrors() {
		return nil
	}
	attrs, diags := f.Body.JustAttributes()
	d.add(diags)
	return attrs
}

func (d *decoder) locals(blocks []*hcl.Block) cty.Value {
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.add(diags)
		for name, a := range attrs {
			if prev := pending[name]; prev != nil {
				d.errorf(a.NameRange, "local %q is defined twice (first at line %d)", name, prev.NameRange.Start.Line)
				continue
			}
			pending[name] = a
		}
	}
	values := map[string]cty.Value{}
	// Evaluate in dependency order: each pass takes the locals whose
	// references to other locals are all known.
	for len(pending) > 0 {
		progress := false
		for name, a := range pending {
			ready := true
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() != "local" || len(tr) < 2 {
					continue
				}
				if attr, ok := tr[1].(hcl.TraverseAttr); ok {
					if _, done := values[attr.Name]; !done {
						if _, exists := pending[attr.Name]; exists && attr.Name != name {
							ready = false
						}
					}
				}
			}
			if !ready {
				continue
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": d.ctx.Variables["var"], "local": cty.ObjectVal(values)}, Functions: functions}
			v, diags := a.Expr.Value(ctx)
			d.add(diags)
			if !diags.HasErrors() {
				values[name] = v
			}
			delete(pending, name)
			progress = true
		}
		if !progress {
			for name, a := range pending {
				d.errorf(a.Expr.Range(), "local %q refers to itself through other locals", name)
			}
			break
		}
	}
	return cty.ObjectVal(values)
}

// --- the job ---
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
	for i, g := range jb.Groups {
		job.Groups = append(job.Groups, d.group(fmt.Sprintf("groups[%d]", i), g))
	}
	return job
}

func (d *decoder) group(path string, b *groupBlock) *api.TaskGroup {
	d.at(path, b.NameRange)
	g := &api.TaskGroup{Name: b.Name, Count: 1}
	d.intv(b.Count, &g.Count)
	d.atExpr(path+".count", b.Count)
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
		setb(&vr.ReadOnly, v.ReadOnly)
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
		g.Tasks = append(g.Tasks, d.task(fmt.Sprintf("%s.tasks[%d]", path, i), t))
	}
	return g
}

func (d *decoder) task(path string, b *taskBlock) *api.Task {
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
			if d.intv(f.expr, f.dst) && *f.dst == 0 {
				// Zero would read as "not set" and take the default.
				*f.dst = -1
			}
			d.atExpr(path+".resources."+f.name, f.expr)
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
	}
	if b.Restart != nil {
		d.errorf(b.Restart.DefRange, "a per-task restart block is not supported yet; put restart in the group")
	}
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
		if len(a.Options) > 0 {
			art.Options = d.meta(nil, a.Options)
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
		t.Templates = append(t.Templates, tpl)
	}
	for i, vm := range b.VolumeMounts {
		d.at(fmt.Sprintf("%s.volume_mounts[%d]", path, i), vm.DefRange)
		m := &api.VolumeMount{Volume: vm.Volume, Destination: vm.Destination}
		setb(&m.ReadOnly, vm.ReadOnly)
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

func (d *decoder) constraints(path string, blocks []*constraintBlock) []*api.Constraint {
	var out []*api.Constraint
	for _, b := range blocks {
		p := fmt.Sprintf("%s[%d]", path, len(out))
		c := &api.Constraint{Operator: api.ConstraintEqual}
		set(&c.Attribute, b.Attribute)
		set(&c.Value, b.Value)
		d.str(b.Operator, &c.Operator)
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
	d.at(path, b.DefRange)
	r := &api.RestartPolicy{}
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
	for i, p := range b.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", path, i)
		d.at(pp, p.NameRange)
		port := api.Port{Label: p.Label}
		d.intv(p.Static, &port.Static)
		d.atExpr(pp+".static", p.Static)
		d.intv(p.To, &port.To)
		d.atExpr(pp+".to", p.To)
		set(&port.HostNetwork, p.HostNetwork)
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

// --- value helpers ---

func isNull(expr hcl.Expression) bool {
	if expr == nil {
		return true
	}
	v, diags := expr.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// value evaluates expr and converts it to want; false when absent or wrong.
func (d *decoder) value(expr hcl.Expression, want cty.Type, what string) (cty.Value, bool) {
	if expr == nil {
		return cty.NilVal, false
	}
	v, diags := expr.Value(d.ctx)
	d.add(diags)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil || !cv.IsWhollyKnown() {
		d.errorf(expr.Range(), "%s must be %s", d.nameOf(expr), what)
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) str(expr hcl.Expression, dst *string) bool {
	v, ok := d.value(expr, cty.String, "a string")
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (d *decoder) strs(expr hcl.Expression) []string {
	v, ok := d.value(expr, cty.List(cty.String), "a list of strings")
	if !ok {
		return nil
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

func (d *decoder) enum(expr hcl.Expression, dst *string, what string, allowed ...string) bool {
	var s string
	if !d.str(expr, &s) {
		return false
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return true
		}
	}
	d.errorf(expr.Range(), "%s %q is not one of %s", what, s, strings.Join(allowed, ", "))
	return false
}

func (d *decoder) intv(expr hcl.Expression, dst *int) bool {
	v, ok := d.value(expr, cty.Number, "a whole number")
	if !ok {
		return false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 {
		d.errorf(expr.Range(), "%s must be a whole number", d.nameOf(expr))
		return false
	}
	*dst = int(i)
	return true
}

// dur reads a duration: a string such as "30s" or "1h30m".
func (d *decoder) dur(expr hcl.Expression, dst *api.Duration) bool {
	var s string
	if !d.str(expr, &s) {
		return false
	}
	p, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(expr.Range(), "%s %q is not a duration such as \"30s\", \"5m\" or \"1h30m\"", d.nameOf(expr), s)
		return false
	}
	if p < 0 {
		d.errorf(expr.Range(), "%s %q must not be negative", d.nameOf(expr), s)
		return false
	}
	*dst = api.Duration(p)
	return true
}

// meta reads a block (or blocks) of string attributes, or the map
// attribute form.
func (d *decoder) meta(attr map[string]string, blocks []*kvBlock) map[string]string {
	if len(attr) == 0 && len(blocks) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range attr {
		out[k] = v
	}
	for _, b := range blocks {
		for name, a := range b.Attrs {
			var s string
			if d.str(a.Expr, &s) {
				out[name] = s
			}
		}
	}
	return out
}

// freeform reads a driver config block: attributes of any type, and nested
// blocks as lists of objects, as Nomad passes them to drivers.
func (d *decoder) freeform(body hcl.Body) map[string]any {
	syn := d.bodies[syntaxRange(body)]
	if syn == nil {
		attrs, diags := body.JustAttributes()
		d.add(diags)
		out := map[string]any{}
		for name, a := range attrs {
			if v, ok := d.jsonValue(a.Expr); ok {
				out[name] = v
			}
		}
		return out
	}
	return d.syntaxBody(syn)
}

func (d *decoder) syntaxBody(b *hclsyntax.Body) map[string]any {
	out := map[string]any{}
	for name, a := range b.Attributes {
		if v, ok := d.jsonValue(a.Expr); ok {
			out[name] = v
		}
	}
	for _, blk := range b.Blocks {
		m := d.syntaxBody(blk.Body)
		if len(blk.Labels) > 0 {
			m = map[string]any{blk.Labels[0]: m}
		}
		list, _ := out[blk.Type].([]any)
		out[blk.Type] = append(list, m)
	}
	return out
}

func (d *decoder) jsonValue(expr hcl.Expression) (any, bool) {
	v, diags := expr.Value(d.ctx)
	d.add(diags)
	if diags.HasErrors() || v.IsNull() {
		return nil, false
	}
	if !v.IsWhollyKnown() {
		d.errorf(expr.Range(), "value is not known at parse time")
		return nil, false
	}
	js, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		d.errorf(expr.Range(), "value cannot be used: %v", err)
		return nil, false
	}
	var x any
	if err := json.Unmarshal(js, &x); err != nil {
		d.errorf(expr.Range(), "value cannot be used: %v", err)
		return nil, false
	}
	return x, true
}

// syntaxRange returns the key under which indexBodies filed a body: its
// source range, or for a body wrapped by dynblock the missing-item range
// that the wrapper passes through.
func syntaxRange(body hcl.Body) hcl.Range {
	if b, ok := body.(*hclsyntax.Body); ok {
		return b.SrcRange
	}
	return body.MissingItemRange()
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setb(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}
