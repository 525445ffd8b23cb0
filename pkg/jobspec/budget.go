package jobspec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A job file is a program: for expressions, dynamic blocks, templates and
// functions can ask for far more work and memory than the file's size
// says ("${1e99999999}" is 15 bytes that take minutes to print, three
// nested for expressions over range(1000) a billion steps). Servers parse
// job files too (/v1/jobs/parse), so every evaluation is bounded: each
// expression node evaluated costs one step of a per-file budget, and every
// value an expression yields is checked for size. Past either bound the
// file fails at the expression, with what was too much.
const (
	// maxSteps bounds the expression evaluations of one file.
	maxSteps = 1_000_000
	// maxStringBytes bounds a string an expression yields.
	maxStringBytes = 1 << 20
	// maxExponent bounds a number's binary exponent (about 1e300, beyond
	// float64; printing a number takes time in its digits).
	maxExponent = 1000
)

// callSteps are the steps a call of a function costs beyond its own,
// for functions that take far longer than an expression: a bcrypt hash
// (up to about 0.3 s at its highest cost here) or an RSA decryption. They
// bound a file to about ten such calls, a few seconds of a server's CPU.
var callSteps = map[string]int{
	"bcrypt":     maxSteps / 10,
	"rsadecrypt": maxSteps / 20,
}

// budget is what is left of one file's evaluation budget.
type budget struct {
	left     int
	reported bool // the budget's end was reported
}

func newBudget() *budget { return &budget{left: maxSteps} }

// guarded is an expression node whose evaluation spends the budget and
// whose value is checked. It embeds the node, so that it is an
// hclsyntax.Expression for the rest of HCL.
type guarded struct {
	hclsyntax.Expression
	b *budget
	// iterated marks what a for expression, a splat or a dynamic block
	// iterates over: each of the value's elements costs a step, since the
	// body is evaluated once for each (a variable reference in the body
	// costs nothing by itself).
	iterated bool
}

// Value evaluates the node unless the budget is spent.
func (g *guarded) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if g.b.left <= 0 {
		return cty.DynamicVal, g.spent()
	}
	g.b.left--
	if fc, ok := g.Expression.(*hclsyntax.FunctionCallExpr); ok {
		// A call whose work a step does not measure pays for it
		// before it runs.
		if g.b.left -= callSteps[fc.Name]; g.b.left < 0 {
			return cty.DynamicVal, g.spent()
		}
	}
	v, diags := g.Expression.Value(ctx)
	if diags.HasErrors() {
		return v, diags
	}
	if why := tooLarge(v); why != "" {
		return cty.DynamicVal, append(diags, g.fail("Value too large", why)...)
	}
	if g.iterated && v.IsKnown() && !v.IsNull() && v.CanIterateElements() {
		if g.b.left -= v.LengthInt(); g.b.left < 0 {
			return cty.DynamicVal, g.spent()
		}
	}
	return v, diags
}

// spent reports the end of the budget, once: past it, every expression
// is unknown, so that loops still running end at once.
func (g *guarded) spent() hcl.Diagnostics {
	if g.b.reported {
		return nil
	}
	g.b.reported = true
	return g.fail("Job file too costly to evaluate", fmt.Sprintf(
		"evaluating it takes more than %d steps: for expressions or dynamic blocks over large collections, nested", maxSteps))
}

// UnwrapExpression lets HCL's static analysis (keywords, traversals,
// lists) see the node itself.
func (g *guarded) UnwrapExpression() hcl.Expression { return g.Expression }

func (g *guarded) fail(summary, detail string) hcl.Diagnostics {
	rng := g.Range()
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}}
}

// tooLarge says what is too large about a value, shallowly: a string's
// bytes, a collection's elements, a number's magnitude ("" when nothing
// is). Nested values were checked when their own expressions yielded
// them; functions check what they build (functions.go).
func tooLarge(v cty.Value) string {
	if !v.IsKnown() || v.IsNull() || v.IsMarked() {
		return ""
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		if n := len(v.AsString()); n > maxStringBytes {
			return fmt.Sprintf("a string of %d bytes; at most %d", n, maxStringBytes)
		}
	case ty == cty.Number:
		if f := v.AsBigFloat(); !f.IsInf() && f.Sign() != 0 {
			if e := f.MantExp(nil); e > maxExponent || e < -maxExponent {
				return fmt.Sprintf("a number of magnitude 2^%d; numbers are limited to about 1e300", e)
			}
		}
	case ty.IsListType() || ty.IsSetType() || ty.IsMapType() || ty.IsTupleType() || ty.IsObjectType():
		if n := v.LengthInt(); n > maxElements {
			return fmt.Sprintf("a collection of %d elements; at most %d", n, maxElements)
		}
	}
	return ""
}

