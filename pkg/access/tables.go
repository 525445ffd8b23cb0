package access

import (
	"net/http"
	"slices"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/acl"
)

// Every route of both APIs and what it needs. A route registered on a Mux
// without a row here panics; each API's tests check that no row is left
// without its route. docs/security.md tells operators the same.

// uiSnapshot needs what the UI shows: every namespace's jobs and the
// nodes.
func uiSnapshot(_ *http.Request, a *acl.ACL) *Denied {
	if !a.AllowNamespaceOp("*", acl.CapReadJob) {
		return nsDenied(acl.CapReadJob, "*")
	}
	return nil
}

// nodeEvents needs node:read for a Nomad event stream that includes the
// Node topic (as one without ?topic= does): node events have no
// namespace to filter them by.
func nodeEvents(r *http.Request, a *acl.ACL) *Denied {
	topics := r.URL.Query()["topic"]
	wantsNodes := len(topics) == 0
	for _, t := range topics {
		name, _, _ := strings.Cut(t, ":")
		wantsNodes = wantsNodes || name == "Node" || name == "*"
	}
	if wantsNodes && !a.AllowNodeRead() {
		return &Denied{Lacks: "node:read, which the Node topic needs (ask for ?topic=Job:* and the like without it)"}
	}
	return nil
}

// ScalingPolicyAccess tells whether a's token may see the scaling
// policies of namespace ns with capability c (list-scaling-policies or
// read-scaling-policy), or else with list-jobs and read-job, as in Nomad.
func ScalingPolicyAccess(a *acl.ACL, ns, c string) bool {
	return a.AllowNamespaceOp(ns, c) || (a.AllowNamespaceOp(ns, acl.CapListJobs) && a.AllowNamespaceOp(ns, acl.CapReadJob))
}

// scalingPolicies needs ScalingPolicyAccess on the namespace asked for,
// or on some namespace for "*" and a policy by ID (whose handler answers
// 404 for one the token may not see, so that IDs reveal nothing).
func scalingPolicies(c string) func(*http.Request, *acl.ACL) *Denied {
	return func(r *http.Request, a *acl.ACL) *Denied {
		lacks := &Denied{Lacks: c + ", or list-jobs and read-job,"}
		if ns := r.URL.Query().Get("namespace"); ns != "" && ns != "*" {
			if !ScalingPolicyAccess(a, ns, c) {
				lacks.Lacks += " on namespace " + ns
				return lacks
			}
			return nil
		}
		if !a.AllowAnyNamespaceOp(c) && !(a.AllowAnyNamespaceOp(acl.CapListJobs) && a.AllowAnyNamespaceOp(acl.CapReadJob)) {
			lacks.Lacks += " on any namespace"
			return lacks
		}
		return nil
	}
}

// ownPolicy lets a client token read a policy it holds, as Nomad does.
func ownPolicy(r *http.Request, _ *acl.ACL) *Denied {
	if id := FromContext(r.Context()); id != nil && id.Token != nil && slices.Contains(id.Token.Policies, pathValue(r, "name")) {
		return nil
	}
	return &Denied{Lacks: "management privileges, or the policy (a token may read the policies it holds)"}
}

// ownToken lets a token read itself by accessor, as Nomad does.
func ownToken(r *http.Request, _ *acl.ACL) *Denied {
	if id := FromContext(r.Context()); id != nil && id.Token != nil && id.Token.AccessorID == pathValue(r, "id") {
		return nil
	}
	return &Denied{Lacks: "management privileges (a token may read only itself)"}
}

// ownRole lets a token read a role it links, by ID or name.
func ownRole(r *http.Request, _ *acl.ACL) *Denied {
	if id := FromContext(r.Context()); id != nil && id.Token != nil {
		for _, l := range id.Token.Roles {
			if l.ID == pathValue(r, "id") || l.Name == pathValue(r, "name") {
				return nil
			}
		}
	}
	return &Denied{Lacks: "management privileges, or the role (a token may read the roles it links)"}
}

