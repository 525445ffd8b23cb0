// Package access guards nomadic's two HTTP APIs: it bounds request
// bodies (413), limits each token's request rate (429), resolves a
// request's ACL token and checks that it may use the route it asked for
// (403), before the API's handler runs.
//
// What each route needs is a Rule, and every route's rule is in one place
// (rules.go): the APIs register their routes on a Mux, which refuses a
// route without a rule, so that no endpoint can be added unguarded. Rules
// that name a namespace read it from the query, from the request's body
// (a job's namespace), from the object the path names (an allocation's or
// a deployment's), or check the answer: a list is filtered to the
// namespaces the token may read, and an object of another namespace is
// refused.
package access

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/keyring"
)

// DefaultMaxBody bounds a request body, below etcd's request limit.
const DefaultMaxBody = 1 << 20

// Gate is the guard's configuration, shared by both APIs of a server.
type Gate struct {
	// ACL resolves tokens; nil when ACLs are off (every request may do
	// everything, and -http-token-file, if given, is checked outside).
	ACL *Resolver
	// Limit limits each token's request rate; nil: no limit.
	Limit *Limiter
	// MaxBody bounds request bodies (default DefaultMaxBody).
	MaxBody int64
	// Objects finds the namespace of allocations and deployments, for
	// rules on routes that name one by ID.
	Objects Objects
}

// Objects is what rules on routes naming an object by ID read.
type Objects interface {
	GetAlloc(ctx context.Context, idPrefix string) (*api.Allocation, error)
	GetDeployment(ctx context.Context, idPrefix string) (*api.Deployment, int64, error)
}

// Mux is an http.ServeMux that knows what each of its routes needs.
type Mux struct {
	*http.ServeMux
	rules    map[string]Rule
	patterns []string
}

// NewMux returns a mux whose routes must each have a rule in rules.
func NewMux(rules map[string]Rule) *Mux {
	return &Mux{ServeMux: http.NewServeMux(), rules: rules}
}

// Handle registers a route; it panics if the route has no rule, so that
// a route added without one fails every test that builds the API.
func (m *Mux) Handle(pattern string, h http.Handler) {
	if _, ok := m.rules[pattern]; !ok {
		panic(fmt.Sprintf("access: route %q has no rule in pkg/access/rules.go", pattern))
	}
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers a route (see Handle).
func (m *Mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Patterns are the routes registered, in order.
func (m *Mux) Patterns() []string { return m.patterns }

// ErrorWriter writes an API's error answer.
type ErrorWriter func(w http.ResponseWriter, code int, msg string)

// Serve returns the mux behind the gate (g may be nil: no ACLs, no rate
// limit, the default body limit).
func (m *Mux) Serve(g *Gate, writeErr ErrorWriter) http.Handler {
	if g == nil {
		g = &Gate{}
	}
	maxBody := g.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: the limit is %d bytes", maxBody))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		secret, err := Secret(r)
		if err != nil && g.ACL != nil {
			writeErr(w, http.StatusUnauthorized, err.Error())
			return
		}
		_, pattern := m.Handler(r)
		rule, ok := m.rules[pattern]
		if !ok {
			// No route of ours: the mux answers 404, 405 or a redirect
			// without running a handler.
			rule = Open()
		}
		r = r.WithContext(context.WithValue(r.Context(), patternKey{}, pattern))
		if g.Limit != nil && !rule.open {
			key := api.HashSecret(secret)
			if secret == "" {
				key = "ip:" + clientIP(r)
			}
			if ok, wait := g.Limit.Allow(key); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
				writeErr(w, http.StatusTooManyRequests, fmt.Sprintf("too many requests with this token: the limit is %s; retry after %s", g.Limit, wait.Round(1e6)))
				return
			}
		}
		if g.ACL == nil || rule.open {
			m.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), &Identity{ACL: acl.Management})))
			return
		}
		if rule.varOp != "" && keyring.LooksLikeJWT(secret) {
			// A task's workload identity: the variable handlers verify
			// it and let it read only what the task may.
			m.ServeHTTP(w, r)
			return
		}
		id, err := g.ACL.Resolve(r.Context(), secret)
		if err != nil {
			if errors.Is(err, ErrTokenNotFound) || errors.Is(err, ErrTokenExpired) {
				writeErr(w, http.StatusForbidden, err.Error())
			} else {
				writeErr(w, http.StatusServiceUnavailable, err.Error())
			}
			return
		}
		r = r.WithContext(withIdentity(r.Context(), id))
		filter, err := rule.check(r, id, g.Objects)
		if err != nil {
			var d *Denied
			if errors.As(err, &d) {
				msg := d.Error()
				if id.Anonymous {
					msg += " (the request carries no token)"
				}
				writeErr(w, http.StatusForbidden, msg)
			} else {
				writeErr(w, httpCode(err), err.Error())
			}
			return
		}
		if filter == nil {
			m.ServeHTTP(w, r)
			return
		}
		rec := &recorder{w: w, code: http.StatusOK}
		m.ServeHTTP(rec, r)
		rec.finish(filter, writeErr)
	})
}