// guardBody guards every expression of a body and of its nested blocks.
func guardBody(body *hclsyntax.Body, b *budget) {
	if body == nil {
		return
	}
	for _, a := range body.Attributes {
		a.Expr = guard(a.Expr, b)
	}
	for _, blk := range body.Blocks {
		guardBody(blk.Body, b)
		if a := blk.Body.Attributes["for_each"]; blk.Type == "dynamic" && a != nil {
			a.Expr = iterated(a.Expr, b)
		}
	}
}

// iterated marks a guarded expression as iterated over. A bare variable
// reference is guarded in parentheses, where HCL still finds it.
func iterated(e hclsyntax.Expression, b *budget) hclsyntax.Expression {
	if v, ok := e.(*hclsyntax.ScopeTraversalExpr); ok {
		e = newRuntimeRef(v)
	}
	if r, ok := e.(*runtimeRef); ok {
		e = &guarded{Expression: r, b: b}
	}
	if g, ok := e.(*guarded); ok {
		g.iterated = true
	}
	return e
}

// guard wraps an expression node, and its operands first.
func guard(e hclsyntax.Expression, b *budget) hclsyntax.Expression {
	switch n := e.(type) {
	case nil:
		return nil
	case *guarded:
		return n
	case *hclsyntax.ScopeTraversalExpr:
		// A variable's value was checked when it was made: a reference
		// costs nothing by itself (see iterated).
		return newRuntimeRef(n)
	case *runtimeRef:
		return n
	case *hclsyntax.TemplateExpr:
		for i := range n.Parts {
			n.Parts[i] = guard(n.Parts[i], b)
		}
	case *hclsyntax.TemplateWrapExpr:
		n.Wrapped = guard(n.Wrapped, b)
	case *hclsyntax.TemplateJoinExpr:
		n.Tuple = guard(n.Tuple, b)
	case *hclsyntax.FunctionCallExpr:
		for i := range n.Args {
			n.Args[i] = guard(n.Args[i], b)
		}
	case *hclsyntax.ConditionalExpr:
		n.Condition = guard(n.Condition, b)
		n.TrueResult = guard(n.TrueResult, b)
		n.FalseResult = guard(n.FalseResult, b)
	case *hclsyntax.BinaryOpExpr:
		n.LHS = guard(n.LHS, b)
		n.RHS = guard(n.RHS, b)
	case *hclsyntax.UnaryOpExpr:
		n.Val = guard(n.Val, b)
	case *hclsyntax.TupleConsExpr:
		for i := range n.Exprs {
			n.Exprs[i] = guard(n.Exprs[i], b)
		}
	case *hclsyntax.ObjectConsExpr:
		// Keys stay as they are: HCL reads a bare key as a name, and a
		// key's value is checked as part of the object's size.
		for i := range n.Items {
			n.Items[i].ValueExpr = guard(n.Items[i].ValueExpr, b)
		}
	case *hclsyntax.IndexExpr:
		n.Collection = guard(n.Collection, b)
		n.Key = guard(n.Key, b)
	case *hclsyntax.SplatExpr:
		n.Source = iterated(guard(n.Source, b), b)
		n.Each = guard(n.Each, b)
	case *hclsyntax.ForExpr:
		n.CollExpr = iterated(guard(n.CollExpr, b), b)
		n.KeyExpr = guard(n.KeyExpr, b)
		n.ValExpr = guard(n.ValExpr, b)
		n.CondExpr = guard(n.CondExpr, b)
	case *hclsyntax.RelativeTraversalExpr:
		n.Source = guard(n.Source, b)
	case *hclsyntax.ParenthesesExpr:
		n.Expression = guard(n.Expression, b)
	}
	return &guarded{Expression: e, b: b}
}