// searchNodes needs node:read for a Nomad search that includes nodes.
func searchNodes(r *http.Request, a *acl.ACL) *Denied {
	body := peekBody(r)
	switch field(body, "Context") {
	case "nodes", "all", "":
		if !a.AllowNodeRead() {
			return &Denied{Lacks: `node:read, which a search of nodes or of "all" needs`}
		}
	}
	return nil
}

// aclRoutes are the ACL endpoints, the same in both APIs.
func aclRoutes(m map[string]Rule) map[string]Rule {
	for _, method := range []string{"PUT", "POST"} {
		m[method+" /v1/acl/bootstrap"] = Open()
		m[method+" /v1/acl/policy/{name}"] = Management()
		m[method+" /v1/acl/token"] = Management()
		m[method+" /v1/acl/token/{id}"] = Management()
		m[method+" /v1/acl/role"] = Management()
		m[method+" /v1/acl/role/{id}"] = Management()
	}
	m["GET /v1/acl/roles"] = Management()
	m["GET /v1/acl/role/{id}"] = AnyToken().And(Custom(ownRole))
	m["GET /v1/acl/role/name/{name}"] = AnyToken().And(Custom(ownRole))
	m["DELETE /v1/acl/role/{id}"] = Management()
	m["GET /v1/acl/policies"] = Management()
	m["GET /v1/acl/policy/{name}"] = AnyToken().And(Custom(ownPolicy))
	m["DELETE /v1/acl/policy/{name}"] = Management()
	m["GET /v1/acl/tokens"] = Management()
	m["GET /v1/acl/token/self"] = AnyToken()
	m["GET /v1/acl/token/{id}"] = AnyToken().And(Custom(ownToken))
	m["DELETE /v1/acl/token/{id}"] = Management()
	return m
}

