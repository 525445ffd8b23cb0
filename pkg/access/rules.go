package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Rule is what a route needs. Build one with the functions below.
type Rule struct {
	open       bool
	token      bool
	management bool
	node       level
	agent      level
	operator   level
	cap        string
	from       nsSource
	// param is the path wildcard that names the object (nsAlloc,
	// nsDeployment).
	param string
	// nameIsNamespace: the answer's elements are namespaces, by Name.
	nameIsNamespace bool
	varOp           string
	custom          func(*http.Request, *acl.ACL) *Denied
}

type level int

const (
	levelNone level = iota
	levelRead
	levelWrite
)

type nsSource int

const (
	nsQuery nsSource = iota
	nsBody
	nsAlloc
	nsDeployment
	nsResult
)

// Open is a route anyone may use: the health check, the UI's files.
func Open() Rule { return Rule{open: true} }

// AnyToken is a route any token may use (its own token), but not an
// anonymous request.
func AnyToken() Rule { return Rule{token: true} }

// Management is a route only management tokens may use.
func Management() Rule { return Rule{management: true} }

// NodeRead needs node:read; NodeWrite node:write; and so on.
func NodeRead() Rule      { return Rule{node: levelRead} }
func NodeWrite() Rule     { return Rule{node: levelWrite} }
func AgentRead() Rule     { return Rule{agent: levelRead} }
func AgentWrite() Rule    { return Rule{agent: levelWrite} }
func OperatorRead() Rule  { return Rule{operator: levelRead} }
func OperatorWrite() Rule { return Rule{operator: levelWrite} }

// NS needs capability cap on the namespace of the request's query
// (default "default"; "*" needs a rule that covers every namespace).
func NS(cap string) Rule { return Rule{cap: cap, from: nsQuery} }

// NSBody needs cap on the namespace of the job in the request's body (or
// the query's, or "default").
func NSBody(cap string) Rule { return Rule{cap: cap, from: nsBody} }

// NSAlloc needs cap on the namespace of the allocation the path
// wildcard param names.
func NSAlloc(cap, param string) Rule { return Rule{cap: cap, from: nsAlloc, param: param} }

// NSDeployment needs cap on the namespace of the deployment the path
// wildcard param names.
func NSDeployment(cap, param string) Rule { return Rule{cap: cap, from: nsDeployment, param: param} }

// NSResult needs cap on the namespace of the query if it names one, and
// filters the answer: a list keeps the elements of namespaces with cap,
// an object of another namespace is refused.
func NSResult(cap string) Rule { return Rule{cap: cap, from: nsResult} }

// Namespaces filters a list of namespaces to those the token may use.
func Namespaces() Rule { return Rule{from: nsResult, nameIsNamespace: true} }

// Var needs variable capability op on the variable the path names (the
// list route filters its answer). Workload identities pass to the
// handler, which verifies them.
func Var(op string) Rule { return Rule{varOp: op} }

// Custom needs what check says of the request.
func Custom(check func(*http.Request, *acl.ACL) *Denied) Rule { return Rule{custom: check} }

// And is a rule that needs both.
func (r Rule) And(o Rule) Rule {
	r.node, r.agent, r.operator = max(r.node, o.node), max(r.agent, o.agent), max(r.operator, o.operator)
	if o.cap != "" || o.nameIsNamespace {
		r.cap, r.from, r.param, r.nameIsNamespace = o.cap, o.from, o.param, o.nameIsNamespace
	}
	r.management = r.management || o.management
	if o.custom != nil {
		r.custom = o.custom
	}
	return r
}

func coarse(what string, have func() bool, need func() bool, l level) *Denied {
	switch {
	case l == levelRead && !have():
		return &Denied{Lacks: what + ":read"}
	case l == levelWrite && !need():
		return &Denied{Lacks: what + ":write"}
	}
	return nil
}

