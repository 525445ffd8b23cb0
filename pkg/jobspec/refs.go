package jobspec

import (
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// runtimeRef is a bare reference to a name the file does not define, such
// as attr.cpu.arch, meta.rack or NOMAD_PORT_http written without "${}":
// Nomad's parser reads it as the text "${attr.cpu.arch}", which the
// scheduler and the node agent interpolate, and so does nomadic. A name
// the file defines (var, local, a for expression's or a dynamic block's
// iterator) is evaluated as usual.
type runtimeRef struct {
	// The reference in parentheses, so that HCL's walk still finds the
	// traversal (Variables: locals' order, dynamic blocks).
	hclsyntax.Expression
	ref *hclsyntax.ScopeTraversalExpr
}

func newRuntimeRef(ref *hclsyntax.ScopeTraversalExpr) *runtimeRef {
	return &runtimeRef{Expression: &hclsyntax.ParenthesesExpr{Expression: ref, SrcRange: ref.SrcRange}, ref: ref}
}

// Value evaluates the reference, or yields its text for run time.
func (r *runtimeRef) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	root := r.ref.Traversal.RootName()
	for c := ctx; c != nil; c = c.Parent() {
		if _, ok := c.Variables[root]; ok {
			return r.ref.Value(ctx)
		}
	}
	if text, ok := traversalText(r.ref.Traversal); ok && ctx != nil {
		return cty.StringVal("${" + text + "}"), nil
	}
	return r.ref.Value(ctx)
}

// UnwrapExpression gives HCL's static analysis (keywords such as a
// variable's type = string, traversals) the reference itself.
func (r *runtimeRef) UnwrapExpression() hcl.Expression { return r.ref }

// traversalText writes a traversal as it would be written in "${}".
func traversalText(t hcl.Traversal) (string, bool) {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			switch k := s.Key; {
			case k.Type() == cty.String:
				b.WriteString("[" + strconv.Quote(k.AsString()) + "]")
			case k.Type() == cty.Number:
				b.WriteString("[" + k.AsBigFloat().Text('f', -1) + "]")
			default:
				return "", false
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}