// Functions whose results can be far larger than their arguments are
// checked before they run: each estimate is an upper bound of the result's
// size (string bytes, plus one per element), which may not pass
// maxStringBytes. A value's size is counted only up to a bound, so that a
// value of many references to one large value cannot make the count itself
// expensive.
var estimates = map[string]func(args []cty.Value) int{
	"indent": func(args []cty.Value) int {
		n, s := intArg(args, 0), strArg(args, 1)
		return len(s) + n*(strings.Count(s, "\n")+1)
	},
	"replace": func(args []cty.Value) int {
		s, sub, repl := strArg(args, 0), strArg(args, 1), strArg(args, 2)
		matches := len(s) + 1
		if sub != "" {
			matches = strings.Count(s, sub)
		}
		return len(s) + matches*len(repl)
	},
	"regex_replace": func(args []cty.Value) int {
		s, pattern, repl := strArg(args, 0), strArg(args, 1), strArg(args, 2)
		re, err := regexp.Compile(pattern)
		if err != nil {
			return 0 // the function reports the pattern
		}
		longest, found := 0, re.FindAllStringIndex(s, -1)
		for _, m := range found {
			longest = max(longest, m[1]-m[0])
		}
		// Each "$n" of the replacement expands to at most the longest match.
		refs := strings.Count(repl, "$")
		return len(s) + len(found)*(len(repl)+refs*longest)
	},
	"join": func(args []cty.Value) int {
		n := 0
		for _, a := range args[min(1, len(args)):] {
			if a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
				n += a.LengthInt()
			}
		}
		return sizeOf(args[min(1, len(args)):]) + n*len(strArg(args, 0))
	},
	"concat":     func(args []cty.Value) int { return sizeOf(args) },
	"flatten":    func(args []cty.Value) int { return sizeOf(args) },
	"jsonencode": func(args []cty.Value) int { return 6 * sizeOf(args) }, // \u0000 is six bytes
	"yamlencode": func(args []cty.Value) int { return 6 * sizeOf(args) },
	"format":     func(args []cty.Value) int { return formatSize(args, 1) },
	"formatlist": func(args []cty.Value) int {
		rows := 1
		for _, a := range args[min(1, len(args)):] {
			if a.IsKnown() && !a.IsNull() && (a.Type().IsListType() || a.Type().IsTupleType()) {
				rows = max(rows, a.LengthInt())
			}
		}
		return formatSize(args, rows)
	},
}

// boundResults wraps the functions of estimates with their check; the
// last of the function table's init calls it.
func boundResults() {
	for name, estimate := range estimates {
		f, ok := functions[name]
		if !ok {
			panic("jobspec: estimates names a function the table does not have: " + name)
		}
		functions[name] = bounded(f, func(args []cty.Value) error {
			if n := estimate(args); n > maxStringBytes {
				return fmt.Errorf("its result would be too large (about %d bytes or elements; at most %d)", n, maxStringBytes)
			}
			return nil
		})
	}
}

// formatSize bounds a format's result: the format itself, every verb
// padded to the widest width allowed (4 digits), the arguments' sizes,
// all of it once per row.
func formatSize(args []cty.Value, rows int) int {
	f := strArg(args, 0)
	return rows * (len(f) + strings.Count(f, "%")*10000 + sizeOf(args[min(1, len(args)):]))
}

func strArg(args []cty.Value, i int) string {
	if i >= len(args) || !args[i].IsKnown() || args[i].IsNull() || args[i].Type() != cty.String {
		return ""
	}
	s, _ := args[i].Unmark()
	return s.AsString()
}

func intArg(args []cty.Value, i int) int {
	if i >= len(args) || !args[i].IsKnown() || args[i].IsNull() || args[i].Type() != cty.Number {
		return 0
	}
	v, _ := args[i].Unmark()
	n, _ := v.AsBigFloat().Int64()
	return int(min(max(n, 0), maxStringBytes+1))
}

// sizeOf is the size of values (string bytes, plus one per element or
// scalar), counted up to just past maxStringBytes.
func sizeOf(vals []cty.Value) int {
	n := 0
	for _, v := range vals {
		n = sizeUpTo(v, n, maxStringBytes+1)
		if n > maxStringBytes {
			break
		}
	}
	return n
}

func sizeUpTo(v cty.Value, n, limit int) int {
	if n >= limit {
		return n
	}
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return n + 1
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return n + 1 + len(v.AsString())
	case v.CanIterateElements():
		n++
		for it := v.ElementIterator(); it.Next() && n < limit; {
			k, e := it.Element()
			if ty.IsMapType() || ty.IsObjectType() {
				n = sizeUpTo(k, n, limit)
			}
			n = sizeUpTo(e, n, limit)
		}
		return n
	}
	return n + 1
}
