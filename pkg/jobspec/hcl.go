package jobspec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Options are the inputs of a job file besides its text.
type Options struct {
	// Vars are -var name=value assignments.
	Vars map[string]string
	// VarFiles are the contents of -var-file files, by file name: HCL
	// (name = value lines) or JSON objects.
	VarFiles map[string][]byte
	// VarFileOrder is the order the -var-file files were given in, as
	// Nomad's CLI applies them: a later file's value wins (nil: in the
	// order of their names).
	VarFileOrder []string
	// Env is the environment, for NOMAD_VAR_<name> values.
	Env []string
	// Placeholders gives a variable that has no value a placeholder of
	// its type, with a warning, instead of an error: what validating a
	// file whose values come at apply time needs (nctl validate).
	Placeholders bool
	// NoFiles makes the functions that read files (file, filebase64,
	// fileset, fileexists, abspath, pathexpand) errors: a server parsing
	// a job file for a client must not read its own files, as Nomad's
	// parse endpoint reads none.
	NoFiles bool
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "job", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "variables"},
		{Type: "locals"},
	},
}

// decoder turns the HCL of a job file into an api.Job, collecting every
// diagnostic on the way.
type decoder struct {
	diags  hcl.Diagnostics
	warns  hcl.Diagnostics
	quoted quotedNames
	ctx    *hcl.EvalContext
	bodies map[hcl.Range]*hclsyntax.Body
	// labelLists: free-form blocks read now put a labeled body in a
	// list under its label (see nest).
	labelLists bool
	names      map[hcl.Range]string // attribute name by value range
	ranges     map[string]hcl.Range // source range by api field path
	budget     *budget              // what is left to evaluate the file and its variables
	// missingFiles are the files file() did not find, read as empty
	// (validation with placeholders).
	missingFiles []string
	// moved are the ports moved from tasks' resources to their group.
	moved map[*api.TaskGroup]map[string]bool
	// declared are the variables the file declares.
	declared map[string]bool
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

// warnf records a warning: something accepted but not done as asked, or
// a deprecated form.
func (d *decoder) warnf(rng hcl.Range, summary string, args ...any) {
	r := rng
	d.warns = append(d.warns, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: fmt.Sprintf(summary, args...), Subject: &r})
}

func (d *decoder) add(diags hcl.Diagnostics) {
	for _, diag := range diags {
		if diag.Severity == hcl.DiagWarning {
			d.warns = append(d.warns, diag)
		} else {
			d.diags = append(d.diags, diag)
		}
	}
}

// literalRange is where file("s") first stands in src, or def when the
// path is not written as a literal.
func literalRange(src []byte, filename, s string, def hcl.Range) hcl.Range {
	q := "file(" + strconv.Quote(s) + ")"
	i := bytes.Index(src, []byte(q))
	if i < 0 {
		return def
	}
	line := 1 + bytes.Count(src[:i], []byte("\n"))
	col := i - bytes.LastIndexByte(src[:i], '\n')
	return hcl.Range{Filename: filename, Start: hcl.Pos{Line: line, Column: col, Byte: i}, End: hcl.Pos{Line: line, Column: col + len(q), Byte: i + len(q)}}
}

// explain makes the errors of an evaluation say what went wrong first: a
// reference to a variable the file does not declare is named as such; a
// reference to one that has no value (reported already) and the
// "value must be known" that every error leaves downstream are dropped;
// and when placeholders stood in for variables or files, the warnings
// saying so come with the errors, which they may explain.
func (d *decoder) explain(diags hcl.Diagnostics) hcl.Diagnostics {
	if !diags.HasErrors() {
		return diags
	}
	out := diags[:0:0]
	for _, diag := range diags {
		if diag.Severity == hcl.DiagError && diag.Summary == "Unsupported attribute" {
			if sc, ok := diag.Expression.(*hclsyntax.ScopeTraversalExpr); ok && sc.Traversal.RootName() == "var" && len(sc.Traversal) > 1 {
				if attr, ok := sc.Traversal[1].(hcl.TraverseAttr); ok {
					if d.declared[attr.Name] {
						continue // its missing value is reported at its block
					}
					c := *diag
					c.Summary = "Reference to undeclared input variable"
					c.Detail = fmt.Sprintf("no variable %q is declared in the job file: declare it with a variable %q block", attr.Name, attr.Name)
					out = append(out, &c)
					continue
				}
			}
		}
		if diag.Severity == hcl.DiagError && strings.Contains(diag.Detail, "value must be known") && len(diags) > 1 {
			continue
		}
		out = append(out, diag)
	}
	if !out.HasErrors() {
		return diags
	}
	for _, w := range d.warns {
		if strings.Contains(w.Summary, "validated with a placeholder") {
			c := *w
			c.Summary = "note: " + c.Summary
			out = append(out, &c)
		}
	}
	return out
}

