// Package jobspec reads job files: Nomad-style HCL2, and JSON or YAML of
// the API form. Every problem is reported with its place in the file
// (file:line:col), all of a file's problems at once.
package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"sigs.k8s.io/yaml"
)

// Error is every problem found in a job file.
type Error struct {
	Diags hcl.Diagnostics
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString("; ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}

// Parse reads a job file. The format is chosen by the file's extension
// (.json, .yaml, .yml; anything else is HCL), or for "-" and unknown
// extensions by its first character. The job comes back canonicalized
// (defaults applied) and validated.
func Parse(filename string, src []byte) (*api.Job, error) {
	var job *api.Job
	var err error
	switch format(filename, src) {
	case "json":
		job, err = parseJSON(filename, src)
	case "yaml":
		job, err = parseYAML(filename, src)
	default:
		job, err = parseHCL(filename, src)
	}
	if err != nil {
		return nil, err
	}
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		var ve *api.ValidationError
		if errors.As(err, &ve) {
			var diags hcl.Diagnostics
			for _, p := range ve.Problems {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: p,
					Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}})
			}
			return nil, &Error{Diags: diags}
		}
		return nil, err
	}
	return job, nil
}

func format(filename string, src []byte) string {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	case ".hcl", ".nomad":
		return "hcl"
	}
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return "json"
	}
	if bytes.HasPrefix(trimmed, []byte("job ")) || bytes.Contains(src, []byte("job \"")) {
		return "hcl"
	}
	if bytes.HasPrefix(trimmed, []byte("id:")) || bytes.HasPrefix(trimmed, []byte("job:")) {
		return "yaml"
	}
	return "hcl"
}

// parseJSON reads the API form: a job object, or {"job": {...}}.
func parseJSON(filename string, src []byte) (*api.Job, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, jsonError(filename, src, err)
	}
	if _, wrapped := top["job"]; wrapped {
		var wrapper struct {
			Job *api.Job `json:"job"`
		}
		if err := strictJSON(src, &wrapper); err != nil {
			return nil, jsonError(filename, src, err)
		}
		if wrapper.Job == nil {
			return nil, jsonError(filename, src, errors.New(`"job" is null`))
		}
		return wrapper.Job, nil
	}
	var job api.Job
	if err := strictJSON(src, &job); err != nil {
		return nil, jsonError(filename, src, err)
	}
	return &job, nil
}

func strictJSON(src []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the job object")
	}
	return nil
}

// jsonError locates a JSON decoding error in the source.
func jsonError(filename string, src []byte, err error) error {
	offset := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	pos := hcl.Pos{Line: 1, Column: 1}
	if offset >= 0 {
		pos = posAt(src, int(offset))
	}
	return &Error{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "invalid JSON job: " + err.Error(),
		Subject: &hcl.Range{Filename: filename, Start: pos, End: pos}}}}
}

func posAt(src []byte, offset int) hcl.Pos {
	offset = min(offset, len(src))
	line := 1 + bytes.Count(src[:offset], []byte("\n"))
	col := offset - bytes.LastIndexByte(src[:offset], '\n')
	return hcl.Pos{Line: line, Column: col, Byte: offset}
}

func parseYAML(filename string, src []byte) (*api.Job, error) {
	js, err := yaml.YAMLToJSON(src)
	if err != nil {
		return nil, &Error{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "invalid YAML job: " + err.Error(),
			Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}}}}
	}
	job, err := parseJSON(filename, js)
	var je *Error
	if errors.As(err, &je) {
		// Positions in the converted JSON mean nothing in the YAML file.
		for _, d := range je.Diags {
			d.Subject = &hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}
		}
	}
	return job, err
}

// --- HCL ---

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "job", LabelNames: []string{"name"}}},
}

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "datacenters"}, {Name: "priority"}, {Name: "namespace"}, {Name: "region"}, {Name: "id"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "group", LabelNames: []string{"name"}}, {Type: "meta"}},
}

var groupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "count"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "task", LabelNames: []string{"name"}}, {Type: "meta"}},
}

var taskSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "driver", Required: true}, {Name: "kill_timeout"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "config"}, {Type: "env"}, {Type: "resources"}, {Type: "meta"}},
}

var resourcesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "cpu"}, {Name: "memory"}, {Name: "memory_max"}},
}

// decoder collects diagnostics while it walks a file.
type decoder struct {
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng hcl.Range, summary string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(summary, args...), Subject: &r})
}

func parseHCL(filename string, src []byte) (*api.Job, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, &Error{Diags: diags}
	}
	d := &decoder{}
	content, diags := file.Body.Content(rootSchema)
	d.diags = append(d.diags, diags...)
	var job *api.Job
	switch len(content.Blocks) {
	case 0:
		if !diags.HasErrors() {
			d.errorf(file.Body.MissingItemRange(), "no job block in the file")
		}
	case 1:
		job = d.job(content.Blocks[0])
	default:
		d.errorf(content.Blocks[1].DefRange, "only one job block is allowed per file")
	}
	if d.diags.HasErrors() {
		return nil, &Error{Diags: d.diags}
	}
	return job, nil
}

func (d *decoder) job(b *hcl.Block) *api.Job {
	job := &api.Job{ID: b.Labels[0], Name: b.Labels[0]}
	content, diags := b.Body.Content(jobSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	d.str(attrs["id"], &job.ID)
	d.str(attrs["type"], &job.Type)
	d.str(attrs["namespace"], &job.Namespace)
	var region string
	d.str(attrs["region"], &region)
	if a := attrs["type"]; a != nil && job.Type != "" && job.Type != api.JobTypeService && job.Type != api.JobTypeBatch {
		d.errorf(a.Expr.Range(), "job type %q is not supported yet; use service or batch", job.Type)
	}
	if a := attrs["priority"]; a != nil {
		d.int(a, &job.Priority)
		if job.Priority < 1 || job.Priority > 100 {
			d.errorf(a.Expr.Range(), "priority must be between 1 and 100")
		}
	}
	if a := attrs["datacenters"]; a != nil {
		d.strList(a, &job.Datacenters)
	}
	groups := map[string]hcl.Range{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "group":
			if prev, dup := groups[blk.Labels[0]]; dup {
				d.errorf(blk.LabelRanges[0], "group %q is defined twice (first at line %d)", blk.Labels[0], prev.Start.Line)
				continue
			}
			groups[blk.Labels[0]] = blk.DefRange
			job.Groups = append(job.Groups, d.group(blk))
		case "meta":
			job.Meta = d.stringMap(blk)
		}
	}
	if len(groups) == 0 {
		d.errorf(b.DefRange, "job %q has no group block", job.ID)
	}
	return job
}

func (d *decoder) group(b *hcl.Block) *api.TaskGroup {
	g := &api.TaskGroup{Name: b.Labels[0], Count: 1}
	content, diags := b.Body.Content(groupSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["count"]; a != nil {
		d.int(a, &g.Count)
		if g.Count < 0 {
			d.errorf(a.Expr.Range(), "count must not be negative")
		}
	}
	tasks := map[string]bool{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "task":
			if tasks[blk.Labels[0]] {
				d.errorf(blk.LabelRanges[0], "task %q is defined twice in group %q", blk.Labels[0], g.Name)
				continue
			}
			tasks[blk.Labels[0]] = true
			g.Tasks = append(g.Tasks, d.task(blk))
		case "meta":
			g.Meta = d.stringMap(blk)
		}
	}
	if len(tasks) == 0 {
		d.errorf(b.DefRange, "group %q has no task block", g.Name)
	}
	return g
}

