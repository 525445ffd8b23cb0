package nomadapi

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// The agent endpoints of Nomad's operator commands that have an answer
// here: nomad server force-leave, nomad node config -servers, nomad node
// meta read. Those of gossip (join, its keyring) and of changing a
// node's servers or metadata at run time answer 501 (the routes in
// agentOpRoutes).

// forceLeave is PUT /v1/agent/force-leave?node=NAME: nomad server
// force-leave. NAME is a member as /v1/agent/members names it
// (NAME.REGION) or the server's own name. As in Nomad it is for a server
// that is gone: a live one (registered, its lease kept) is refused; a
// gone one's etcd member, if its embedded etcd was one, is removed (as
// nomadic's DELETE /v1/server/{name}); a name that is neither is no
// error, as in Nomad. prune is accepted: there is nothing else to prune.
func (s *Server) forceLeave(w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Query().Get("node")
	if name == "" {
		return badRequest("missing node to force leave: ?node=NAME")
	}
	name = strings.TrimSuffix(name, "."+s.Region)
	ctx, cancel := s.ctx(r)
	defer cancel()
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		return err
	}
	for _, srv := range servers {
		if srv.Name == name {
			// As in Nomad, force-leave is for servers that are gone: a
			// live one keeps its place (its lease is kept alive).
			return badRequest("server %q is alive: force-leave removes servers that are gone; stop it first", name)
		}
	}
	if _, err := s.Store.ForceLeave(ctx, name); errors.Is(err, store.ErrNotFound) {
		// As in Nomad, a name that is no member is no error: there is
		// nothing to remove.
		return s.reply(w, r, nil)
	} else if err != nil {
		return err
	}
	return s.reply(w, r, nil)
}

// agentServers is GET /v1/agent/servers: nomad node config -servers. Node
// agents find the servers through etcd; these are the addresses of the
// servers' Nomad API.
func (s *Server) agentServers(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.ctx(r)
	defer cancel()
	servers, err := s.Store.ListServers(ctx)
	if err != nil {
		return err
	}
	out := make([]string, 0, len(servers))
	for _, srv := range servers {
		out = append(out, s.memberAddr(srv))
	}
	sort.Strings(out)
	return s.reply(w, r, out)
}

// NodeMetaResponse answers GET /v1/client/metadata.
type NodeMetaResponse struct {
	Meta    map[string]string
	Dynamic map[string]*string
	Static  map[string]string
}

// nodeMeta is GET /v1/client/metadata?node_id=ID: nomad node meta read.
// A node's metadata is what its agent registered (-meta); none of it is
// dynamic, as nomadic has no nomad node meta apply.
func (s *Server) nodeMeta(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("node_id")
	if id == "" {
		if id = s.node(); id == "" {
			return badRequest("this server runs no node agent: name the node with -node-id")
		}
	}
	n, err := s.lookupNode(r, id)
	if err != nil {
		return err
	}
	meta := map[string]string{}
	for k, v := range n.Meta {
		meta[k] = v
	}
	return s.reply(w, r, &NodeMetaResponse{Meta: meta, Dynamic: map[string]*string{}, Static: meta})
}
