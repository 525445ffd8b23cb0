package httpapi

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	regs, err := s.Store.ListServices(ctx, listNamespace(r), "")
	if err != nil {
		storeError(w, "services", err)
		return
	}
	byName := map[string]*api.ServiceSummary{}
	for _, reg := range regs {
		k := reg.Namespace + "/" + reg.ServiceName
		sum := byName[k]
		if sum == nil {
			sum = &api.ServiceSummary{Name: reg.ServiceName, Namespace: reg.Namespace}
			byName[k] = sum
		}
		sum.Instances++
		if reg.Healthy() {
			sum.Healthy++
		}
		tags := map[string]bool{}
		for _, t := range sum.Tags {
			tags[t] = true
		}
		for _, t := range reg.Tags {
			if !tags[t] {
				sum.Tags = append(sum.Tags, t)
			}
		}
	}
	out := make([]*api.ServiceSummary, 0, len(byName))
	for _, sum := range byName {
		sort.Strings(sum.Tags)
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	writeJSON(w, http.StatusOK, out)
}

// getService lists a service's instances; ?healthy=true keeps those whose
// checks all pass, for load balancers (with blocking queries to watch).
func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := reqCtx(r)
	defer cancel()
	name := r.PathValue("name")
	regs, err := s.Store.ListServices(ctx, namespace(r), name)
	if err != nil {
		storeError(w, "service", err)
		return
	}
	if len(regs) == 0 {
		writeError(w, http.StatusNotFound, fmt.Errorf("service %q has no instance", name))
		return
	}
	if r.URL.Query().Get("healthy") == "true" {
		out := regs[:0]
		for _, reg := range regs {
			if reg.Healthy() {
				out = append(out, reg)
			}
		}
		regs = out
	}
	writeJSON(w, http.StatusOK, nonNil(regs))
}