// NativeRules are the rules of nomadic's own API (pkg/httpapi).
var NativeRules = aclRoutes(map[string]Rule{
	"/":                    Open(), // 404
	"GET /{$}":             Open(), // redirect to the UI
	"GET /ui/":             Open(), // the UI's files; its data needs a token
	"GET /v1/agent/health": Open(),
	"GET /v1/agent/self":   Open(), // name and version only
	"GET /metrics":         AgentRead(),

	"GET /v1/jobs":                               NSResult(acl.CapListJobs),
	"PUT /v1/jobs":                               NSBody(acl.CapSubmitJob),
	"POST /v1/jobs":                              NSBody(acl.CapSubmitJob),
	"POST /v1/jobs/parse":                        NS(acl.CapParseJob),
	"GET /v1/job/{id}":                           NS(acl.CapReadJob),
	"DELETE /v1/job/{id}":                        NS(acl.CapSubmitJob),
	"POST /v1/job/{id}/plan":                     NSBody(acl.CapSubmitJob),
	"GET /v1/job/{id}/versions":                  NS(acl.CapReadJob),
	"GET /v1/job/{id}/submission":                NS(acl.CapReadJob),
	"POST /v1/job/{id}/revert":                   NS(acl.CapSubmitJob),
	"POST /v1/job/{id}/dispatch":                 NS(acl.CapDispatchJob),
	"POST /v1/job/{id}/scale":                    NS(acl.CapScaleJob),
	"GET /v1/job/{id}/allocations":               NS(acl.CapReadJob),
	"GET /v1/job/{id}/evaluations":               NS(acl.CapReadJob),
	"GET /v1/job/{id}/deployments":               NS(acl.CapReadJob),
	"GET /v1/job/{id}/deployment":                NS(acl.CapReadJob),
	"GET /v1/allocations":                        NSResult(acl.CapReadJob),
	"GET /v1/allocation/{id}":                    NSResult(acl.CapReadJob),
	"POST /v1/allocation/{id}/stop":              NSAlloc(acl.CapAllocLifecycle, "id"),
	"POST /v1/allocation/{id}/restart":           NSAlloc(acl.CapAllocLifecycle, "id"),
	"POST /v1/allocation/{id}/signal":            NSAlloc(acl.CapAllocLifecycle, "id"),
	"GET /v1/client/fs/logs/{alloc}":             NSAlloc(acl.CapReadLogs, "alloc"),
	"GET /v1/client/fs/ls/{alloc}":               NSAlloc(acl.CapReadFS, "alloc"),
	"GET /v1/client/allocation/{id}/exec":        NSAlloc(acl.CapAllocExec, "id"),
	"GET /v1/client/allocation/{alloc}/stats":    NSAlloc(acl.CapReadJob, "alloc"),
	"GET /v1/client/fs/stat/{alloc}":             NSAlloc(acl.CapReadFS, "alloc"),
	"GET /v1/client/fs/cat/{alloc}":              NSAlloc(acl.CapReadFS, "alloc"),
	"GET /v1/evaluations":                        NSResult(acl.CapReadJob),
	"GET /v1/evaluation/{id}":                    NSResult(acl.CapReadJob),
	"GET /v1/deployments":                        NSResult(acl.CapReadJob),
	"GET /v1/deployment/{id}":                    NSResult(acl.CapReadJob),
	"POST /v1/deployment/{id}/promote":           NSDeployment(acl.CapSubmitJob, "id"),
	"POST /v1/deployment/{id}/pause":             NSDeployment(acl.CapSubmitJob, "id"),
	"POST /v1/deployment/{id}/resume":            NSDeployment(acl.CapSubmitJob, "id"),
	"POST /v1/deployment/{id}/fail":              NSDeployment(acl.CapSubmitJob, "id"),
	"POST /v1/deployment/{id}/allocation-health": NSDeployment(acl.CapSubmitJob, "id"),
	"GET /v1/services":                           NSResult(acl.CapReadJob),
	"GET /v1/service/{name}":                     NS(acl.CapReadJob),
	"GET /v1/event/stream":                       NodeRead().And(Custom(uiSnapshot)), // every namespace, as the UI snapshot
	"GET /v1/ui/snapshot":                        NodeRead().And(Custom(uiSnapshot)),

	"GET /v1/namespaces":          Namespaces(),
	"GET /v1/namespace/{name}":    Namespaces(),
	"PUT /v1/namespace/{name}":    Management(),
	"POST /v1/namespace/{name}":   Management(),
	"DELETE /v1/namespace/{name}": Management(),

	"GET /v1/nodes":                            NodeRead(),
	"GET /v1/node/{id}":                        NodeRead(),
	"PUT /v1/node/{id}/eligibility":            NodeWrite(),
	"PUT /v1/node/{id}/drain":                  NodeWrite(),
	"POST /v1/node/{id}/purge":                 NodeWrite(),
	"PUT /v1/node/{id}/purge":                  NodeWrite(),
	"GET /v1/servers":                          NodeRead(), // as Nomad's agent members
	"DELETE /v1/server/{name}":                 AgentWrite(),
	"GET /v1/operator/scheduler/configuration": OperatorRead(),
	"PUT /v1/operator/scheduler/configuration": OperatorWrite(),

	"GET /v1/vars":                     Var(acl.VarList),
	"GET /v1/var/{path...}":            Var(acl.VarRead),
	"PUT /v1/var/{path...}":            Var(acl.VarWrite),
	"POST /v1/var/{path...}":           Var(acl.VarWrite),
	"DELETE /v1/var/{path...}":         Var(acl.VarDestroy),
	"GET /v1/operator/keyring/keys":    Management(),
	"PUT /v1/operator/keyring/rotate":  Management(),
	"POST /v1/operator/keyring/rotate": Management(),
	"GET /v1/operator/snapshot":        Management(),
})

// NomadRules are the rules of the Nomad-compatible API (pkg/nomadapi).
var NomadRules = aclRoutes(nomadRules())

