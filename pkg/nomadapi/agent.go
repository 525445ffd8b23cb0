package nomadapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/logmon"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// member is how a server is shown among the agent members: its name, and
// the address and port of its Nomad API.
func (s *Server) member(srv *api.Server, addr string) *AgentMember {
	host, port := splitHostPort(addr)
	return &AgentMember{
		Name: srv.Name + "." + s.Region, Addr: host, Port: port, Status: "alive",
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
		Tags: map[string]string{"role": "nomad", "region": s.Region, "dc": s.Datacenter, "build": srv.Version,
			"port": strconv.Itoa(int(port)), "raft_vsn": "3", "id": srv.Name, "expect": "1", "vsn": "1", "mvn": "1"},
	}
}

func splitHostPort(addr string) (string, uint16) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.ParseUint(p, 10, 16)
	return host, uint16(n)
}

// memberAddr is where a server's Nomad API answers: its own address for
// this server; for others, their native API's host with this server's
// Nomad API port (servers of one cluster are started alike).
func (s *Server) memberAddr(srv *api.Server) string {
	if srv.Name == s.Name {
		return s.Addr
	}
	host, _ := splitHostPort(srv.HTTPAddr)
	_, port := splitHostPort(s.Addr)
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func (s *Server) agentSelf(w http.ResponseWriter, r *http.Request) error {
	host, port := splitHostPort(s.Addr)
	self := &api.Server{Name: s.Name, Version: s.Version, HTTPAddr: s.Addr}
	out := map[string]any{
		"config": map[string]any{
			"Region":     s.Region,
			"Datacenter": s.Datacenter,
			"NodeName":   s.Name,
			"Version":    map[string]any{"Version": s.Version, "Revision": "", "VersionPrerelease": "", "VersionMetadata": "nomadic"},
			"UI":         map[string]any{"Enabled": false, "ShowCLIHints": false},
			"ACL":        map[string]any{"Enabled": false},
			"Server":     map[string]any{"Enabled": true},
			"Client":     map[string]any{"Enabled": false},
			"Addresses":  map[string]any{"HTTP": host},
			"Ports":      map[string]any{"HTTP": port},
		},
		"member": s.member(self, s.Addr),
		"stats": map[string]any{
			"nomad": map[string]string{"server": "true", "leader": "true", "known_regions": "1"},
		},
	}
	if id := s.node(); id != "" {
		out["config"].(map[string]any)["Client"] = map[string]any{"Enabled": true}
		out["stats"].(map[string]any)["client"] = map[string]string{"node_id": id, "known_servers": s.Addr}
	}
	return s.reply(w, r, out)
}

func (s *Server) agentMembers(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		return err
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].Name < servers[j].Name })
	out := &ServerMembers{ServerName: s.Name + "." + s.Region, ServerRegion: s.Region, ServerDC: s.Datacenter, Members: []*AgentMember{}}
	for _, srv := range servers {
		out.Members = append(out.Members, s.member(srv, s.memberAddr(srv)))
	}
	return s.reply(w, r, out)
}

func (s *Server) agentHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := s.Store.Health(ctx); err != nil {
		return &httpError{code: http.StatusInternalServerError, msg: "etcd is unreachable: " + err.Error()}
	}
	return s.reply(w, r, map[string]any{"server": map[string]any{"ok": true, "message": "ok"}})
}

// statusLeader answers the leader's address as a JSON string, "" when no
// server leads.
func (s *Server) statusLeader(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	name, err := s.Store.ElectionLeader(ctx)
	if err != nil {
		return err
	}
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		return err
	}
	for _, srv := range servers {
		if srv.Name == name {
			host, port := splitHostPort(s.memberAddr(srv))
			return s.reply(w, r, net.JoinHostPort(host, strconv.Itoa(int(port))))
		}
	}
	return s.reply(w, r, "")
}

func (s *Server) statusPeers(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		return err
	}
	out := []string{}
	for _, srv := range servers {
		out = append(out, s.memberAddr(srv))
	}
	sort.Strings(out)
	return s.reply(w, r, out)
}

func (s *Server) regions(w http.ResponseWriter, r *http.Request) error {
	return s.reply(w, r, []string{s.Region})
}

