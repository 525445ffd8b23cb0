package nomadapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
)

// Variable is a variable as Nomad's API shapes it; list answers leave
// Items out (VariableMetadata).
type Variable struct {
	Namespace   string
	Path        string
	CreateIndex uint64
	ModifyIndex uint64
	CreateTime  int64
	ModifyTime  int64
	Items       map[string]string `json:",omitempty"`
	Lock        *VariableLock     `json:",omitempty"`
}

// VariableLock is a variable's lock; its durations are Go duration
// strings.
type VariableLock struct {
	ID        string
	TTL       string
	LockDelay string
}

// RootKeyMeta is a keyring key as Nomad lists it.
type RootKeyMeta struct {
	KeyID      string
	Algorithm  string
	CreateTime int64
	State      string
}

var varKinds = []store.Kind{store.KindVariables}

func (s *Server) varsRoutes(get func(string, []store.Kind, handler), write func(string, string, handler)) {
	get("/v1/vars", varKinds, s.listVars)
	get("/v1/var/{path...}", varKinds, s.getVar)
	write("PUT,POST", "/v1/var/{path...}", s.putVar)
	write("DELETE", "/v1/var/{path...}", s.deleteVar)
	get("/v1/operator/keyring/keys", []store.Kind{store.KindRootKeys}, s.keyringKeys)
	write("PUT,POST", "/v1/operator/keyring/rotate", s.keyringRotate)
}

func toNomadVar(v *api.Variable) *Variable {
	if v == nil {
		return nil
	}
	out := &Variable{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex,
		CreateTime: v.CreateTime.UnixNano(), ModifyTime: v.ModifyTime.UnixNano(), Items: v.Items}
	if v.CreateTime.IsZero() {
		out.CreateTime = 0
	}
	if v.ModifyTime.IsZero() {
		out.ModifyTime = 0
	}
	if l := v.Lock; l != nil {
		out.Lock = &VariableLock{ID: l.ID, TTL: l.TTL.Std().String(), LockDelay: l.LockDelay.Std().String()}
	}
	return out
}

func (s *Server) varsOn() error {
	if s.Vars == nil {
		return &httpError{code: http.StatusNotImplemented, msg: "this server has no keyring, so it serves no variables: start it with -keyring-file (docs/variables.md)"}
	}
	return nil
}

