package api

import (
	"slices"
	"text/template/parse"
)

// ConsulTemplateFunctions are consul-template's functions that read
// Consul or Vault, which nomadic does not use: a template that calls one
// fails when it is rendered (the node agent's renderer answers each with
// an error saying so).
var ConsulTemplateFunctions = []string{"key", "keyOrDefault", "keyExists", "ls", "tree", "safeLs", "safeTree", "service", "services",
	"connect", "caRoots", "caLeaf", "node", "nodes", "secret", "secrets", "pkiCert"}

// ConsulCalls are the Consul and Vault functions an embedded template
// calls, each once, in the order first called; nil when it calls none or
// does not parse (the renderer reports that).
func (t *Template) ConsulCalls() []string {
	if t == nil || t.Data == "" {
		return nil
	}
	left, right := t.LeftDelim, t.RightDelim
	if left == "" {
		left = "{{"
	}
	if right == "" {
		right = "}}"
	}
	tree := parse.New("template")
	tree.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := tree.Parse(t.Data, left, right, trees); err != nil {
		return nil
	}
	var out []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IdentifierNode:
			if slices.Contains(ConsulTemplateFunctions, n.Ident) && !slices.Contains(out, n.Ident) {
				out = append(out, n.Ident)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.ChainNode: // (secret "kv/x").Data.password
			walk(n.Node)
		}
	}
	for _, tr := range trees {
		walk(tr.Root)
	}
	return out
}
