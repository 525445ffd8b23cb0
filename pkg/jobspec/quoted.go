package jobspec

import (
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// quotedNames lets a block's arguments have quoted names ("com.example.x"
// = "y"), which HCL's native syntax does not allow but Nomad's parser
// does, and which driver config blocks (labels, sysctl, logging) use for
// keys with dots. Each quoted name is replaced by an identifier of the same
// length, so positions stay right, and put back where names are read.
type quotedNames map[string]string

// unquoteNames rewrites the quoted argument names of src. A quoted name
// is one at the start of a line, or after "{", followed by "=", in a
// block's body: in an object constructor ({ "TZ" = "UTC" }) a quoted key
// is HCL's own syntax and stays as written.
func unquoteNames(src []byte) ([]byte, quotedNames) {
	tokens, diags := hclsyntax.LexConfig(src, "", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return src, nil
	}
	var out []byte
	names := quotedNames{}
	// blocks holds, for each brace open, whether it opens a block's body
	// (after its type or a label) rather than an object constructor.
	var blocks []bool
	for i := 0; i+3 < len(tokens); i++ {
		switch tokens[i].Type {
		case hclsyntax.TokenOBrace:
			blocks = append(blocks, i > 0 && (tokens[i-1].Type == hclsyntax.TokenIdent || tokens[i-1].Type == hclsyntax.TokenCQuote))
		case hclsyntax.TokenCBrace:
			if len(blocks) > 0 {
				blocks = blocks[:len(blocks)-1]
			}
		}
		if len(blocks) > 0 && !blocks[len(blocks)-1] {
			continue
		}
		if tokens[i].Type != hclsyntax.TokenOQuote || tokens[i+1].Type != hclsyntax.TokenQuotedLit ||
			tokens[i+2].Type != hclsyntax.TokenCQuote || tokens[i+3].Type != hclsyntax.TokenEqual {
			continue
		}
		if i > 0 && tokens[i-1].Type != hclsyntax.TokenNewline && tokens[i-1].Type != hclsyntax.TokenOBrace && tokens[i-1].Type != hclsyntax.TokenComment {
			continue
		}
		name := string(tokens[i+1].Bytes)
		if strings.ContainsAny(name, `\$%`) {
			continue
		}
		from, to := tokens[i].Range.Start.Byte, tokens[i+2].Range.End.Byte
		id, ok := placeholder(len(names), to-from)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]byte{}, src...)
		}
		copy(out[from:to], id)
		names[id] = name
	}
	if out == nil {
		return src, nil
	}
	return out, names
}

// placeholder is the n-th identifier of the given length.
func placeholder(n, length int) (string, bool) {
	id := "q" + strconv.FormatInt(int64(n), 36)
	if len(id) > length {
		return "", false
	}
	return id + strings.Repeat("_", length-len(id)), true
}

// name returns the name an argument was written with.
func (q quotedNames) name(n string) string {
	if orig, ok := q[n]; ok {
		return orig
	}
	return n
}

// fix puts quoted names back into diagnostics.
func (q quotedNames) fix(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(q) == 0 {
		return diags
	}
	for _, d := range diags {
		for id, orig := range q {
			d.Summary = strings.ReplaceAll(d.Summary, id, strconv.Quote(orig))
			d.Detail = strings.ReplaceAll(d.Detail, id, strconv.Quote(orig))
		}
	}
	return diags
}
