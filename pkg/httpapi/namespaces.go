package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// namespaceKinds are what a namespace list is made of: the namespaces
// operators created and the jobs, whose namespaces are listed too.
var namespaceKinds = []store.Kind{store.KindNamespaces, store.KindJobs}

// listNamespaces lists every namespace: created by operators, used by
// jobs, and default.
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	all, err := s.Store.AllNamespaces(ctx)
	if err != nil {
		storeError(w, "namespaces", err)
		return
	}
	writeJSON(w, http.StatusOK, all)
}

func (s *Server) getNamespace(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	all, err := s.Store.AllNamespaces(ctx)
	if err != nil {
		storeError(w, "namespace", err)
		return
	}
	for _, n := range all {
		if n.Name == r.PathValue("name") {
			writeJSON(w, http.StatusOK, n)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("namespace %q not found", r.PathValue("name")))
}

// putNamespace creates or updates a namespace: its description and meta.
func (s *Server) putNamespace(w http.ResponseWriter, r *http.Request) {
	var n api.Namespace
	if _, ok := readBody(w, r, &n); !ok {
		return
	}
	name := r.PathValue("name")
	if n.Name != "" && n.Name != name {
		writeError(w, http.StatusBadRequest, fmt.Errorf("namespace name %q in the path does not match the body's %q", name, n.Name))
		return
	}
	n.Name = name
	if err := n.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	if err := s.Store.PutNamespace(ctx, &n); err != nil {
		storeError(w, "namespace", err)
		return
	}
	got, err := s.Store.GetNamespace(ctx, name)
	if err != nil {
		storeError(w, "namespace", err)
		return
	}
	writeJSON(w, http.StatusOK, got)
}

// deleteNamespace removes a namespace an operator created, if no job is
// in it; default is never deleted.
func (s *Server) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == api.DefaultNamespace {
		writeError(w, http.StatusBadRequest, errors.New("the default namespace cannot be deleted"))
		return
	}
	ctx, cancel := reqCtx(r)
	defer cancel()
	err := s.Store.DeleteNamespace(ctx, name)
	switch {
	case errors.Is(err, store.ErrNamespaceInUse):
		writeError(w, http.StatusConflict, fmt.Errorf("cannot delete namespace %q: %w", name, err))
		return
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("namespace %q not found (only namespaces created with apply can be deleted)", name))
		return
	case err != nil:
		storeError(w, "namespace", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