// parseHCL decodes an HCL job file. It may return a job together with
// diagnostics, so that the job's validation problems are reported along
// with the file's other errors.
func parseHCL(filename string, src []byte, opts *Options) (*api.Job, map[string]hcl.Range, hcl.Diagnostics, hcl.Diagnostics) {
	escaped, shifts := escapeRuntimeInterpolations(src)
	escaped, quoted := unquoteNames(escaped)
	file, diags := hclsyntax.ParseConfig(escaped, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, nil, shifts.fix(quoted.fix(diags)), nil
	}
	d := &decoder{bodies: map[hcl.Range]*hclsyntax.Body{}, names: map[hcl.Range]string{}, ranges: map[string]hcl.Range{}, quoted: quoted}
	d.indexBodies(file.Body.(*hclsyntax.Body))
	d.budget = newBudget()
	guardBody(file.Body.(*hclsyntax.Body), d.budget)
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
		case "variables":
			varBlocks = append(varBlocks, d.variablesBlock(b)...)
		case "locals":
			localBlocks = append(localBlocks, b)
		}
	}
	funcs := make(map[string]function.Function, len(functions)+2)
	for n, f := range functions {
		funcs[n] = f
	}
	dir := "."
	if filename != "" && filename != "-" {
		dir = filepath.Dir(filename)
	}
	var missing func(string)
	if opts != nil && opts.Placeholders {
		missing = func(p string) { d.missingFiles = append(d.missingFiles, p) }
	}
	for n, f := range fileFunctions(dir, missing) {
		if opts != nil && opts.NoFiles && n != "basename" && n != "dirname" {
			f = noFileFunc(n)
		}
		funcs[n] = f
	}
	d.ctx = &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: funcs}
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
	seen := map[string]bool{}
	for _, p := range d.missingFiles {
		if !seen[p] && len(jobs) > 0 {
			seen[p] = true
			d.warnf(literalRange(escaped, filename, p, jobs[0].DefRange), "file %q was not found: validated with a placeholder (apply needs it)", p)
		}
	}
	d.diags = d.explain(d.diags)
	for path, rng := range d.ranges {
		d.ranges[path] = shifts.fixRange(rng)
	}
	return job, d.ranges, shifts.fix(quoted.fix(d.diags)), shifts.fix(quoted.fix(d.warns))
}

// variablesBlock reads the block form of variables (variables { name =
// default }) as variable blocks with defaults.
func (d *decoder) variablesBlock(b *hcl.Block) []*hcl.Block {
	attrs, diags := b.Body.JustAttributes()
	d.add(diags)
	var out []*hcl.Block
	for name, a := range attrs {
		body := &hclsyntax.Body{
			Attributes: hclsyntax.Attributes{"default": &hclsyntax.Attribute{Name: "default", Expr: a.Expr.(hclsyntax.Expression), SrcRange: a.Range, NameRange: a.NameRange}},
			SrcRange:   a.Range, EndRange: a.Range,
		}
		out = append(out, &hcl.Block{Type: "variable", Labels: []string{name}, Body: body, DefRange: a.NameRange, LabelRanges: []hcl.Range{a.NameRange}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DefRange.Start.Byte < out[j].DefRange.Start.Byte })
	return out
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
