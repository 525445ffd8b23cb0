package nomadapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// The ACL objects as Nomad's api package reads them (api.ACLPolicy,
// api.ACLPolicyListStub, api.ACLToken, api.ACLTokenListStub).
type (
	wireACLPolicy struct {
		Name        string
		Description string
		Rules       string
		CreateIndex uint64
		ModifyIndex uint64
	}
	wireACLPolicyStub struct {
		Name        string
		Description string
		CreateIndex uint64
		ModifyIndex uint64
	}
	wireACLToken struct {
		AccessorID     string
		SecretID       string
		Name           string
		Type           string
		Policies       []string
		Roles          []wireRoleLink
		Global         bool
		CreateTime     time.Time
		ExpirationTime *time.Time `json:",omitempty"`
		ExpirationTTL  ttl        `json:",omitempty"`
		CreateIndex    uint64
		ModifyIndex    uint64
	}
	wireACLTokenStub struct {
		AccessorID     string
		Name           string
		Type           string
		Policies       []string
		Roles          []wireRoleLink
		Global         bool
		CreateTime     time.Time
		ExpirationTime *time.Time `json:",omitempty"`
		CreateIndex    uint64
		ModifyIndex    uint64
	}
	wireRoleLink struct {
		ID   string
		Name string
	}
	wireACLRole struct {
		ID          string
		Name        string
		Description string
		Policies    []wirePolicyLink
		CreateIndex uint64
		ModifyIndex uint64
	}
	wirePolicyLink struct{ Name string }
)

// ttl is Nomad's ExpirationTTL: a duration string ("" for none, as
// Nomad's api package sends it) or nanoseconds.
type ttl api.Duration

func (d ttl) MarshalJSON() ([]byte, error) { return api.Duration(d).MarshalJSON() }

func (d *ttl) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		*d = 0
		return nil
	}
	return (*api.Duration)(d).UnmarshalJSON(b)
}

func toWireRoles(links []api.ACLRoleLink) []wireRoleLink {
	out := make([]wireRoleLink, 0, len(links))
	for _, l := range links {
		out = append(out, wireRoleLink{ID: l.ID, Name: l.Name})
	}
	return out
}

func toWireRole(r *api.ACLRole) *wireACLRole {
	w := &wireACLRole{ID: r.ID, Name: r.Name, Description: r.Description, Policies: []wirePolicyLink{},
		CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex}
	for _, p := range r.Policies {
		w.Policies = append(w.Policies, wirePolicyLink{Name: p})
	}
	return w
}

func toWirePolicy(p *api.ACLPolicy) *wireACLPolicy {
	return &wireACLPolicy{Name: p.Name, Description: p.Description, Rules: p.Rules, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex}
}

func toWireToken(t *api.ACLToken) *wireACLToken {
	return &wireACLToken{AccessorID: t.AccessorID, SecretID: t.SecretID, Name: t.Name, Type: t.Type,
		Policies: nonNilStrings(t.Policies), Roles: toWireRoles(t.Roles), Global: t.Global, CreateTime: t.CreateTime,
		ExpirationTime: t.ExpirationTime, ExpirationTTL: ttl(t.ExpirationTTL), CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex}
}

func fromWireToken(w *wireACLToken) *api.ACLToken {
	t := &api.ACLToken{AccessorID: w.AccessorID, Name: w.Name, Type: w.Type, Policies: w.Policies,
		Global: w.Global, ExpirationTime: w.ExpirationTime, ExpirationTTL: api.Duration(w.ExpirationTTL)}
	for _, l := range w.Roles {
		t.Roles = append(t.Roles, api.ACLRoleLink{ID: l.ID, Name: l.Name})
	}
	return t
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var aclKinds = []store.Kind{store.KindACLPolicies, store.KindACLTokens, store.KindACLRoles}

func (s *Server) aclRoutes(get func(string, []store.Kind, handler), write func(string, string, handler)) {
	write("PUT,POST", "/v1/acl/bootstrap", s.aclBootstrap)
	get("/v1/acl/policies", aclKinds, s.aclPolicies)
	get("/v1/acl/policy/{name}", aclKinds, s.aclPolicy)
	write("PUT,POST", "/v1/acl/policy/{name}", s.aclPutPolicy)
	write("DELETE", "/v1/acl/policy/{name}", s.aclDeletePolicy)
	get("/v1/acl/tokens", aclKinds, s.aclTokens)
	write("PUT,POST", "/v1/acl/token", s.aclCreateToken)
	get("/v1/acl/token/self", aclKinds, s.aclSelf)
	get("/v1/acl/token/{id}", aclKinds, s.aclToken)
	write("PUT,POST", "/v1/acl/token/{id}", s.aclUpdateToken)
	write("DELETE", "/v1/acl/token/{id}", s.aclDeleteToken)
	get("/v1/acl/roles", aclKinds, s.aclRoles)
	write("PUT,POST", "/v1/acl/role", s.aclPutRole)
	get("/v1/acl/role/{id}", aclKinds, s.aclRole)
	get("/v1/acl/role/name/{name}", aclKinds, s.aclRole)
	write("PUT,POST", "/v1/acl/role/{id}", s.aclPutRole)
	write("DELETE", "/v1/acl/role/{id}", s.aclDeleteRole)
}

func (s *Server) aclPutRole(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	var in wireACLRole
	if err := decode(r, &in); err != nil {
		return err
	}
	role := &api.ACLRole{ID: in.ID, Name: in.Name, Description: in.Description}
	for _, p := range in.Policies {
		role.Policies = append(role.Policies, p.Name)
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	out, err := svc.UpsertRole(ctx, r.PathValue("id"), role)
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireRole(out))
}

func (s *Server) aclRoles(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	rs, err := svc.Roles(ctx)
	if err != nil {
		return aclErr(err)
	}
	out := make([]*wireACLRole, 0, len(rs))
	for _, role := range rs {
		out = append(out, toWireRole(role))
	}
	return s.reply(w, r, out)
}

// aclRole reads a role by ID, or by name on /v1/acl/role/name/{name}.
func (s *Server) aclRole(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	var role *api.ACLRole
	if name := r.PathValue("name"); name != "" {
		role, err = svc.RoleByName(ctx, name)
	} else {
		role, err = svc.Role(ctx, r.PathValue("id"))
	}
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireRole(role))
}

