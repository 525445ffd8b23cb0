package jobspec

// Variables, locals and var files of an HCL job file.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

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
	for _, name := range opts.VarFileNames() {
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

	d.declared = map[string]bool{}
	for name := range declared {
		d.declared[name] = true
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
				val, diags = guard(expr, d.budget).Value(nil)
				d.add(diags)
			}
		} else if !isNull(v.Default) {
			var diags hcl.Diagnostics
			val, diags = v.Default.Value(nil)
			d.add(diags)
			rng = v.Default.Range()
		} else if opts.Placeholders {
			val = placeholderValue(ty, name)
			d.warnf(v.DefRange, "variable %q has no value: validated with a placeholder (give it with -var %s=..., -var-file or NOMAD_VAR_%s when you apply)", name, name, name)
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
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": obj}, Functions: d.ctx.Functions}
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
	guardBody(f.Body.(*hclsyntax.Body), d.budget)
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
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": d.ctx.Variables["var"], "local": cty.ObjectVal(values)}, Functions: d.ctx.Functions}
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

// placeholderValue is a value of a type that stands for a variable's value
// while a file is validated: the variable's name for a string, 1, false,
// empty collections, objects of placeholders.
func placeholderValue(ty cty.Type, name string) cty.Value {
	switch {
	case ty == cty.String || ty == cty.DynamicPseudoType:
		return cty.StringVal(name)
	case ty == cty.Number:
		return cty.NumberIntVal(1)
	case ty == cty.Bool:
		return cty.False
	case ty.IsListType():
		return cty.ListValEmpty(ty.ElementType())
	case ty.IsSetType():
		return cty.SetValEmpty(ty.ElementType())
	case ty.IsMapType():
		return cty.MapValEmpty(ty.ElementType())
	case ty.IsTupleType():
		elems := make([]cty.Value, len(ty.TupleElementTypes()))
		for i, et := range ty.TupleElementTypes() {
			elems[i] = placeholderValue(et, name)
		}
		if len(elems) == 0 {
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(elems)
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for an, at := range ty.AttributeTypes() {
			attrs[an] = placeholderValue(at, an)
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal
		}
		return cty.ObjectVal(attrs)
	}
	return cty.NullVal(ty)
}

// VarFileNames are the names of the -var-file files in the order their
// values apply: VarFileOrder (each file once, those in VarFiles), then
// any others by name.
func (o *Options) VarFileNames() []string {
	names := make([]string, 0, len(o.VarFiles))
	seen := map[string]bool{}
	// A file given twice applies where it was given last (applying it
	// at its first place too changes nothing).
	for i := len(o.VarFileOrder) - 1; i >= 0; i-- {
		if name := o.VarFileOrder[i]; !seen[name] {
			if _, ok := o.VarFiles[name]; ok {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	slices.Reverse(names)
	var rest []string
	for name := range o.VarFiles {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}
