package nodes

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// ExecTarget checks an exec request of an allocation of job, for both
// APIs: its command (q's JSON list), its task (q's, or the group's only
// one) and, for a raw_exec task, whose commands run on the node itself,
// alloc-node-exec on its namespace (allowed reports a capability; nil:
// no ACLs). It answers the task's name, or the status code and message to
// refuse the request with.
func ExecTarget(job *api.Job, a *api.Allocation, q url.Values, allowed func(ns, capability string) bool) (string, int, string) {
	var cmd []string
	if err := json.Unmarshal([]byte(q.Get("command")), &cmd); err != nil || len(cmd) == 0 {
		return "", http.StatusBadRequest, `command must be a JSON list of strings, such as ["/bin/sh"]`
	}
	g := job.LookupGroup(a.TaskGroup)
	if g == nil {
		return "", http.StatusNotFound, fmt.Sprintf("allocation %s has no group %q in its job", api.ShortID(a.ID), a.TaskGroup)
	}
	task := q.Get("task")
	if task == "" {
		if len(g.Tasks) != 1 {
			names := make([]string, 0, len(g.Tasks))
			for _, t := range g.Tasks {
				names = append(names, t.Name)
			}
			sort.Strings(names)
			return "", http.StatusBadRequest, fmt.Sprintf("allocation %s has tasks %v: name one", api.ShortID(a.ID), names)
		}
		task = g.Tasks[0].Name
	}
	var t *api.Task
	for _, x := range g.Tasks {
		if x.Name == task {
			t = x
		}
	}
	if t == nil {
		return "", http.StatusNotFound, fmt.Sprintf("allocation %s has no task %q", api.ShortID(a.ID), task)
	}
	if t.Driver == "raw_exec" && allowed != nil && !allowed(a.Namespace, acl.CapAllocNodeExec) {
		return "", http.StatusForbidden, "Permission denied: token lacks alloc-node-exec on namespace " + a.Namespace + " (a raw_exec task's commands run on the node)"
	}
	if st := a.ClientStatusOf(); api.IsTerminalClientStatus(st) {
		return "", http.StatusBadRequest, fmt.Sprintf("allocation %s is %s: there is nothing to exec into", api.ShortID(a.ID), st)
	}
	return task, 0, ""
}

// CrossOrigin says why a browser's exec session from another site's page
// is refused ("" when it is not one): a browser sends its page's Origin,
// which must be the server's own (the web UI); a page elsewhere could
// otherwise open sessions with the credentials the browser holds for
// this server, or none when it needs none. Clients that are not browsers
// send no Origin.
func CrossOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return fmt.Sprintf("an exec session from a page of %s, not of this server (%s): refused", origin, r.Host)
}

// ExecProxy carries an exec session (a websocket in Nomad's exec protocol)
// from a server's API to the node agent that runs the allocation: its
// route /v1/client/exec/<alloc>/<task>, with the command and tty of q,
// over mutual TLS when the node serves it (ca is then the servers' node
// client configuration). The client's token stays with the server. A node
// that cannot be reached is reported through fail.
func ExecProxy(node *api.Node, ca *tls.Config, allocID, task string, q url.Values, fail func(w http.ResponseWriter, code int, msg string)) (*httputil.ReverseProxy, error) {
	if node.HTTPAddr == "" {
		return nil, fmt.Errorf("node %s does not serve exec", node.Name)
	}
	scheme := "http"
	var transport http.RoundTripper = http.DefaultTransport
	if node.HTTPTLS {
		if ca == nil {
			return nil, fmt.Errorf("node %s serves over mutual TLS and this server has no node CA (-node-ca-cert)", node.Name)
		}
		scheme = "https"
		transport = &http.Transport{TLSClientConfig: ForNode(ca, node.ID)}
	}
	nq := url.Values{"command": {q.Get("command")}, "tty": {q.Get("tty")}}
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &url.URL{Scheme: scheme, Host: node.HTTPAddr,
				Path: "/v1/client/exec/" + url.PathEscape(allocID) + "/" + url.PathEscape(task), RawQuery: nq.Encode()}
			pr.Out.Host = node.HTTPAddr
			pr.Out.Header.Del("X-Nomad-Token")
			pr.Out.Header.Del("Authorization")
			access.WithoutTokenProtocol(pr.Out.Header)
			// The node serves no browser (it refuses an Origin).
			pr.Out.Header.Del("Origin")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			fail(w, http.StatusBadGateway, fmt.Sprintf("node %s (%s) did not answer: %v", node.Name, node.HTTPAddr, err))
		},
	}, nil
}
