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
			blocks = append(blocks, opensBlock(tokens, i))
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

// opensBlock tells whether the brace at tokens[i] opens a block's body:
// what precedes it on its line (past inline comments, back to the line's
// start or an enclosing brace) is a block header, a type and labels
// (names or quoted strings), and nothing else — not "x =", "in" of a for
// expression, or a call's parenthesis, after which a brace opens an
// object.
func opensBlock(tokens hclsyntax.Tokens, i int) bool {
	header := 0
	j := i - 1
	for ; j >= 0; j-- {
		t := tokens[j]
		switch t.Type {
		case hclsyntax.TokenComment:
			if strings.HasSuffix(string(t.Bytes), "\n") {
				goto start // a line comment ends the line before
			}
			continue
		case hclsyntax.TokenNewline, hclsyntax.TokenOBrace, hclsyntax.TokenCBrace:
			goto start
		case hclsyntax.TokenIdent:
			header++
			continue
		case hclsyntax.TokenCQuote:
			if j >= 2 && tokens[j-1].Type == hclsyntax.TokenQuotedLit && tokens[j-2].Type == hclsyntax.TokenOQuote {
				j -= 2
				header++
				continue
			}
			if j >= 1 && tokens[j-1].Type == hclsyntax.TokenOQuote { // ""
				j--
				header++
				continue
			}
		}
		return false
	}
start:
	// The first token of a header is the block's type: a name.
	return header > 0 && tokens[j+1].Type == hclsyntax.TokenIdent && !forKeyword(tokens, j+1, i)
}

// forKeyword tells whether the header-like run tokens[from:to] holds a for
// expression's keyword ("for k, v in" needs a comma, but "for v in" is
// names only).
func forKeyword(tokens hclsyntax.Tokens, from, to int) bool {
	for k := from; k < to; k++ {
		if tokens[k].Type == hclsyntax.TokenIdent && string(tokens[k].Bytes) == "in" && k > from && string(tokens[from].Bytes) == "for" {
			return true
		}
	}
	return false
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