// varErr maps the variable service's errors to Nomad's answers; a lost
// check-and-set answers 409 with the variable as it is, which Nomad's
// client decodes.
func (s *Server) varErr(w http.ResponseWriter, r *http.Request, err error) error {
	var conflict *store.VariableConflict
	var lock *variables.LockError
	switch {
	case errors.As(err, &conflict):
		cur := toNomadVar(s.Vars.Conflicting(r.Context(), conflict))
		if cur == nil {
			cur = &Variable{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		return json.NewEncoder(w).Encode(cur)
	case errors.As(err, &lock):
		return &httpError{code: http.StatusConflict, msg: err.Error()}
	case errors.Is(err, variables.ErrForbidden):
		return &httpError{code: http.StatusForbidden, msg: "Permission denied: " + err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return notFound("variable not found")
	case errors.Is(err, variables.ErrInvalid):
		return badRequest("%v", err)
	}
	return err
}

func (s *Server) listVars(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	who, err := s.Vars.Caller(ctx, r.Header)
	if err != nil {
		return s.varErr(w, r, err)
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	list, err := s.Vars.List(ctx, who, nsFilter(namespace(r)), r.URL.Query().Get("prefix"))
	if err != nil {
		return s.varErr(w, r, err)
	}
	out := make([]*Variable, 0, len(list))
	for _, v := range list {
		if nv := toNomadVar(v); f.match(nv) {
			out = append(out, nv)
		}
	}
	// Pages (per_page, next_token) by namespace and path.
	key := func(v *Variable) string { return v.Namespace + "/" + v.Path }
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return s.reply(w, r, page(w, r, out, key))
}

func (s *Server) getVar(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	who, err := s.Vars.Caller(ctx, r.Header)
	if err != nil {
		return s.varErr(w, r, err)
	}
	v, err := s.Vars.Get(ctx, who, namespace(r), variables.CleanPath(r.PathValue("path")))
	if err != nil {
		return s.varErr(w, r, err)
	}
	return s.reply(w, r, toNomadVar(v))
}

// operator refuses writes made with a workload identity.
func (s *Server) operator(w http.ResponseWriter, r *http.Request) error {
	who, err := s.Vars.Caller(r.Context(), r.Header)
	if err == nil && who != nil {
		err = fmt.Errorf("%w: a workload identity may only read variables", variables.ErrForbidden)
	}
	if err != nil {
		return s.varErr(w, r, err)
	}
	return nil
}

func parseCAS(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("cas")
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("cas %q is not an index", v)
	}
	return n, nil
}

func (s *Server) putVar(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	if err := s.operator(w, r); err != nil {
		return err
	}
	var in Variable
	if err := decode(r, &in); err != nil {
		return err
	}
	q := r.URL.Query()
	if in.Items == nil && !q.Has("lock-acquire") && !q.Has("lock-renew") && !q.Has("lock-release") {
		return badRequest("variable missing required Items object")
	}
	v := &api.Variable{Namespace: namespace(r), Path: variables.CleanPath(r.PathValue("path")), Items: in.Items}
	if in.Namespace != "" && r.URL.Query().Get("namespace") == "" {
		v.Namespace = in.Namespace
	}
	lockID := ""
	if l := in.Lock; l != nil {
		lockID = l.ID
		v.Lock = &api.VariableLock{ID: l.ID}
		for _, d := range []struct {
			s   string
			dst *api.Duration
		}{{l.TTL, &v.Lock.TTL}, {l.LockDelay, &v.Lock.LockDelay}} {
			if d.s == "" {
				continue
			}
			dur, err := time.ParseDuration(d.s)
			if err != nil {
				return badRequest("lock duration %q: %v", d.s, err)
			}
			*d.dst = api.Duration(dur)
		}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	var out *api.Variable
	var err error
	switch {
	case q.Has("lock-acquire"):
		out, err = s.Vars.AcquireLock(ctx, v)
	case q.Has("lock-renew"):
		out, err = s.Vars.RenewLock(ctx, v.Namespace, v.Path, lockID)
	case q.Has("lock-release"):
		out, err = s.Vars.ReleaseLock(ctx, v.Namespace, v.Path, lockID)
	default:
		var cas int64
		if cas, err = parseCAS(r); err != nil {
			return err
		}
		out, err = s.Vars.Put(ctx, v, cas)
	}
	if err != nil {
		return s.varErr(w, r, err)
	}
	return s.reply(w, r, toNomadVar(out))
}

func (s *Server) deleteVar(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	if err := s.operator(w, r); err != nil {
		return err
	}
	cas, err := parseCAS(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := s.Vars.Delete(ctx, namespace(r), variables.CleanPath(r.PathValue("path")), cas, r.URL.Query().Get("lock_id")); err != nil {
		return s.varErr(w, r, err)
	}
	if rev, err := s.Store.Revision(ctx); err == nil {
		setMeta(w, rev)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) keyringKeys(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	if err := s.operator(w, r); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	keys, err := s.Vars.Keyring.Keys(ctx)
	if err != nil {
		return err
	}
	out := make([]RootKeyMeta, 0, len(keys))
	for _, k := range keys {
		out = append(out, RootKeyMeta{KeyID: k.ID, Algorithm: "aes256-gcm", CreateTime: k.CreateTime.UnixNano(), State: k.State})
	}
	return s.reply(w, r, out)
}

func (s *Server) keyringRotate(w http.ResponseWriter, r *http.Request) error {
	if err := s.varsOn(); err != nil {
		return err
	}
	if err := s.operator(w, r); err != nil {
		return err
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	k, err := s.Vars.Keyring.Rotate(ctx)
	if err != nil {
		return err
	}
	return s.reply(w, r, map[string]any{"Key": RootKeyMeta{KeyID: k.ID, Algorithm: "aes256-gcm", CreateTime: k.CreateTime.UnixNano(), State: k.State}})
}
