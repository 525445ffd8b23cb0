package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ACLStore is what the ACL endpoints read and write.
type ACLStore interface {
	PutACLPolicy(ctx context.Context, p *api.ACLPolicy) (*api.ACLPolicy, error)
	GetACLPolicy(ctx context.Context, name string) (*api.ACLPolicy, error)
	ListACLPolicies(ctx context.Context) ([]*api.ACLPolicy, error)
	DeleteACLPolicy(ctx context.Context, name string) error
	BootstrapACL(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error)
	CreateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error)
	UpdateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error)
	GetACLToken(ctx context.Context, accessor string) (*api.ACLToken, error)
	ListACLTokens(ctx context.Context) ([]*api.ACLToken, error)
	DeleteACLToken(ctx context.Context, accessor string) error
}

// Service is the ACL endpoints' logic, which both APIs shape their own
// way. Its errors are *Error with the HTTP status to answer.
type Service struct {
	Store ACLStore
	// Resolver, if set, forgets what it cached after each change, so that
	// the change is in force at once on this server.
	Resolver *Resolver
	Now      func() time.Time
}

// Error is a refusal of the ACL endpoints with its HTTP status.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// ErrACLDisabled answers the ACL endpoints of a server without -acl.
var ErrACLDisabled = &Error{Code: http.StatusBadRequest, Msg: "ACL support disabled: start the servers with -acl"}

func bad(format string, args ...any) error {
	return &Error{Code: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// storeErr turns a store error into an *Error.
func storeErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrBootstrapped):
		return &Error{Code: http.StatusBadRequest, Msg: "ACL bootstrap already done (docs/security.md: resetting the bootstrap)"}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Code: http.StatusNotFound, Msg: what + " not found"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Code: http.StatusConflict, Msg: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: http.StatusServiceUnavailable, Msg: "etcd did not answer in time: " + err.Error()}
	}
	return &Error{Code: http.StatusInternalServerError, Msg: err.Error()}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) changed() {
	if s.Resolver != nil {
		s.Resolver.Forget()
	}
}

var policyName = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

// Bootstrap creates the first management token, once. secret, if not
// empty, is the secret to give it (Nomad's BootstrapSecret).
func (s *Service) Bootstrap(ctx context.Context, secret string) (*api.ACLToken, error) {
	if secret == "" {
		secret = api.NewID()
	} else if len(secret) < 16 {
		return nil, bad("a bootstrap secret must have at least 16 characters")
	}
	t := &api.ACLToken{AccessorID: api.NewID(), SecretID: secret, SecretHash: api.HashSecret(secret),
		Name: "Bootstrap Token", Type: api.TokenManagement, Global: true, CreateTime: s.now()}
	stored, err := s.Store.BootstrapACL(ctx, t)
	if err != nil {
		return nil, storeErr("token", err)
	}
	s.changed()
	out := stored.Public(false)
	out.SecretID = secret
	return out, nil
}

// UpsertPolicy checks a policy's rules and stores it.
func (s *Service) UpsertPolicy(ctx context.Context, name string, p *api.ACLPolicy) (*api.ACLPolicy, error) {
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		return nil, bad("the policy's name %q is not the path's %q", p.Name, name)
	}
	if !policyName.MatchString(name) {
		return nil, bad("policy name %q: use 1 to 128 letters, digits and '-'", name)
	}
	if _, err := acl.Parse(name, p.Rules); err != nil {
		return nil, bad("policy %s does not parse:\n%v", name, err)
	}
	out, err := s.Store.PutACLPolicy(ctx, p)
	if err != nil {
		return nil, storeErr("policy", err)
	}
	s.changed()
	return out, nil
}

// Policy reads a policy.
func (s *Service) Policy(ctx context.Context, name string) (*api.ACLPolicy, error) {
	p, err := s.Store.GetACLPolicy(ctx, name)
	return p, storeErr(fmt.Sprintf("ACL policy %q", name), err)
}

// Policies lists the policies.
func (s *Service) Policies(ctx context.Context) ([]*api.ACLPolicy, error) {
	ps, err := s.Store.ListACLPolicies(ctx)
	return ps, storeErr("policies", err)
}

// DeletePolicy removes a policy.
func (s *Service) DeletePolicy(ctx context.Context, name string) error {
	err := storeErr(fmt.Sprintf("ACL policy %q", name), s.Store.DeleteACLPolicy(ctx, name))
	if err == nil {
		s.changed()
	}
	return err
}

