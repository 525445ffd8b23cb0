package jobspec

// Helpers that evaluate HCL expressions into Go values, reporting a
// located diagnostic when a value has the wrong type.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

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
		for name, a := range d.kvAttrs(b) {
			var s string
			if d.str(a.Expr, &s) {
				out[d.quoted.name(name)] = s
			}
		}
	}
	return out
}

// kvAttrs are the attributes of a block of name = value lines (meta, env,
// header, …). They are read through a schema of the names the syntax
// holds, not with JustAttributes, which a dynamic block's expansion passes
// through unwrapped, so that the expansion's iterator (group.key) is in
// scope in them as everywhere else.
func (d *decoder) kvAttrs(b *kvBlock) hcl.Attributes {
	if b == nil || b.Body == nil {
		return nil
	}
	syn := d.bodies[syntaxRange(b.Body)]
	if syn == nil {
		attrs, diags := b.Body.JustAttributes()
		d.add(diags)
		return attrs
	}
	schema := &hcl.BodySchema{}
	for name := range syn.Attributes {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name})
	}
	content, diags := b.Body.Content(schema)
	d.add(diags)
	if content == nil {
		return nil
	}
	return content.Attributes
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
				out[d.quoted.name(name)] = v
			}
		}
		return out
	}
	return d.freeformBody(body, syn)
}

// freeformBody reads a free-form body whose shape the syntax body gives
// (its attributes' names, its blocks' types). Values are read through the
// body itself, which a dynamic block's expansion wraps, so that the
// iterators of enclosing dynamic blocks are in scope; dynamic blocks
// inside are expanded too.
func (d *decoder) freeformBody(body hcl.Body, syn *hclsyntax.Body) map[string]any {
	schema := &hcl.BodySchema{}
	for name := range syn.Attributes {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name})
	}
	if mixedLabels(syn) {
		return d.freeformMixed(syn, schema)
	}
	seen := map[string]bool{}
	for _, blk := range syn.Blocks {
		typ, labels := blk.Type, len(blk.Labels)
		if typ == "dynamic" && labels == 1 {
			typ, labels = blk.Labels[0], 0
		}
		if seen[typ] {
			continue
		}
		seen[typ] = true
		hs := hcl.BlockHeaderSchema{Type: typ}
		for i := 0; i < labels; i++ {
			hs.LabelNames = append(hs.LabelNames, fmt.Sprintf("label%d", i))
		}
		schema.Blocks = append(schema.Blocks, hs)
	}
	content, diags := body.Content(schema)
	d.add(diags)
	out := map[string]any{}
	if content == nil {
		return out
	}
	for name, a := range content.Attributes {
		if v, ok := d.jsonValue(a.Expr); ok {
			out[d.quoted.name(name)] = v
		}
	}
	for _, blk := range content.Blocks {
		var m map[string]any
		if inner := d.bodies[syntaxRange(blk.Body)]; inner != nil {
			m = d.freeformBody(blk.Body, inner)
		} else {
			m = d.freeform(blk.Body)
		}
		m = d.nest(blk.Labels, m)
		list, _ := out[blk.Type].([]any)
		out[blk.Type] = append(list, m)
	}
	return out
}

// nestLabels puts a labeled block's body under its labels, the first
// outermost, as Nomad's parsers hand them to drivers.
func nestLabels(labels []string, m map[string]any) map[string]any {
	for i := len(labels) - 1; i >= 0; i-- {
		m = map[string]any{labels[i]: m}
	}
	return m
}

// nest puts a labeled block's body under its labels: as maps (what
// drivers are handed), or while d.labelLists each in a list of one, the
// shape Nomad's servers give free-form policy blocks (check "cpu" { … }
// is "check": [{"cpu": [{…}]}]), which the Nomad Autoscaler reads.
func (d *decoder) nest(labels []string, m map[string]any) map[string]any {
	if !d.labelLists {
		return nestLabels(labels, m)
	}
	for i := len(labels) - 1; i >= 0; i-- {
		m = map[string]any{labels[i]: []any{m}}
	}
	return m
}

// mixedLabels reports whether a block type appears in body with different
// numbers of labels, which no HCL schema describes.
func mixedLabels(syn *hclsyntax.Body) bool {
	n := map[string]int{}
	for _, blk := range syn.Blocks {
		if blk.Type == "dynamic" {
			continue
		}
		if k, ok := n[blk.Type]; ok && k != len(blk.Labels) {
			return true
		}
		n[blk.Type] = len(blk.Labels)
	}
	return false
}

// freeformMixed reads a free-form body with a block type repeated with
// different numbers of labels straight from its syntax (its dynamic
// blocks, which need a schema to expand, are refused, and the iterators
// of enclosing dynamic blocks are not in scope).
func (d *decoder) freeformMixed(body *hclsyntax.Body, attrs *hcl.BodySchema) map[string]any {
	out := map[string]any{}
	content, _, diags := body.PartialContent(attrs)
	d.add(diags)
	if content != nil {
		for name, a := range content.Attributes {
			if v, ok := d.jsonValue(a.Expr); ok {
				out[d.quoted.name(name)] = v
			}
		}
	}
	for _, blk := range body.Blocks {
		if blk.Type == "dynamic" {
			d.errorf(blk.TypeRange, "a dynamic block cannot be used beside blocks of one type with different numbers of labels")
			continue
		}
		m := d.nest(blk.Labels, d.freeformBody(blk.Body, blk.Body))
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
