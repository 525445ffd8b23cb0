package nomadapi

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Nomad's service discovery API (`nomad service list|info|delete`, the
// api package's Services, and the tools that read it: Prometheus'
// nomad_sd_configs, Traefik's Nomad provider), over the built-in catalog.

// ServiceRegistrationListStub is one namespace's services, as Nomad lists
// them.
type ServiceRegistrationListStub struct {
	Namespace string
	Services  []*ServiceRegistrationStub
}

// ServiceRegistrationStub is one service of a namespace with the tags of
// all its instances.
type ServiceRegistrationStub struct {
	ServiceName string
	Tags        []string
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	regs, err := s.Store.ListServices(ctx, nsFilter(namespace(r)), "")
	if err != nil {
		return err
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return err
	}
	byNS := map[string]map[string]map[string]bool{} // namespace → service → tags
	for _, reg := range regs {
		svcs := byNS[reg.Namespace]
		if svcs == nil {
			svcs = map[string]map[string]bool{}
			byNS[reg.Namespace] = svcs
		}
		tags := svcs[reg.ServiceName]
		if tags == nil {
			tags = map[string]bool{}
			svcs[reg.ServiceName] = tags
		}
		for _, t := range reg.Tags {
			tags[t] = true
		}
	}
	out := []*ServiceRegistrationListStub{}
	for ns, svcs := range byNS {
		stub := &ServiceRegistrationListStub{Namespace: ns}
		for name, tags := range svcs {
			ts := make([]string, 0, len(tags))
			for t := range tags {
				ts = append(ts, t)
			}
			sort.Strings(ts)
			if svc := (&ServiceRegistrationStub{ServiceName: name, Tags: ts}); f.match(svc) {
				stub.Services = append(stub.Services, svc)
			}
		}
		if len(stub.Services) == 0 {
			continue
		}
		sort.Slice(stub.Services, func(i, j int) bool { return stub.Services[i].ServiceName < stub.Services[j].ServiceName })
		out = append(out, stub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return s.reply(w, r, out)
}

// getService answers a service's instances in the query's namespace;
// choose=N|KEY keeps N of them, picked by rendezvous hashing on KEY, so
// that each client asking with its own key spreads over the instances
// and keeps its picks while they last (consul-template's nomadService
// with a count).
func (s *Server) getService(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	q := r.URL.Query()
	n, key, err := parseChoose(q.Get("choose"))
	if err != nil {
		return err
	}
	f, err := parseFilter(q.Get("filter"))
	if err != nil {
		return err
	}
	regs, err := s.Store.ListServices(ctx, namespace(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	out, err := s.serviceRegistrations(ctx, regs, func(reg *ServiceRegistration) bool { return f.match(reg) })
	if err != nil {
		return err
	}
	if n > 0 {
		out = choose(out, n, key)
	}
	return s.reply(w, r, out)
}

// parseChoose reads choose=N|KEY (an empty value: every instance).
func parseChoose(v string) (int, string, error) {
	if v == "" {
		return 0, "", nil
	}
	num, key, ok := strings.Cut(v, "|")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 || key == "" {
		return 0, "", badRequest("choose %q must be a count and a key: N|KEY", v)
	}
	return n, key, nil
}

// choose keeps the n instances whose hash with key ranks highest.
func choose(regs []*ServiceRegistration, n int, key string) []*ServiceRegistration {
	if n >= len(regs) {
		return regs
	}
	score := func(id string) uint64 {
		sum := sha256.Sum256([]byte(key + "\x00" + id))
		return binary.BigEndian.Uint64(sum[:8])
	}
	sort.SliceStable(regs, func(i, j int) bool { return score(regs[i].ID) > score(regs[j].ID) })
	return regs[:n]
}

// deleteService removes an instance from the catalog, as `nomad service
// delete` does: its node's copy, and with it the index entry the leader
// keeps. While its allocation runs, its node agent writes it again the
// next time it writes the instance: when a check's result changes, or
// when it registers again.
func (s *Server) deleteService(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, name, id := namespace(r), r.PathValue("name"), r.PathValue("id")
	regs, err := s.Store.ListServices(ctx, ns, name)
	if err != nil {
		return err
	}
	for _, reg := range regs {
		if reg.ID != id {
			continue
		}
		if err := s.Store.DeleteService(ctx, reg.NodeID, ns, name, id); err != nil {
			return err
		}
		return s.reply(w, r, struct{}{})
	}
	return notFound("service registration not found")
}

func (s *Server) jobServices(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ns, id := namespace(r), r.PathValue("id")
	if _, _, err := s.Store.GetJob(ctx, ns, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("job not found")
		}
		return err
	}
	regs, err := s.Store.ListServices(ctx, ns, "")
	if err != nil {
		return err
	}
	out, err := s.serviceRegistrations(ctx, regs, func(reg *ServiceRegistration) bool { return reg.JobID == id })
	if err != nil {
		return err
	}
	return s.reply(w, r, out)
}

// allocRegistrations reads an allocation and its service instances.
func (s *Server) allocRegistrations(ctx context.Context, id string) (*api.Allocation, []*api.ServiceRegistration, error) {
	a, err := s.findAlloc(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	all, err := s.Store.ListServices(ctx, a.Namespace, "")
	if err != nil {
		return nil, nil, err
	}
	var regs []*api.ServiceRegistration
	for _, reg := range all {
		if reg.AllocID == a.ID {
			regs = append(regs, reg)
		}
	}
	return a, regs, nil
}

func (s *Server) allocationServices(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	_, regs, err := s.allocRegistrations(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.serviceRegistrations(ctx, regs, func(*ServiceRegistration) bool { return true })
	if err != nil {
		return err
	}
	return s.reply(w, r, out)
}

// serviceRegistrations shapes the instances keep keeps as Nomad does,
// with their node's datacenter, sorted by service and ID.
func (s *Server) serviceRegistrations(ctx context.Context, regs []*api.ServiceRegistration, keep func(*ServiceRegistration) bool) ([]*ServiceRegistration, error) {
	out := []*ServiceRegistration{}
	if len(regs) == 0 {
		return out, nil
	}
	nodes, err := s.Store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	dc := make(map[string]string, len(nodes))
	for _, n := range nodes {
		dc[n.ID] = n.Datacenter
	}
	for _, reg := range regs {
		sr := toServiceRegistration(reg, 0)
		sr.Datacenter = dc[reg.NodeID]
		if keep(sr) {
			out = append(out, sr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ServiceName != out[j].ServiceName {
			return out[i].ServiceName < out[j].ServiceName
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