func nomadRules() map[string]Rule {
	m := map[string]Rule{
		"/":                           Open(), // 404
		"GET /v1/agent/health":        Open(),
		"GET /v1/agent/self":          AgentRead(),
		"GET /v1/agent/monitor":       AgentRead(),
		"GET /v1/metrics":             AgentRead(), // as the native API's /metrics
		"GET /v1/agent/servers":       AgentRead(),
		"GET /{$}":                    Open(), // a redirect to the web UI
		"GET /.well-known/jwks.json":  Open(), // public keys, as in Nomad
		"GET /ui/":                    Open(),
		"GET /v1/client/metadata":     NodeRead(),
		"GET /v1/agent/members":       NodeRead(), // as in Nomad
		"GET /v1/status/leader":       Open(),
		"GET /v1/status/peers":        Open(),
		"GET /v1/regions":             Open(),
		"GET /v1/namespaces":          Namespaces(),
		"GET /v1/namespace/{name}":    Namespaces(),
		"DELETE /v1/namespace/{name}": Management(),

		"GET /v1/jobs":                             NSResult(acl.CapListJobs),
		"GET /v1/job/{id}":                         NS(acl.CapReadJob),
		"DELETE /v1/job/{id}":                      NS(acl.CapSubmitJob),
		"GET /v1/job/{id}/versions":                NS(acl.CapReadJob),
		"GET /v1/job/{id}/submission":              NS(acl.CapReadJob),
		"GET /v1/job/{id}/allocations":             NS(acl.CapReadJob),
		"GET /v1/job/{id}/evaluations":             NS(acl.CapReadJob),
		"GET /v1/job/{id}/deployments":             NS(acl.CapReadJob),
		"GET /v1/job/{id}/deployment":              NS(acl.CapReadJob),
		"GET /v1/job/{id}/summary":                 NS(acl.CapReadJob),
		"GET /v1/job/{id}/scale":                   NS(acl.CapReadJobScaling),
		"GET /v1/scaling/policies":                 Custom(scalingPolicies(acl.CapListScalingPolicies)), // the handler filters by namespace
		"GET /v1/scaling/policy/{id}":              Custom(scalingPolicies(acl.CapReadScalingPolicy)),
		"GET /v1/allocations":                      NSResult(acl.CapReadJob),
		"GET /v1/allocation/{id}":                  NSResult(acl.CapReadJob),
		"GET /v1/client/allocation/{id}/stats":     NSAlloc(acl.CapReadJob, "id"),
		"GET /v1/client/allocation/{id}/checks":    NSAlloc(acl.CapReadJob, "id"),
		"GET /v1/client/allocation/{id}/exec":      NSAlloc(acl.CapAllocExec, "id"),
		"GET /v1/client/fs/logs/{alloc}":           NSAlloc(acl.CapReadLogs, "alloc"),
		"GET /v1/client/fs/ls/{alloc}":             NSAlloc(acl.CapReadFS, "alloc"),
		"GET /v1/client/fs/stat/{alloc}":           NSAlloc(acl.CapReadFS, "alloc"),
		"GET /v1/client/fs/cat/{alloc}":            NSAlloc(acl.CapReadFS, "alloc"),
		"GET /v1/client/fs/readat/{alloc}":         NSAlloc(acl.CapReadFS, "alloc"),
		"GET /v1/client/fs/stream/{alloc}":         NSAlloc(acl.CapReadFS, "alloc"),
		"GET /v1/client/stats":                     NodeRead(),
		"GET /v1/services":                         NSResult(acl.CapReadJob),
		"GET /v1/service/{name}":                   NS(acl.CapReadJob),
		"DELETE /v1/service/{name}/{id}":           NS(acl.CapSubmitJob),
		"GET /v1/job/{id}/services":                NS(acl.CapReadJob),
		"GET /v1/job/{id}/action":                  NS(acl.CapAllocExec),
		"GET /v1/allocation/{id}/services":         NSAlloc(acl.CapReadJob, "id"),
		"GET /v1/evaluations":                      NSResult(acl.CapReadJob),
		"GET /v1/evaluation/{id}":                  NSResult(acl.CapReadJob),
		"GET /v1/evaluation/{id}/allocations":      NSResult(acl.CapReadJob),
		"GET /v1/deployments":                      NSResult(acl.CapReadJob),
		"GET /v1/deployment/{id}":                  NSResult(acl.CapReadJob),
		"GET /v1/deployment/allocations/{id}":      NSResult(acl.CapReadJob),
		"GET /v1/nodes":                            NodeRead(),
		"GET /v1/node/{id}":                        NodeRead(),
		"GET /v1/node/{id}/{sub}":                  NodeRead().And(NSResult(acl.CapReadJob)), // allocations, or a node pool
		"GET /v1/node/pool/{name}/nodes":           NodeRead(),
		"GET /v1/node/pool/{name}/jobs":            NodeRead().And(NSResult(acl.CapListJobs)),
		"GET /v1/node/pools":                       NodeRead(),
		"DELETE /v1/node/pool/{name}":              Management(),
		"GET /v1/operator/scheduler/configuration": OperatorRead(),
		"GET /v1/operator/raft/configuration":      OperatorRead(),
		"GET /v1/event/stream":                     NS(acl.CapReadJob).And(Custom(nodeEvents)),
		"GET /v1/vars":                             Var(acl.VarList),
		"GET /v1/var/{path...}":                    Var(acl.VarRead),
		"DELETE /v1/var/{path...}":                 Var(acl.VarDestroy),
		"DELETE /v1/job/{id}/versions/{name}/tag":  NS(acl.CapSubmitJob),
		"GET /v1/operator/keyring/keys":            Management(),
		"GET /v1/operator/snapshot":                Management(),
	}
	for _, method := range []string{"PUT", "POST"} {
		for path, rule := range map[string]Rule{
			"/v1/jobs":                              NSBody(acl.CapSubmitJob),
			"/v1/jobs/parse":                        NS(acl.CapParseJob),
			"/v1/validate/job":                      NSBody(acl.CapReadJob),
			"/v1/job/{id}":                          NSBody(acl.CapSubmitJob),
			"/v1/job/{id}/plan":                     NSBody(acl.CapSubmitJob),
			"/v1/job/{id}/dispatch":                 NS(acl.CapDispatchJob),
			"/v1/job/{id}/revert":                   NS(acl.CapSubmitJob),
			"/v1/job/{id}/versions/{name}/tag":      NS(acl.CapSubmitJob),
			"/v1/job/{id}/scale":                    NS(acl.CapScaleJob),
			"/v1/job/{id}/evaluate":                 NS(acl.CapSubmitJob),
			"/v1/job/{id}/periodic/force":           NS(acl.CapSubmitJob),
			"/v1/allocation/{id}/stop":              NSAlloc(acl.CapAllocLifecycle, "id"),
			"/v1/client/allocation/{id}/restart":    NSAlloc(acl.CapAllocLifecycle, "id"),
			"/v1/client/allocation/{id}/signal":     NSAlloc(acl.CapAllocLifecycle, "id"),
			"/v1/deployment/promote/{id}":           NSDeployment(acl.CapSubmitJob, "id"),
			"/v1/deployment/fail/{id}":              NSDeployment(acl.CapSubmitJob, "id"),
			"/v1/deployment/pause/{id}":             NSDeployment(acl.CapSubmitJob, "id"),
			"/v1/deployment/allocation-health/{id}": NSDeployment(acl.CapSubmitJob, "id"),
			"/v1/node/{id}/eligibility":             NodeWrite(),
			"/v1/node/{id}/drain":                   NodeWrite(),
			"/v1/node/{id}/purge":                   NodeWrite(),
			"/v1/node/pools":                        Management(),
			"/v1/search":                            NSBody(acl.CapListJobs).And(Custom(searchNodes)),
			"/v1/operator/scheduler/configuration":  OperatorWrite(),
			"/v1/system/gc":                         Management(),
			"/v1/system/reconcile/summaries":        Management(),
			"/v1/var/{path...}":                     Var(acl.VarWrite),
			"/v1/operator/keyring/rotate":           Management(),
			"/v1/namespace/{name}":                  Management(),
			"/v1/namespace":                         Management(),
			"/v1/agent/force-leave":                 AgentWrite(), // as DELETE /v1/server/{name}
		} {
			m[method+" "+path] = rule
		}
	}
	return m
}
