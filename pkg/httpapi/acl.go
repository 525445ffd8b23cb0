package httpapi

import (
	"errors"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// BootstrapRequest is the optional body of an ACL bootstrap: the secret
// to give the first management token (default: a random one).
type BootstrapRequest struct {
	BootstrapSecret string `json:"bootstrap_secret,omitempty"`
}

func (s *Server) aclRoutes(mux *access.Mux) {
	for _, m := range []string{"PUT", "POST"} {
		mux.HandleFunc(m+" /v1/acl/bootstrap", s.aclBootstrap)
		mux.HandleFunc(m+" /v1/acl/policy/{name}", s.aclPutPolicy)
		mux.HandleFunc(m+" /v1/acl/token", s.aclCreateToken)
		mux.HandleFunc(m+" /v1/acl/token/{id}", s.aclUpdateToken)
		mux.HandleFunc(m+" /v1/acl/role", s.aclPutRole)
		mux.HandleFunc(m+" /v1/acl/role/{id}", s.aclPutRole)
	}
	mux.HandleFunc("GET /v1/acl/roles", s.aclRoles)
	mux.HandleFunc("GET /v1/acl/role/{id}", s.aclRole)
	mux.HandleFunc("GET /v1/acl/role/name/{name}", s.aclRole)
	mux.HandleFunc("DELETE /v1/acl/role/{id}", s.aclDeleteRole)
	mux.HandleFunc("GET /v1/acl/policies", s.aclPolicies)
	mux.HandleFunc("GET /v1/acl/policy/{name}", s.aclPolicy)
	mux.HandleFunc("DELETE /v1/acl/policy/{name}", s.aclDeletePolicy)
	mux.HandleFunc("GET /v1/acl/tokens", s.aclTokens)
	mux.HandleFunc("GET /v1/acl/token/self", s.aclSelf)
	mux.HandleFunc("GET /v1/acl/token/{id}", s.aclToken)
	mux.HandleFunc("DELETE /v1/acl/token/{id}", s.aclDeleteToken)
}

// aclAnswer writes v, or the ACL service's error.
func aclAnswer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		var e *access.Error
		if errors.As(err, &e) {
			writeError(w, e.Code, e)
			return
		}
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	writeJSON(w, http.StatusOK, v)
}

// aclOn answers 400 when the server runs without -acl.
func (s *Server) aclOn(w http.ResponseWriter) bool {
	if s.ACL == nil {
		aclAnswer(w, nil, access.ErrACLDisabled)
		return false
	}
	return true
}

func (s *Server) aclBootstrap(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	var req BootstrapRequest
	if r.ContentLength != 0 {
		if _, ok := readBody(w, r, &req); !ok {
			return
		}
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	t, err := s.ACL.Bootstrap(ctx, req.BootstrapSecret)
	aclAnswer(w, t, err)
}

func (s *Server) aclPutPolicy(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	var p api.ACLPolicy
	if _, ok := readBody(w, r, &p); !ok {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	out, err := s.ACL.UpsertPolicy(ctx, r.PathValue("name"), &p)
	aclAnswer(w, out, err)
}

func (s *Server) aclPolicies(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	ps, err := s.ACL.Policies(ctx)
	aclAnswer(w, nonNil(ps), err)
}

func (s *Server) aclPolicy(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	p, err := s.ACL.Policy(ctx, r.PathValue("name"))
	aclAnswer(w, p, err)
}

func (s *Server) aclDeletePolicy(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	aclAnswer(w, nil, s.ACL.DeletePolicy(ctx, r.PathValue("name")))
}

func (s *Server) aclCreateToken(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	var t api.ACLToken
	if _, ok := readBody(w, r, &t); !ok {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	out, err := s.ACL.CreateToken(ctx, &t)
	aclAnswer(w, out, err)
}

func (s *Server) aclUpdateToken(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	var t api.ACLToken
	if _, ok := readBody(w, r, &t); !ok {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	out, err := s.ACL.UpdateToken(ctx, r.PathValue("id"), &t)
	aclAnswer(w, out, err)
}

func (s *Server) aclTokens(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	ts, err := s.ACL.Tokens(ctx)
	aclAnswer(w, nonNil(ts), err)
}

func (s *Server) aclToken(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	t, err := s.ACL.Token(ctx, r.PathValue("id"))
	aclAnswer(w, t, err)
}

func (s *Server) aclDeleteToken(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	aclAnswer(w, nil, s.ACL.DeleteToken(ctx, r.PathValue("id")))
}

func (s *Server) aclSelf(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	secret, _ := access.Secret(r)
	t, err := access.Self(r.Context(), secret)
	aclAnswer(w, t, err)
}

func (s *Server) aclPutRole(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	var role api.ACLRole
	if _, ok := readBody(w, r, &role); !ok {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	out, err := s.ACL.UpsertRole(ctx, r.PathValue("id"), &role)
	aclAnswer(w, out, err)
}

func (s *Server) aclRoles(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	rs, err := s.ACL.Roles(ctx)
	aclAnswer(w, nonNil(rs), err)
}

// aclRole reads a role by ID, or by name on /v1/acl/role/name/{name}.
func (s *Server) aclRole(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	var role *api.ACLRole
	var err error
	if name := r.PathValue("name"); name != "" {
		role, err = s.ACL.RoleByName(ctx, name)
	} else {
		role, err = s.ACL.Role(ctx, r.PathValue("id"))
	}
	aclAnswer(w, role, err)
}

func (s *Server) aclDeleteRole(w http.ResponseWriter, r *http.Request) {
	if !s.aclOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	aclAnswer(w, nil, s.ACL.DeleteRole(ctx, r.PathValue("id")))
}