// Secret reads a request's token: X-Nomad-Token, or Authorization:
// Bearer, or — for a WebSocket, which a browser opens without headers of
// its choosing — a TokenProtocol subprotocol.
func Secret(r *http.Request) (string, error) {
	got := r.Header.Get("X-Nomad-Token")
	if auth := r.Header.Get("Authorization"); got == "" && auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", errors.New("the Authorization header must be: Bearer TOKEN")
		}
		got = strings.TrimSpace(tok)
	}
	if got == "" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		for _, p := range WebSocketProtocols(r.Header) {
			if enc, ok := strings.CutPrefix(p, TokenProtocol); ok {
				b, err := base64.RawURLEncoding.DecodeString(enc)
				if err != nil {
					return "", errors.New("the token subprotocol must be " + TokenProtocol + "BASE64URL(TOKEN), unpadded")
				}
				return string(b), nil
			}
		}
	}
	return got, nil
}

// TokenProtocol prefixes the WebSocket subprotocol that carries a token
// (the rest is the token in unpadded base64url), as Kubernetes' API
// server takes a bearer token from a browser's WebSocket. Proxies drop it
// before the request goes further (WithoutTokenProtocol).
const TokenProtocol = "nomadic.token."

// WebSocketProtocols are the subprotocols a WebSocket request offers.
func WebSocketProtocols(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// WithoutTokenProtocol removes the token subprotocol from h, keeping the
// others offered.
func WithoutTokenProtocol(h http.Header) {
	protos := WebSocketProtocols(h)
	h.Del("Sec-WebSocket-Protocol")
	var keep []string
	for _, p := range protos {
		if !strings.HasPrefix(p, TokenProtocol) {
			keep = append(keep, p)
		}
	}
	if len(keep) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

type identityKey struct{}

func withIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext is the identity the gate resolved for a request; nil for a
// workload identity's request (the handler verifies those).
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// Denied is a refusal: what the token lacks. Its message starts with
// "Permission denied", as Nomad's does.
type Denied struct{ Lacks string }

func (d *Denied) Error() string { return "Permission denied: token lacks " + d.Lacks }

// statusError is an answer other than 403 from checking a rule.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func httpCode(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.code
	}
	return http.StatusServiceUnavailable
}

// element is what a filter reads of an answer's object. JSON field names
// match case-insensitively: "namespace" (nomadic's) and "Namespace"
// (Nomad's) alike.
type element struct {
	Namespace string
	Path      string
	Name      string
}

// recorder holds an answer back so that it can be filtered.
type recorder struct {
	w     http.ResponseWriter
	code  int
	buf   bytes.Buffer
	wrote bool
}

func (r *recorder) Header() http.Header { return r.w.Header() }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.buf.Write(b)
}

// finish writes the held answer: a JSON list without the elements filter
// refuses, or a JSON object only if filter allows it.
func (r *recorder) finish(filter func(*element) *Denied, writeErr ErrorWriter) {
	body := r.buf.Bytes()
	if r.code == http.StatusOK {
		trimmed := bytes.TrimSpace(body)
		switch {
		case bytes.HasPrefix(trimmed, []byte("[")):
			var list []json.RawMessage
			if json.Unmarshal(trimmed, &list) == nil {
				var out bytes.Buffer
				out.Grow(len(trimmed))
				out.WriteByte('[')
				n := 0
				for _, el := range list {
					var e element
					if json.Unmarshal(el, &e) == nil && filter(&e) == nil {
						if n > 0 {
							out.WriteByte(',')
						}
						out.Write(el)
						n++
					}
				}
				out.WriteString("]\n")
				body = out.Bytes()
			}
		case bytes.HasPrefix(trimmed, []byte("{")):
			var e element
			if json.Unmarshal(trimmed, &e) == nil {
				if d := filter(&e); d != nil {
					writeErr(r.w, http.StatusForbidden, d.Error())
					return
				}
			}
		}
	}
	r.w.Header().Del("Content-Length")
	r.w.WriteHeader(r.code)
	_, _ = io.Copy(r.w, bytes.NewReader(body))
}
