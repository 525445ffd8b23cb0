package jobspec

import (
	"regexp"

	"github.com/hashicorp/hcl/v2"
)

// runtimeRoot matches the start of an interpolation that only the scheduler
// or the node agent can resolve: ${attr.…}, ${node.…}, ${meta.…},
// ${device.…}, ${env["…"]} and ${NOMAD_…}.
var runtimeRoot = regexp.MustCompile(`^\$\{\s*(attr|node|meta|device|env|unique)\b|^\$\{\s*NOMAD_[A-Za-z0-9_]*`)

// escapeRuntimeInterpolations escapes runtime interpolations ("${" becomes
// "$${") so that HCL keeps them as literal text for the scheduler and the
// node agent, instead of failing on variables it does not know. It returns
// where it inserted characters, to put diagnostics back in place.
func escapeRuntimeInterpolations(src []byte) ([]byte, shifts) {
	var out []byte
	var sh shifts
	line, col := 1, 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '$' && i+1 < len(src) && src[i+1] == '{' && (i == 0 || src[i-1] != '$') && runtimeRoot.Match(src[i:min(len(src), i+64)]) {
			if out == nil {
				out = append(make([]byte, 0, len(src)+16), src[:i]...)
			}
			sh = append(sh, shift{line: line, col: col, byte: len(out)})
			out = append(out, '$')
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