func (s *Server) aclDeleteRole(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := svc.DeleteRole(ctx, r.PathValue("id")); err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, nil)
}

// aclErr turns the ACL service's errors into answers.
func aclErr(err error) error {
	var e *access.Error
	if errors.As(err, &e) {
		return &httpError{code: e.Code, msg: e.Msg}
	}
	return err
}

func (s *Server) aclService() (*access.Service, error) {
	if s.ACL == nil {
		return nil, aclErr(access.ErrACLDisabled)
	}
	return s.ACL, nil
}

func (s *Server) aclBootstrap(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	var req struct{ BootstrapSecret string }
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("reading the request body: %v", err)
	}
	if b = bytes.TrimSpace(b); len(b) > 0 && string(b) != "null" {
		if err := json.Unmarshal(b, &req); err != nil {
			return badRequest("decoding the request body: %v", err)
		}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, err := svc.Bootstrap(ctx, req.BootstrapSecret)
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireToken(t))
}

func (s *Server) aclPolicies(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ps, err := svc.Policies(ctx)
	if err != nil {
		return aclErr(err)
	}
	out := make([]*wireACLPolicyStub, 0, len(ps))
	for _, p := range ps {
		out = append(out, &wireACLPolicyStub{Name: p.Name, Description: p.Description, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex})
	}
	return s.reply(w, r, out)
}

func (s *Server) aclPolicy(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	p, err := svc.Policy(ctx, r.PathValue("name"))
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWirePolicy(p))
}

func (s *Server) aclPutPolicy(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	var in wireACLPolicy
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := svc.UpsertPolicy(ctx, r.PathValue("name"), &api.ACLPolicy{Name: in.Name, Description: in.Description, Rules: in.Rules}); err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, nil)
}

func (s *Server) aclDeletePolicy(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := svc.DeletePolicy(ctx, r.PathValue("name")); err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, nil)
}

func (s *Server) aclTokens(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ts, err := svc.Tokens(ctx)
	if err != nil {
		return aclErr(err)
	}
	out := make([]*wireACLTokenStub, 0, len(ts))
	for _, t := range ts {
		out = append(out, &wireACLTokenStub{AccessorID: t.AccessorID, Name: t.Name, Type: t.Type, Policies: nonNilStrings(t.Policies),
			Roles: toWireRoles(t.Roles), Global: t.Global, CreateTime: t.CreateTime, ExpirationTime: t.ExpirationTime,
			CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex})
	}
	return s.reply(w, r, out)
}

func (s *Server) aclCreateToken(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	var in wireACLToken
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, err := svc.CreateToken(ctx, fromWireToken(&in))
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireToken(t))
}

func (s *Server) aclUpdateToken(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	var in wireACLToken
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, err := svc.UpdateToken(ctx, r.PathValue("id"), fromWireToken(&in))
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireToken(t))
}

func (s *Server) aclToken(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, err := svc.Token(ctx, r.PathValue("id"))
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireToken(t))
}

func (s *Server) aclDeleteToken(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.aclService()
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := svc.DeleteToken(ctx, r.PathValue("id")); err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, nil)
}

func (s *Server) aclSelf(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.aclService(); err != nil {
		return err
	}
	secret, _ := access.Secret(r)
	t, err := access.Self(r.Context(), secret)
	if err != nil {
		return aclErr(err)
	}
	return s.reply(w, r, toWireToken(t))
}
