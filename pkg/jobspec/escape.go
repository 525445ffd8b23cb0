package jobspec

import (
	"bytes"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// escapeRuntimeInterpolations escapes runtime interpolations ("${" becomes
// "$${") so that HCL keeps them as literal text for the scheduler and the
// node agent, instead of failing on variables it does not know. An
// interpolation is a runtime one when it refers to any name other than
// var and local: ${attr.…}, ${node.…}, ${meta.…}, ${NOMAD_…}, or a
// variable of the task's environment such as ${NODE_ID}, as Nomad's parser
// leaves them. It returns where it inserted characters, to put diagnostics
// back in place.
func escapeRuntimeInterpolations(src []byte) ([]byte, shifts) {
	hclNames := boundNames(src)
	var quoted map[int]bool
	var out []byte
	var sh shifts
	line, col := 1, 1
	insert := func(c byte) {
		sh = append(sh, shift{line: line, col: col, byte: len(out)})
		out = append(out, c)
	}
	quoteEnd := -1 // inside a runtime interpolation of a quoted string: where it ends
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '$' && i+1 < len(src) && src[i+1] == '{' && (i == 0 || src[i-1] != '$') && isRuntime(src[i:], hclNames) {
			if out == nil {
				out = append(make([]byte, 0, len(src)+16), src[:i]...)
				quoted = quotedInterpolations(src)
			}
			insert('$')
			if inner, _ := interpolationBody(src[i:]); quoted[i] && bytes.IndexByte(inner, '"') >= 0 {
				// Escaped, the interpolation is text of its string: its
				// quotes must not end the string.
				quoteEnd = i + 2 + len(inner)
			}
		}
		if i < quoteEnd && c == '"' {
			insert('\\')
		}
		if out != nil {
			out = append(out, c)
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	if out == nil {
		return src, nil
	}
	return out, sh
}

// quotedInterpolations finds the interpolations ("${") that sit in quoted
// strings rather than heredocs, by their byte offsets.
func quotedInterpolations(src []byte) map[int]bool {
	tokens, _ := hclsyntax.LexConfig(src, "", hcl.Pos{Line: 1, Column: 1})
	out := map[int]bool{}
	var stack []hclsyntax.TokenType
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if t.Type == hclsyntax.TokenTemplateInterp && len(stack) > 0 && stack[len(stack)-1] == hclsyntax.TokenOQuote {
				out[t.Range.Start.Byte] = true
			}
			stack = append(stack, t.Type)
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	return out
}

var (
	forNames     = regexp.MustCompile(`\bfor\s+([A-Za-z_][A-Za-z0-9_-]*)(?:\s*,\s*([A-Za-z_][A-Za-z0-9_-]*))?\s+in\b`)
	dynamicNames = regexp.MustCompile(`\bdynamic\s+"([A-Za-z_][A-Za-z0-9_-]*)"|\biterator\s*=\s*"?([A-Za-z_][A-Za-z0-9_-]*)`)
)

// boundNames are the names an interpolation may use in HCL: var, local,
// and those bound in the file by for expressions and dynamic blocks (their
// labels or iterator names), which are HCL's, not the task's.
func boundNames(src []byte) map[string]bool {
	names := map[string]bool{"var": true, "local": true}
	for _, re := range []*regexp.Regexp{forNames, dynamicNames} {
		for _, m := range re.FindAllSubmatch(src, -1) {
			for _, n := range m[1:] {
				if len(n) > 0 {
					names[string(n)] = true
				}
			}
		}
	}
	return names
}

// maxInterpolation bounds how far isRuntime looks for the end of an
// interpolation.
const maxInterpolation = 2048

// isRuntime reports whether the interpolation at the start of src ("${")
// refers to a name that is not an HCL variable or local.
func isRuntime(src []byte, hclNames map[string]bool) bool {
	inner, ok := interpolationBody(src)
	if !ok {
		return false
	}
	inner = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(inner), []byte("~")), []byte("~")))
	if len(inner) == 0 {
		return false
	}
	expr, diags := hclsyntax.ParseExpression(inner, "", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		// Not HCL at all ("${foo bar}"): text for the task, as in Nomad.
		return true
	}
	for _, tr := range expr.Variables() {
		if !hclNames[tr.RootName()] {
			return true
		}
	}
	return false
}

// interpolationBody returns what lies between "${" and its closing brace,
// skipping braces inside quoted strings.
func interpolationBody(src []byte) ([]byte, bool) {
	depth := 0
	inString := false
	for i := 2; i < len(src) && i < maxInterpolation; i++ {
		c := src[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			case '\n':
				return nil, false
			}
		case c == '"':
			inString = true
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return src[2:i], true
			}
			depth--
		}
	}
	return nil, false
}

type shift struct{ line, col, byte int }

// shifts are the insertions escapeRuntimeInterpolations made.
type shifts []shift

// fix moves diagnostics from the escaped text back onto the original.
func (s shifts) fix(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(s) == 0 {
		return diags
	}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r != nil {
				r.Start = s.pos(r.Start)
				r.End = s.pos(r.End)
			}
		}
	}
	return diags
}

// fixRange moves one range back onto the original text.
func (s shifts) fixRange(r hcl.Range) hcl.Range {
	if len(s) == 0 {
		return r
	}
	r.Start, r.End = s.pos(r.Start), s.pos(r.End)
	return r
}

func (s shifts) pos(p hcl.Pos) hcl.Pos {
	dc, db := 0, 0
	for i, sh := range s {
		// The i-th insertion sits at escaped column sh.col+i' where i'
		// counts earlier insertions on the same line.
		before := 0
		for _, o := range s[:i] {
			if o.line == sh.line {
				before++
			}
		}
		if sh.line == p.Line && sh.col+before < p.Column {
			dc++
		}
		if sh.byte < p.Byte {
			db++
		}
	}
	p.Column -= dc
	p.Byte -= db
	return p
}
