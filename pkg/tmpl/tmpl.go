// Package tmpl renders task templates: Go's text/template with the
// functions of consul-template that Nomad jobs use (nomadVar,
// nomadService, env, file, and the string and encoding helpers). It does
// no I/O of its own: what templates read comes from a Source, which the
// node agent backs with the servers (variables) and the service catalog.
// A render reports which kinds of data it read, so that the agent watches
// only those.
package tmpl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Source is what a template reads.
type Source interface {
	// Env is the task's environment variable key ("" when unset).
	Env(key string) string
	// Var reads a variable's items: a *MissingError when it does not
	// exist, ErrForbidden-like errors when the task may not read it.
	Var(path string) (map[string]string, error)
	// VarList lists the variables the task may read whose path starts
	// with prefix.
	VarList(prefix string) ([]*api.Variable, error)
	// Services returns the healthy instances of a service of the task's
	// namespace.
	Services(name string) ([]*api.ServiceRegistration, error)
	// File reads a file of the task's directory.
	File(path string) (string, error)
}

// MissingError says what a render waited for and did not find: Nomad's
// templates block until a variable they read exists.
type MissingError struct{ What []string }

func (e *MissingError) Error() string { return "missing: " + strings.Join(e.What, ", ") }

// Options are a template block's rendering settings.
type Options struct {
	// Name names the template in errors (its destination).
	Name                  string
	LeftDelim, RightDelim string
	ErrorOnMissingKey     bool
	// MaxOutput bounds the rendered text (default 4 MiB).
	MaxOutput int
}

// Used says what kinds of data a render read.
type Used struct {
	Vars, Services bool
}

// ErrConsul answers key, service and the other Consul functions.
var ErrConsul = errors.New("nomadic does not use Consul: read variables with nomadVar and services with nomadService")

// Render executes a template's text with src.
func Render(text string, o Options, src Source) (string, Used, error) {
	r := &renderer{src: src}
	t := template.New(o.Name).Delims(o.LeftDelim, o.RightDelim).Funcs(r.funcs())
	if o.ErrorOnMissingKey {
		t = t.Option("missingkey=error")
	}
	t, err := t.Parse(text)
	if err != nil {
		return "", Used{}, err
	}
	if err := checkTree(t); err != nil {
		return "", Used{}, err
	}
	max := o.MaxOutput
	if max <= 0 {
		max = 4 << 20
	}
	out := &limited{max: max}
	err = t.Execute(out, nil)
	if len(r.missing) > 0 {
		return "", r.used, &MissingError{What: r.missing}
	}
	if err != nil {
		return "", r.used, err
	}
	return out.buf.String(), r.used, nil
}

// checkTree refuses a range over a number: text/template would loop that
// many times with no way to stop it, and the number may come from data.
func checkTree(t *template.Template) error {
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return nil
			}
			for _, c := range x.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.RangeNode:
			if rangesNumber(x.Pipe) {
				return fmt.Errorf("template: %s:%d: range over a number is not supported", t.Name(), lineOf(t, x.Position()))
			}
			if err := walk(x.List); err != nil {
				return err
			}
			return walk(x.ElseList)
		case *parse.IfNode:
			if err := walk(x.List); err != nil {
				return err
			}
			return walk(x.ElseList)
		case *parse.WithNode:
			if err := walk(x.List); err != nil {
				return err
			}
			return walk(x.ElseList)
		}
		return nil
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			if err := walk(tt.Tree.Root); err != nil {
				return err
			}
		}
	}
	return nil
}

// rangesNumber reports whether a range's pipeline is a number, or may be
// one: a literal, a variable, or parseInt.
func rangesNumber(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) == 0 {
		return false
	}
	last := p.Cmds[len(p.Cmds)-1]
	for _, a := range last.Args {
		switch x := a.(type) {
		case *parse.NumberNode:
			return true
		case *parse.IdentifierNode:
			if x.Ident == "parseInt" || x.Ident == "parseUint" || x.Ident == "len" {
				return true
			}
		case *parse.VariableNode:
			// $n alone may hold a number; $x.field is data.
			if len(last.Args) == 1 && len(x.Ident) == 1 {
				return true
			}
		}
	}
	return false
}

func lineOf(t *template.Template, pos parse.Pos) int {
	if t.Tree == nil {
		return 0
	}
	loc, _ := t.Tree.ErrorContext(nodeAt(pos))
	parts := strings.Split(loc, ":")
	n := 0
	if len(parts) >= 2 {
		fmt.Sscanf(parts[len(parts)-2], "%d", &n)
	}
	return n
}

// nodeAt makes a node that ErrorContext can place.
func nodeAt(pos parse.Pos) parse.Node { return &parse.TextNode{NodeType: parse.NodeText, Pos: pos} }

// limited is a buffer that refuses to grow past max.
type limited struct {
	buf bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		return 0, fmt.Errorf("the rendered template exceeds %d bytes", l.max)
	}
	return l.buf.Write(p)
}
