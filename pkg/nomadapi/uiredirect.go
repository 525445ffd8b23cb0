package nomadapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Nomad serves its web UI under /ui/ of its API and sends / there; the
// CLI's nomad ui opens /ui/jobs/ID@NAMESPACE, /ui/allocations/ID and
// /ui/clients/ID. nomadic's UI is on the native API (its paths collide
// with these), so these addresses are sent to the same page there.

// uiRedirect answers GET / and GET /ui/...: a redirect to nomadic's web UI
// on the native API (UIPort), on the host the request came to; 404 when
// this server has no UI to send to.
func (s *Server) uiRedirect(w http.ResponseWriter, r *http.Request) error {
	if s.UIPort == "" {
		return notFound("this server serves no web UI: nomadic's is on the native API's /ui/ (docs/ui.md)")
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // an IPv6 address without a port
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	target := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, s.UIPort), Path: "/ui/", Fragment: uiRoute(r)}
	w.Header().Set("Cache-Control", "no-store") // it follows the host asked
	http.Redirect(w, r, target.String(), http.StatusTemporaryRedirect)
	return nil
}

// uiRoute is the route of nomadic's UI for a page of Nomad's.
func uiRoute(r *http.Request) string {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/ui"), "/")
	parts := strings.Split(rest, "/")
	switch parts[0] {
	case "jobs":
		if len(parts) == 1 {
			return "/jobs"
		}
		if parts[1] == "run" && len(parts) == 2 {
			return "/run"
		}
		id, ns, ok := strings.Cut(parts[1], "@")
		if !ok {
			ns = r.URL.Query().Get("namespace")
		}
		if ns == "" || ns == "*" {
			ns = "default"
		}
		return "/job/" + ns + "/" + id
	case "allocations":
		if len(parts) > 1 {
			return "/alloc/" + parts[1]
		}
		return "/jobs"
	case "clients":
		if len(parts) > 1 {
			return "/node/" + parts[1]
		}
		return "/nodes"
	case "servers":
		return "/servers"
	case "topology":
		return "/topology"
	case "evaluations":
		return "/evals"
	case "services":
		return "/services"
	}
	return "/"
}
