package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// varKinds are what blocking queries of variables wait on.
var varKinds = []store.Kind{store.KindVariables}

// VariableConflict is the answer to a check-and-set write that lost: the
// error and the variable as it is (none when it does not exist).
type VariableConflict struct {
	Error    string        `json:"error"`
	Variable *api.Variable `json:"variable,omitempty"`
}

// varsRoutes adds the variable and keyring endpoints.
func (s *Server) varsRoutes(mux *access.Mux) {
	mux.HandleFunc("GET /v1/vars", s.blocking(varKinds, s.listVars))
	mux.HandleFunc("GET /v1/var/{path...}", s.blocking(varKinds, s.getVar))
	mux.HandleFunc("PUT /v1/var/{path...}", s.putVar)
	mux.HandleFunc("POST /v1/var/{path...}", s.putVar)
	mux.HandleFunc("DELETE /v1/var/{path...}", s.deleteVar)
	mux.HandleFunc("GET /v1/operator/keyring/keys", s.keyringKeys)
	mux.HandleFunc("PUT /v1/operator/keyring/rotate", s.keyringRotate)
	mux.HandleFunc("POST /v1/operator/keyring/rotate", s.keyringRotate)
}

// varsOn answers 501 when the server runs without a keyring.
func (s *Server) varsOn(w http.ResponseWriter) bool {
	if s.Vars == nil {
		writeError(w, http.StatusNotImplemented, errors.New("this server has no keyring, so it serves no variables: start it with -keyring-file (docs/variables.md)"))
		return false
	}
	return true
}

// varError maps the variable service's errors to HTTP answers.
func (s *Server) varError(w http.ResponseWriter, r *http.Request, what string, err error) {
	var conflict *store.VariableConflict
	var lock *variables.LockError
	switch {
	case errors.As(err, &conflict):
		writeJSON(w, http.StatusConflict, VariableConflict{Error: err.Error(), Variable: s.Vars.Conflicting(r.Context(), conflict)})
	case errors.As(err, &lock):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, variables.ErrForbidden):
		writeError(w, http.StatusForbidden, err)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("%s not found", what))
	case errors.Is(err, variables.ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	default:
		storeError(w, what, err)
	}
}

// casParam reads ?cas=N: the modify index a write expects (-1: none).
func casParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("cas")
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cas %q is not an index", v)
	}
	return n, nil
}

func (s *Server) listVars(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	who, err := s.Vars.Caller(ctx, r.Header)
	if err != nil {
		s.varError(w, r, "variables", err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	switch ns {
	case "":
		ns = api.DefaultNamespace
	case "*":
		ns = ""
	}
	list, err := s.Vars.List(ctx, who, ns, r.URL.Query().Get("prefix"))
	if err != nil {
		s.varError(w, r, "variables", err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getVar(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	path := variables.CleanPath(r.PathValue("path"))
	who, err := s.Vars.Caller(ctx, r.Header)
	if err != nil {
		s.varError(w, r, "variable", err)
		return
	}
	v, err := s.Vars.Get(ctx, who, namespace(r), path)
	if err != nil {
		s.varError(w, r, fmt.Sprintf("variable %q", path), err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// operatorOnly refuses requests made with a workload identity: tasks read
// variables, they do not change them.
func (s *Server) operatorOnly(w http.ResponseWriter, r *http.Request) bool {
	who, err := s.Vars.Caller(r.Context(), r.Header)
	if err == nil && who != nil {
		err = fmt.Errorf("%w: a workload identity may only read variables", variables.ErrForbidden)
	}
	if err != nil {
		s.varError(w, r, "variable", err)
		return false
	}
	return true
}

func (s *Server) putVar(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) || !s.operatorOnly(w, r) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	v, err := DecodeVariable(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	v.Path = variables.CleanPath(r.PathValue("path"))
	v.Namespace = namespace(r)
	q := r.URL.Query()
	lockID := ""
	if v.Lock != nil {
		lockID = v.Lock.ID
	}
	var out *api.Variable
	switch {
	case q.Has("lock-acquire"):
		out, err = s.Vars.AcquireLock(ctx, v)
	case q.Has("lock-renew"):
		out, err = s.Vars.RenewLock(ctx, v.Namespace, v.Path, lockID)
	case q.Has("lock-release"):
		out, err = s.Vars.ReleaseLock(ctx, v.Namespace, v.Path, lockID)
	default:
		var cas int64
		if cas, err = casParam(r); err == nil {
			out, err = s.Vars.Put(ctx, v, cas)
		}
	}
	if err != nil {
		s.varError(w, r, fmt.Sprintf("variable %q", v.Path), err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// DecodeVariable reads a variable from a request body: the variable's
// JSON, whose unknown fields are refused. Its path and namespace come
// from the URL.
func DecodeVariable(body io.Reader) (*api.Variable, error) {
	var v api.Variable
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding the variable: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding the variable: more than one JSON value in the body")
	}
	return &v, nil
}

func (s *Server) deleteVar(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) || !s.operatorOnly(w, r) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	path := variables.CleanPath(r.PathValue("path"))
	cas, err := casParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.Vars.Delete(ctx, namespace(r), path, cas, r.URL.Query().Get("lock_id")); err != nil {
		s.varError(w, r, fmt.Sprintf("variable %q", path), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": path, "deleted": true})
}

func (s *Server) keyringKeys(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) || !s.operatorOnly(w, r) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	keys, err := s.Vars.Keyring.Keys(ctx)
	if err != nil {
		storeError(w, "keyring", err)
		return
	}
	usage, err := s.Vars.KeyUsage(ctx)
	if err != nil {
		storeError(w, "keyring", err)
		return
	}
	for i := range keys {
		keys[i].Variables = usage[keys[i].ID]
	}
	writeJSON(w, http.StatusOK, keys)
}

func (s *Server) keyringRotate(w http.ResponseWriter, r *http.Request) {
	if !s.varsOn(w) || !s.operatorOnly(w, r) {
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	k, err := s.Vars.Keyring.Rotate(ctx)
	if err != nil {
		storeError(w, "keyring", err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}