// namespaces lists the namespaces operators created, those jobs use,
// and default.
func (s *Server) namespaces(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	all, err := s.allNamespaces(ctx)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	out := []*Namespace{}
	for _, n := range all {
		if strings.HasPrefix(n.Name, prefix) {
			out = append(out, n)
		}
	}
	return s.reply(w, r, out)
}

// allNamespaces is every namespace, by name: created, used by jobs, and
// default.
func (s *Server) allNamespaces(ctx context.Context) ([]*Namespace, error) {
	all, err := s.Store.AllNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Namespace, len(all))
	for i, n := range all {
		out[i] = toNamespace(n)
	}
	return out, nil
}

func toNamespace(n *api.Namespace) *Namespace {
	meta := n.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	return &Namespace{Name: n.Name, Description: n.Description, Meta: meta, CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex}
}

func (s *Server) getNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	all, err := s.allNamespaces(ctx)
	if err != nil {
		return err
	}
	for _, n := range all {
		if n.Name == r.PathValue("name") {
			return s.reply(w, r, n)
		}
	}
	return notFound("namespace not found")
}

// putNamespace is `nomad namespace apply`: create or update a namespace
// (its description and meta; quotas, node pool and Vault or Consul
// settings are Nomad Enterprise's or not nomadic's, and are refused).
func (s *Server) putNamespace(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name        string
		Description string
		Meta        map[string]string
		Quota       string
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if name := r.PathValue("name"); name != "" {
		if body.Name != "" && body.Name != name {
			return badRequest("namespace name %q in the path does not match the body's %q", name, body.Name)
		}
		body.Name = name
	}
	if body.Quota != "" {
		return badRequest("namespace quotas are a Nomad Enterprise feature that nomadic does not have")
	}
	n := &api.Namespace{Name: body.Name, Description: body.Description, Meta: body.Meta}
	if err := n.Validate(); err != nil {
		return badRequest("%v", err)
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := s.Store.PutNamespace(ctx, n); err != nil {
		return err
	}
	return s.reply(w, r, struct{}{})
}

// deleteNamespace removes a namespace an operator created, if no job is
// in it; default is never deleted.
func (s *Server) deleteNamespace(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if name == api.DefaultNamespace {
		return badRequest("default namespace can not be deleted")
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	err := s.Store.DeleteNamespace(ctx, name)
	switch {
	case errors.Is(err, store.ErrNamespaceInUse):
		return badRequest("namespace %q %v", name, err)
	case errors.Is(err, store.ErrNotFound):
		return notFound("namespace %q not found", name)
	case err != nil:
		return err
	}
	return s.reply(w, r, struct{}{})
}

// search answers a prefix search over jobs, allocations, evaluations,
// nodes and deployments.
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	var req SearchRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	const limit = 20
	ctx, cancel := s.ctx(r)
	defer cancel()
	out := &SearchResponse{Matches: map[string][]string{}, Truncations: map[string]bool{}, KnownLeader: true}
	want := func(c string) bool { return req.Context == "" || req.Context == "all" || req.Context == c }
	add := func(c, id string) {
		if !strings.HasPrefix(id, req.Prefix) {
			return
		}
		if len(out.Matches[c]) >= limit {
			out.Truncations[c] = true
			return
		}
		out.Matches[c] = append(out.Matches[c], id)
	}
	ns := nsFilter(namespace(r))
	if want("jobs") {
		list, err := s.Store.ListJobs(ctx, ns)
		if err != nil {
			return err
		}
		out.Matches["jobs"] = []string{}
		for _, j := range list {
			add("jobs", j.ID)
		}
	}
	if want("allocs") {
		allocs, err := s.Store.ListAllocs(ctx, store.AllocFilter{Namespace: ns})
		if err != nil {
			return err
		}
		out.Matches["allocs"] = []string{}
		sort.Slice(allocs, func(i, j int) bool { return allocs[i].ID < allocs[j].ID })
		for _, a := range allocs {
			add("allocs", a.ID)
		}
	}
	if want("evals") {
		evals, err := s.allEvals(ctx, ns)
		if err != nil {
			return err
		}
		out.Matches["evals"] = []string{}
		for _, e := range evals {
			add("evals", e.ID)
		}
	}
	if want("nodes") {
		list, err := s.Store.ListNodes(ctx)
		if err != nil {
			return err
		}
		out.Matches["nodes"] = []string{}
		for _, n := range list {
			add("nodes", n.ID)
		}
	}
	if want("deployment") {
		ds, err := s.Store.ListDeployments(ctx, ns, "")
		if err != nil {
			return err
		}
		out.Matches["deployment"] = []string{}
		for _, d := range ds {
			add("deployment", d.ID)
		}
	}
	if want("namespaces") {
		// The CLI's -namespace completion.
		all, err := s.Store.AllNamespaces(ctx)
		if err != nil {
			return err
		}
		out.Matches["namespaces"] = []string{}
		for _, n := range all {
			add("namespaces", n.Name)
		}
	}
	return s.reply(w, r, out)
}

func (s *Server) getSchedulerConfig(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	c, err := s.Store.GetSchedulerConfig(ctx)
	if err != nil {
		return err
	}
	return s.reply(w, r, &SchedulerConfigurationResponse{KnownLeader: true, SchedulerConfig: &SchedulerConfiguration{
		SchedulerAlgorithm: cmpOr(c.Algorithm, "binpack"),
		PreemptionConfig:   PreemptionConfig{SystemSchedulerEnabled: !c.PreemptionDisabled, SysBatchSchedulerEnabled: !c.PreemptionDisabled},
	}})
}

func (s *Server) setSchedulerConfig(w http.ResponseWriter, r *http.Request) error {
	var req SchedulerConfiguration
	if err := decode(r, &req); err != nil {
		return err
	}
	switch req.SchedulerAlgorithm {
	case "", "binpack", "spread":
	default:
		return badRequest("invalid scheduler algorithm %q: want binpack or spread", req.SchedulerAlgorithm)
	}
	if req.MemoryOversubscriptionEnabled || req.RejectJobRegistration || req.PauseEvalBroker ||
		req.PreemptionConfig.BatchSchedulerEnabled || req.PreemptionConfig.ServiceSchedulerEnabled {
		return &httpError{code: http.StatusNotImplemented, msg: "nomadic's scheduler configuration has the algorithm and preemption for system jobs only (docs/nomad-compat.md)"}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	c := &api.SchedulerConfig{Algorithm: cmpOr(req.SchedulerAlgorithm, "binpack"), PreemptionDisabled: !req.PreemptionConfig.SystemSchedulerEnabled}
	if err := s.Store.PutSchedulerConfig(ctx, c); err != nil {
		return err
	}
	return s.reply(w, r, &SchedulerSetConfigurationResponse{Updated: true})
}

// systemGC asks the leader's garbage collector for a pass now.
func (s *Server) systemGC(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	if err := s.Store.RequestGC(ctx, s.Now()); err != nil {
		return err
	}
	return s.reply(w, r, struct{}{})
}

// RaftServer is a member of the raft group, as `nomad operator raft
// list-peers` shows it: nomadic's raft group is etcd's members.
type RaftServer struct {
	ID           string
	Node         string
	Address      string
	Leader       bool
	Voter        bool
	RaftProtocol string
}

// raftConfiguration answers the raft group: etcd's members (their member
// IDs, names and peer addresses), since etcd is nomadic's consensus and
// its servers are stateless.
func (s *Server) raftConfiguration(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	peers, index, err := s.Store.RaftPeers(ctx)
	if err != nil {
		return &httpError{code: http.StatusServiceUnavailable, msg: err.Error()}
	}
	out := struct {
		Servers []*RaftServer
		Index   uint64
	}{Servers: []*RaftServer{}, Index: index}
	for _, p := range peers {
		out.Servers = append(out.Servers, &RaftServer{ID: p.ID, Node: p.Name, Address: p.Address, Leader: p.Leader, Voter: p.Voter, RaftProtocol: "3"})
	}
	return s.reply(w, r, out)
}

// monitorWriteTimeout bounds a write to a follower of the log.
const monitorWriteTimeout = 30 * time.Second

// agentMonitor streams this server's log (nomad monitor,
// GET /v1/agent/monitor?log_level=&log_json=&plain=&server_id=&node_id=):
// frames of lines at the level asked for (info by default), which may be
// below the level the agent logs at; plain=true sends the lines as they
// are. A follower that falls behind is told how many lines it lost.
func (s *Server) agentMonitor(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	name := q.Get("log_level")
	level, ok := logmon.ParseLevel(name)
	if !ok {
		return badRequest("Unknown log level: %s", name)
	}
	asJSON, _ := strconv.ParseBool(q.Get("log_json"))
	plain, _ := strconv.ParseBool(q.Get("plain"))
	if id := q.Get("server_id"); id != "" && id != s.Name && id != "leader" {
		return &httpError{code: http.StatusNotImplemented, msg: fmt.Sprintf("server %s's log is not streamed through this server (%s): ask that server", id, s.Name)}
	}
	if id := q.Get("node_id"); id != "" && id != s.node() {
		return s.nodeMonitor(w, r, id, level, asJSON, plain)
	}
	return s.localMonitor(w, r, level, asJSON, plain)
}

// localMonitor follows this process's own log.
func (s *Server) localMonitor(w http.ResponseWriter, r *http.Request, level slog.Level, asJSON, plain bool) error {
	if s.Logs == nil {
		return &httpError{code: http.StatusNotImplemented, msg: "this agent does not stream its log over the API; read its standard error"}
	}
	f, ok := s.Logs.Follow(level, asJSON)
	if !ok {
		return &httpError{code: http.StatusTooManyRequests, msg: fmt.Sprintf("%d followers of this agent's log already: try again later", logmon.MaxFollowers)}
	}
	defer f.Close()
	startMonitor(w, plain)
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	f.Pump(ctx, monitorHeartbeat, monitorSender(w, plain))
	return nil
}

// monitorHeartbeat is how often a quiet follow is sent a heartbeat (and
// told of lines it lost).
const monitorHeartbeat = 10 * time.Second

// nodeMonitor follows the log of a node's agent, which the node serves
// on its HTTP endpoint (as its task logs), through this server.
func (s *Server) nodeMonitor(w http.ResponseWriter, r *http.Request, id string, level slog.Level, asJSON, plain bool) error {
	n, err := s.lookupNode(r, id)
	if err != nil {
		return err
	}
	if n.ID == s.node() {
		return s.localMonitor(w, r, level, asJSON, plain)
	}
	resp, err := s.nodeGet(r, n, "/v1/client/monitor", url.Values{"log_level": {logmon.LevelName(level)}, "log_json": {strconv.FormatBool(asJSON)}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		for {
			// A line longer than the buffer comes in pieces.
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				select {
				case lines <- bytes.Clone(line):
				case <-ctx.Done():
					return
				}
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
		}
	}()
	startMonitor(w, plain)
	send := monitorSender(w, plain)
	t := time.NewTicker(monitorHeartbeat)
	defer t.Stop()
	heard := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if time.Since(heard) > 3*monitorHeartbeat {
				// Not even its heartbeat: the node's agent is gone
				// without closing the connection.
				return nil
			}
			if send(nil) != nil {
				return nil
			}
		case line, ok := <-lines:
			if !ok {
				return nil // the node's agent ended the follow (it stopped)
			}
			heard = time.Now()
			if string(line) == "\n" {
				continue // its heartbeat
			}
			if send(line) != nil {
				return nil
			}
		}
	}
}

// startMonitor sends a follow's headers: frames, or plain text.
func startMonitor(w http.ResponseWriter, plain bool) {
	if !plain {
		startFrames(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

// monitorSender writes log lines to a follower: as they are (plain) or in
// Nomad's frames, a nil line a heartbeat ({}, or nothing when plain),
// each flushed, a write that cannot go out in monitorWriteTimeout ending
// the follow.
func monitorSender(w http.ResponseWriter, plain bool) func(line []byte) error {
	flusher, _ := w.(http.Flusher)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	return func(line []byte) error {
		if plain && line == nil {
			return nil
		}
		// A follower that stops reading without closing gives up its
		// place after a while instead of holding it for good.
		_ = rc.SetWriteDeadline(time.Now().Add(monitorWriteTimeout))
		var err error
		switch {
		case plain:
			_, err = w.Write(line)
		case line == nil:
			err = enc.Encode(struct{}{})
		default:
			err = enc.Encode(&StreamFrame{Data: line})
		}
		if err == nil && flusher != nil {
			flusher.Flush()
		}
		return err
	}
}