func (d *decoder) task(b *hcl.Block) *api.Task {
	t := &api.Task{Name: b.Labels[0]}
	content, diags := b.Body.Content(taskSchema)
	d.diags = append(d.diags, diags...)
	d.str(content.Attributes["driver"], &t.Driver)
	if a := content.Attributes["kill_timeout"]; a != nil {
		var s string
		d.str(a, &s)
		if s != "" {
			dur, err := time.ParseDuration(s)
			if err != nil || dur < 0 {
				d.errorf(a.Expr.Range(), "kill_timeout %q is not a duration such as \"5s\" or \"1m\"", s)
			}
			t.KillTimeout = api.Duration(dur)
		}
	}
	seen := map[string]bool{}
	for _, blk := range content.Blocks {
		if seen[blk.Type] {
			d.errorf(blk.DefRange, "only one %s block is allowed in a task", blk.Type)
			continue
		}
		seen[blk.Type] = true
		switch blk.Type {
		case "config":
			t.Config = d.anyMap(blk)
		case "env":
			t.Env = d.stringMap(blk)
		case "meta":
			t.Meta = d.stringMap(blk)
		case "resources":
			t.Resources = d.resources(blk)
		}
	}
	return t
}

func (d *decoder) resources(b *hcl.Block) *api.Resources {
	r := &api.Resources{}
	content, diags := b.Body.Content(resourcesSchema)
	d.diags = append(d.diags, diags...)
	for name, dst := range map[string]*int{"cpu": &r.CPU, "memory": &r.MemoryMB, "memory_max": &r.MemoryMax} {
		if a := content.Attributes[name]; a != nil {
			d.int(a, dst)
			if *dst <= 0 {
				d.errorf(a.Expr.Range(), "%s must be a positive number", name)
			}
		}
	}
	if a := content.Attributes["memory_max"]; a != nil && r.MemoryMB > 0 && r.MemoryMax > 0 && r.MemoryMax < r.MemoryMB {
		d.errorf(a.Expr.Range(), "memory_max (%d) must not be below memory (%d)", r.MemoryMax, r.MemoryMB)
	}
	return r
}

// value evaluates an attribute and converts it to want.
func (d *decoder) value(a *hcl.Attribute, want cty.Type, what string) (cty.Value, bool) {
	v, diags := a.Expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil || !cv.IsWhollyKnown() {
		d.errorf(a.Expr.Range(), "%s must be %s", a.Name, what)
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) str(a *hcl.Attribute, dst *string) {
	if a == nil {
		return
	}
	if v, ok := d.value(a, cty.String, "a string"); ok {
		*dst = v.AsString()
	}
}

func (d *decoder) int(a *hcl.Attribute, dst *int) {
	if a == nil {
		return
	}
	v, ok := d.value(a, cty.Number, "a whole number")
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errorf(a.Expr.Range(), "%s must be a whole number", a.Name)
		return
	}
	i, _ := bf.Int64()
	*dst = int(i)
}

func (d *decoder) strList(a *hcl.Attribute, dst *[]string) {
	v, ok := d.value(a, cty.List(cty.String), "a list of strings")
	if !ok {
		return
	}
	for _, e := range v.AsValueSlice() {
		*dst = append(*dst, e.AsString())
	}
}

func (d *decoder) stringMap(b *hcl.Block) map[string]string {
	attrs, diags := b.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	out := map[string]string{}
	for name, a := range attrs {
		var s string
		d.str(a, &s)
		out[name] = s
	}
	return out
}

// anyMap reads a driver's config block: any attributes, of any type, kept
// as JSON values for the driver to check.
func (d *decoder) anyMap(b *hcl.Block) map[string]any {
	attrs, diags := b.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	out := map[string]any{}
	for name, a := range attrs {
		v, diags := a.Expr.Value(nil)
		d.diags = append(d.diags, diags...)
		if diags.HasErrors() || v.IsNull() {
			continue
		}
		js, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			d.errorf(a.Expr.Range(), "config.%s cannot be used: %v", name, err)
			continue
		}
		var x any
		if err := json.Unmarshal(js, &x); err != nil {
			d.errorf(a.Expr.Range(), "config.%s cannot be used: %v", name, err)
			continue
		}
		out[name] = x
	}
	return out
}
