package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
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
	PutACLRole(ctx context.Context, r *api.ACLRole) (*api.ACLRole, error)
	GetACLRole(ctx context.Context, id string) (*api.ACLRole, error)
	ACLRoleByName(ctx context.Context, name string) (*api.ACLRole, error)
	ListACLRoles(ctx context.Context) ([]*api.ACLRole, error)
	DeleteACLRole(ctx context.Context, id string) error
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
		Type: t.Type, Policies: t.Policies, Roles: t.Roles, Global: t.Global, CreateTime: now, ExpirationTTL: t.ExpirationTTL}
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
		if len(t.Policies) == 0 && len(t.Roles) == 0 {
			return bad("a client token needs at least one policy or role")
		}
	case api.TokenManagement:
		if len(t.Policies) > 0 || len(t.Roles) > 0 {
			return bad("a management token may do everything: it takes no policies or roles")
		}
	default:
		return bad("token type %q: want client or management", t.Type)
	}
	if err := s.checkPolicies(ctx, t.Policies); err != nil {
		return err
	}
	for i, link := range t.Roles {
		var role *api.ACLRole
		var err error
		switch {
		case link.ID != "":
			role, err = s.Store.GetACLRole(ctx, link.ID)
		case link.Name != "":
			role, err = s.Store.ACLRoleByName(ctx, link.Name)
		default:
			return bad("a role link needs an ID or a name")
		}
		if errors.Is(err, store.ErrNotFound) {
			return bad("no ACL role %s", strings.TrimSpace(link.ID+" "+link.Name))
		}
		if err != nil {
			return storeErr("role", err)
		}
		t.Roles[i] = api.ACLRoleLink{ID: role.ID, Name: role.Name}
	}
	return nil
}

func (s *Service) checkPolicies(ctx context.Context, names []string) error {
	for _, p := range names {
		if _, err := s.Store.GetACLPolicy(ctx, p); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return bad("no ACL policy named %q", p)
			}
			return storeErr("policy", err)
		}
	}
	return nil
}

// UpsertRole creates a role (id "") or replaces role id.
func (s *Service) UpsertRole(ctx context.Context, id string, r *api.ACLRole) (*api.ACLRole, error) {
	switch {
	case id == "" && r.ID != "":
		return nil, bad("a new role gets its ID from the server: leave ID empty, or update the role at /v1/acl/role/%s", r.ID)
	case id != "" && r.ID != "" && r.ID != id:
		return nil, bad("the role's ID %q is not the path's %q", r.ID, id)
	case !policyName.MatchString(r.Name):
		return nil, bad("role name %q: use 1 to 128 letters, digits and '-'", r.Name)
	case len(r.Policies) == 0:
		return nil, bad("a role needs at least one policy")
	}
	if err := s.checkPolicies(ctx, r.Policies); err != nil {
		return nil, err
	}
	if id == "" {
		r.ID = api.NewID()
	} else {
		if _, err := s.Store.GetACLRole(ctx, id); err != nil {
			return nil, storeErr(fmt.Sprintf("ACL role %q", id), err)
		}
		r.ID = id
	}
	out, err := s.Store.PutACLRole(ctx, r)
	if err != nil {
		return nil, storeErr("role", err)
	}
	s.changed()
	return out, nil
}

// Role reads a role by ID.
func (s *Service) Role(ctx context.Context, id string) (*api.ACLRole, error) {
	r, err := s.Store.GetACLRole(ctx, id)
	return r, storeErr(fmt.Sprintf("ACL role %q", id), err)
}

// RoleByName reads a role by name.
func (s *Service) RoleByName(ctx context.Context, name string) (*api.ACLRole, error) {
	r, err := s.Store.ACLRoleByName(ctx, name)
	return r, storeErr(fmt.Sprintf("ACL role %q", name), err)
}

// Roles lists the roles.
func (s *Service) Roles(ctx context.Context) ([]*api.ACLRole, error) {
	rs, err := s.Store.ListACLRoles(ctx)
	return rs, storeErr("roles", err)
}

// DeleteRole removes a role; tokens linking it lose its policies.
func (s *Service) DeleteRole(ctx context.Context, id string) error {
	err := storeErr(fmt.Sprintf("ACL role %q", id), s.Store.DeleteACLRole(ctx, id))
	if err == nil {
		s.changed()
	}
	return err
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