// CreateToken makes a token from t's name, type, policies and
// expiration (ExpirationTTL or ExpirationTime); the answer holds its
// secret, the only time it is shown.
func (s *Service) CreateToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	if t.AccessorID != "" {
		return nil, bad("a new token gets its accessor from the server: leave AccessorID empty, or update the token at /v1/acl/token/%s", t.AccessorID)
	}
	if err := s.checkToken(ctx, t); err != nil {
		return nil, err
	}
	now := s.now()
	secret := api.NewID()
	n := &api.ACLToken{AccessorID: api.NewID(), SecretID: secret, SecretHash: api.HashSecret(secret), Name: t.Name,
		Type: t.Type, Policies: t.Policies, Global: t.Global, CreateTime: now, ExpirationTTL: t.ExpirationTTL}
	switch {
	case t.ExpirationTTL < 0:
		return nil, bad("the expiration TTL is negative")
	case t.ExpirationTTL > 0:
		exp := now.Add(t.ExpirationTTL.Std())
		n.ExpirationTime = &exp
	case t.ExpirationTime != nil:
		if !t.ExpirationTime.After(now) {
			return nil, bad("the expiration time %s is in the past", t.ExpirationTime.Format(time.RFC3339))
		}
		exp := t.ExpirationTime.UTC()
		n.ExpirationTime = &exp
	}
	stored, err := s.Store.CreateACLToken(ctx, n)
	if err != nil {
		return nil, storeErr("token", err)
	}
	out := stored.Public(false)
	out.SecretID = secret
	return out, nil
}

func (s *Service) checkToken(ctx context.Context, t *api.ACLToken) error {
	if t.Type == "" {
		t.Type = api.TokenClient
	}
	switch t.Type {
	case api.TokenClient:
		if len(t.Policies) == 0 {
			return bad("a client token needs at least one policy")
		}
	case api.TokenManagement:
		if len(t.Policies) > 0 {
			return bad("a management token may do everything: it takes no policies")
		}
	default:
		return bad("token type %q: want client or management", t.Type)
	}
	for _, p := range t.Policies {
		if _, err := s.Store.GetACLPolicy(ctx, p); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return bad("no ACL policy named %q", p)
			}
			return storeErr("policy", err)
		}
	}
	return nil
}

// UpdateToken changes a token's name, type and policies.
func (s *Service) UpdateToken(ctx context.Context, accessor string, t *api.ACLToken) (*api.ACLToken, error) {
	if t.AccessorID != "" && t.AccessorID != accessor {
		return nil, bad("the token's accessor %q is not the path's %q", t.AccessorID, accessor)
	}
	if err := s.checkToken(ctx, t); err != nil {
		return nil, err
	}
	t.AccessorID = accessor
	out, err := s.Store.UpdateACLToken(ctx, t)
	if err != nil {
		return nil, storeErr(fmt.Sprintf("ACL token %q", accessor), err)
	}
	s.changed()
	return out.Public(false), nil
}

// Token reads a token, without its secret.
func (s *Service) Token(ctx context.Context, accessor string) (*api.ACLToken, error) {
	t, err := s.Store.GetACLToken(ctx, accessor)
	if err != nil {
		return nil, storeErr(fmt.Sprintf("ACL token %q", accessor), err)
	}
	return t.Public(false), nil
}

// Tokens lists the tokens, without their secrets.
func (s *Service) Tokens(ctx context.Context) ([]*api.ACLToken, error) {
	ts, err := s.Store.ListACLTokens(ctx)
	if err != nil {
		return nil, storeErr("tokens", err)
	}
	out := make([]*api.ACLToken, len(ts))
	for i, t := range ts {
		out[i] = t.Public(false)
	}
	return out, nil
}

// DeleteToken removes a token.
func (s *Service) DeleteToken(ctx context.Context, accessor string) error {
	err := storeErr(fmt.Sprintf("ACL token %q", accessor), s.Store.DeleteACLToken(ctx, accessor))
	if err == nil {
		s.changed()
	}
	return err
}

// Self is the token of the request (its secret is what the caller sent,
// and is answered back as Nomad does).
func Self(ctx context.Context, secret string) (*api.ACLToken, error) {
	id := FromContext(ctx)
	switch {
	case id == nil || id.Anonymous:
		return nil, &Error{Code: http.StatusForbidden, Msg: "Permission denied: the request carries no ACL token"}
	case id.Token == nil:
		// A -http-token-file token: management, with no record.
		return &api.ACLToken{AccessorID: "static", SecretID: secret, Name: "token file", Type: api.TokenManagement}, nil
	}
	out := id.Token.Public(false)
	out.SecretID = secret
	return out, nil
}