// check applies the rule to a request of id; it returns a filter for
// the answer when the rule needs one.
func (rule Rule) check(r *http.Request, id *Identity, objs Objects) (func(*element) *Denied, error) {
	a := id.ACL
	if rule.token && id.Anonymous {
		return nil, &Denied{Lacks: "an ACL token"}
	}
	if a.IsManagement() {
		return nil, nil
	}
	if rule.management {
		return nil, &Denied{Lacks: "management privileges (a management token)"}
	}
	if d := coarse("node", a.AllowNodeRead, a.AllowNodeWrite, rule.node); d != nil {
		return nil, d
	}
	if d := coarse("agent", a.AllowAgentRead, a.AllowAgentWrite, rule.agent); d != nil {
		return nil, d
	}
	if d := coarse("operator", a.AllowOperatorRead, a.AllowOperatorWrite, rule.operator); d != nil {
		return nil, d
	}
	if rule.custom != nil {
		if d := rule.custom(r, a); d != nil {
			return nil, d
		}
	}
	if rule.varOp != "" {
		return rule.checkVar(r, a)
	}
	if rule.cap == "" && !rule.nameIsNamespace {
		return nil, nil
	}
	q := r.URL.Query().Get("namespace")
	ns := q
	if ns == "" {
		ns = api.DefaultNamespace
	}
	switch rule.from {
	case nsBody:
		var err error
		if ns, err = bodyNamespace(r, ns); err != nil {
			return nil, err
		}
	case nsAlloc, nsDeployment:
		objID := pathValue(r, rule.param)
		if objs == nil {
			return nil, &statusError{code: http.StatusInternalServerError, msg: "the API's guard cannot look up objects (no Gate.Objects)"}
		}
		var err error
		if rule.from == nsAlloc {
			var al *api.Allocation
			if al, err = objs.GetAlloc(r.Context(), objID); err == nil {
				ns = al.Namespace
			}
		} else {
			var d *api.Deployment
			if d, _, err = objs.GetDeployment(r.Context(), objID); err == nil {
				ns = d.Namespace
			}
		}
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAmbiguous):
			return nil, nil // the handler answers 404 or 400
		case err != nil:
			return nil, err
		}
	case nsResult:
		switch {
		case rule.nameIsNamespace:
		case q != "" && q != "*" && !a.AllowNamespaceOp(q, rule.cap):
			return nil, nsDenied(rule.cap, q)
		case !a.AllowAnyNamespaceOp(rule.cap):
			return nil, &Denied{Lacks: fmt.Sprintf("capability %s on any namespace", rule.cap)}
		}
		return func(obj *element) *Denied {
			if rule.nameIsNamespace {
				name := obj.Name
				if a.AllowNamespace(name) {
					return nil
				}
				return &Denied{Lacks: "any capability on namespace " + name}
			}
			ons := obj.Namespace
			if ons == "" {
				ons = api.DefaultNamespace
			}
			if a.AllowNamespaceOp(ons, rule.cap) {
				return nil
			}
			return nsDenied(rule.cap, ons)
		}, nil
	}
	if !a.AllowNamespaceOp(ns, rule.cap) {
		return nil, nsDenied(rule.cap, ns)
	}
	return nil, nil
}

func nsDenied(cap, ns string) *Denied {
	return &Denied{Lacks: fmt.Sprintf("capability %s on namespace %s", cap, ns)}
}

func (rule Rule) checkVar(r *http.Request, a *acl.ACL) (func(*element) *Denied, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = api.DefaultNamespace
	}
	path := pathValue(r, "path")
	if path == "" && rule.varOp == acl.VarList {
		return func(obj *element) *Denied {
			ons, p := obj.Namespace, obj.Path
			if a.AllowVariableOp(ons, p, acl.VarList) {
				return nil
			}
			return varDenied(acl.VarList, ons, p)
		}, nil
	}
	if !a.AllowVariableOp(ns, path, rule.varOp) {
		return nil, varDenied(rule.varOp, ns, path)
	}
	return nil, nil
}

func varDenied(op, ns, path string) *Denied {
	return &Denied{Lacks: fmt.Sprintf("variable capability %s on path %q in namespace %s", op, path, ns)}
}

func field(obj map[string]json.RawMessage, names ...string) string {
	for _, n := range names {
		if raw, ok := obj[n]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
		}
	}
	return ""
}

// bodyNamespace reads the namespace of the job a request's body holds,
// and puts the body back for the handler.
func bodyNamespace(r *http.Request, fallback string) (string, error) {
	if r.Body == nil {
		return fallback, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", &statusError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body too large: the limit is %d bytes", mbe.Limit)}
		}
		return "", &statusError{code: http.StatusBadRequest, msg: "reading the request body: " + err.Error()}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	var body map[string]json.RawMessage
	if json.Unmarshal(b, &body) != nil {
		return fallback, nil // the handler says what is wrong with it
	}
	if ns := field(body, "Namespace", "namespace"); ns != "" {
		return ns, nil
	}
	for _, k := range []string{"Job", "job"} {
		if raw, ok := body[k]; ok {
			var job map[string]json.RawMessage
			if json.Unmarshal(raw, &job) == nil {
				if ns := field(job, "Namespace", "namespace"); ns != "" {
					return ns, nil
				}
			}
		}
	}
	return fallback, nil
}

// peekBody decodes a request's JSON object body and puts the body back
// (nil if it is not one).
func peekBody(r *http.Request) map[string]json.RawMessage {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{err}))
	var body map[string]json.RawMessage
	if json.Unmarshal(b, &body) != nil {
		return nil
	}
	return body
}

// errReader hands the handler the error reading the body ended with.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// pathValue reads a wildcard of the route a request matched, before the
// mux has set r's path values: the segment where the pattern has
// {name}, or the rest of the path for {name...}.
func pathValue(r *http.Request, name string) string {
	if v := r.PathValue(name); v != "" {
		return v
	}
	_, pattern := muxPattern(r)
	_, p, _ := strings.Cut(pattern, " ")
	psegs := strings.Split(p, "/")
	rsegs := strings.Split(r.URL.Path, "/")
	for i, s := range psegs {
		if i >= len(rsegs) {
			break
		}
		switch s {
		case "{" + name + "}":
			return rsegs[i]
		case "{" + name + "...}":
			return strings.Join(rsegs[i:], "/")
		}
	}
	return ""
}

type patternKey struct{}

// muxPattern is the pattern the gate found for the request.
func muxPattern(r *http.Request) (bool, string) {
	p, ok := r.Context().Value(patternKey{}).(string)
	return ok, p
}
