package store

import (
	"fmt"
	"strings"
)

// The key layout. Every key sits under the cluster's prefix (default
// "/nomadic"), so several clusters can share one etcd. docs/architecture.md
// describes the same table for operators; keep the two in step.
//
//	jobs/<ns>/<job>                      current job specification (servers)
//	jobversions/<ns>/<job>/<version>     the job's versions before its current one, each written once (servers)
//	jobsources/<ns>/<job>/<version>      the job file a version was submitted from, its variables sealed (servers)
//	jobtags/<ns>/<job>/<name>            a version tag: its version and description; tagged versions are kept (servers)
//	evals/<ns>/<job>/<eval>              evaluations of the job (servers)
//	evalclaims/<ns>/<job>                server working the job's evals; bound to that server's lease
//	nodes/<node>                         node record, rewritten only when it changes (node agent)
//	nodeadmin/<node>                     eligibility and drain, set by operators (servers)
//	nodeauth/<node>                      SHA-256 of a joined node's etcd password: how servers check the node's status relay requests (servers)
//	heartbeats/<node>                    empty key bound to the node's lease: the node is ready while it exists
//	nodeplans/<node>                     bumped by every plan that places onto the node; plans compare it
//	allocs/<node>/<alloc>                allocation, desired state (servers); the node agent watches allocs/<node>/
//	allocstatus/<node>/<alloc>           allocation, observed state (node agent)
//	joballocs/<ns>/<job>/<alloc>         former index of a job's allocations: no longer written, deleted with its allocation
//	deployments/<ns>/<job>/<id>          rollout of one job version (scheduler creates, leader's watcher ends)
//	services/<ns>/<service>/<instance>   index of service instances, mirrored from nodeservices/ (leader); what readers list
//	nodeservices/<node>/<ns>/<service>/<instance>  service instance of an allocation, bound to its node's lease (node agent)
//	nodejobs/<node>/<ns>/<job>/<version> copy of a job version that allocations on the node run (leader); its node reads it
//	servers/<name>                       live server, bound to its lease
//	etcdmembers/<name>                   etcd member ID of a server's embedded etcd (force-leave removes it)
//	election/leader                      election of the leader that runs singleton controllers
//	schedconfig                          cluster-wide scheduler configuration
//	namespaces/<name>                    namespace created by an operator: description and meta (servers)
//	nodepools/<name>                     node pool created by an operator: description and meta (servers)
//	compact                              revision of the last compaction round (servers take turns)
//	gcrequest                            time of the last operator request for garbage collection
//	nodehold                             set while a mass outage holds down nodes' allocations (leader)
//	aclpolicies/<name>                   ACL policy (servers)
//	acltokens/<accessor>                 ACL token, its secret kept only as a SHA-256 hash (servers)
//	acltokensecrets/<sha256>             index from a token's secret hash to its accessor (servers)
//	aclbootstrap                         set once by the ACL bootstrap; deleted by nomadic acl bootstrap-reset
//	aclroles/<id>                        ACL role: a named set of policies tokens link to (servers)
//	aclrolenames/<name>                  index from a role's name to its ID, which keeps names unique (servers)
//	variables/<ns>/<path>                variable, items encrypted (servers); the path's '/' escaped as %2F
//	rootkeys/<key>                       keyring key wrapped by the servers' key encryption key (servers)
//	identities/<node>/<alloc>            workload identities of an allocation's tasks (leader); its node reads them
//
// Kind names one kind of object in the key layout: the first segment of
// its keys under the cluster prefix.
type Kind string

// The kinds of the key layout.
const (
	// The ACL's kinds, which only servers read and write.
	KindACLPolicies     Kind = "aclpolicies"
	KindACLTokens       Kind = "acltokens"
	KindACLTokenSecrets Kind = "acltokensecrets"
	KindACLBootstrap    Kind = "aclbootstrap"
	KindACLRoles        Kind = "aclroles"
	KindACLRoleNames    Kind = "aclrolenames"

	KindJobs        Kind = "jobs"
	KindJobVersions Kind = "jobversions"
	KindJobSources  Kind = "jobsources"
	KindJobTags     Kind = "jobtags"
	KindEvals       Kind = "evals"
	KindEvalClaims  Kind = "evalclaims"
	KindNodes       Kind = "nodes"
	KindNodeAdmin   Kind = "nodeadmin"
	KindNodeAuth    Kind = "nodeauth"
	KindHeartbeats  Kind = "heartbeats"
	KindNodePlans   Kind = "nodeplans"
	KindAllocs      Kind = "allocs"
	KindAllocStatus Kind = "allocstatus"
	KindJobAllocs   Kind = "joballocs"
	KindDeployments Kind = "deployments"
	KindServices    Kind = "services"
	KindServers     Kind = "servers"
	KindEtcdMembers Kind = "etcdmembers"
	KindElection    Kind = "election"
	KindPlanLock    Kind = "planlock"
	KindCompact     Kind = "compact"
	KindSchedConfig Kind = "schedconfig"
	KindNamespaces  Kind = "namespaces"
	KindNodePools   Kind = "nodepools"
	KindGCRequest   Kind = "gcrequest"
	KindNodeHold    Kind = "nodehold"
	KindVariables   Kind = "variables"
	KindRootKeys    Kind = "rootkeys"
	KindIdentities  Kind = "identities"
	// KindNodeServices and KindNodeJobs are per-node trees, so that a
	// node's etcd role grants it one prefix of each (see NodeGrants).
	KindNodeServices Kind = "nodeservices"
	KindNodeJobs     Kind = "nodejobs"
)

// keyParts says which segments follow a kind's name in its keys.
var keyParts = map[Kind][]keyPart{
	KindACLPolicies:     {partName},
	KindACLTokens:       {partID},
	KindACLTokenSecrets: {partID},
	KindACLBootstrap:    {},
	KindACLRoles:        {partID},
	KindACLRoleNames:    {partName},

	KindJobs:        {partNamespace, partJob},
	KindJobVersions: {partNamespace, partJob, partID},
	KindJobSources:  {partNamespace, partJob, partID},
	KindJobTags:     {partNamespace, partJob, partName},
	KindEvals:       {partNamespace, partJob, partID},
	KindEvalClaims:  {partNamespace, partJob},
	KindNodes:       {partNode},
	KindNodeAdmin:   {partNode},
	KindNodeAuth:    {partNode},
	KindHeartbeats:  {partNode},
	KindNodePlans:   {partNode},
	KindAllocs:      {partNode, partID},
	KindAllocStatus: {partNode, partID},
	KindJobAllocs:   {partNamespace, partJob, partID},
	KindDeployments: {partNamespace, partJob, partID},
	KindServices:    {partNamespace, partName, partID},
	KindServers:     {partName},
	KindEtcdMembers: {partName},
	KindElection:    {partName, partID},
	KindPlanLock:    {partID},
	KindCompact:     {},
	KindSchedConfig: {},
	KindNamespaces:  {partName},
	KindNodePools:   {partName},
	KindGCRequest:   {},
	KindNodeHold:    {},
	KindVariables:   {partNamespace, partName},
	KindRootKeys:    {partID},
	KindIdentities:  {partNode, partID},
	// A node service's parts: Node, Namespace, Name (the service), ID.
	KindNodeServices: {partNode, partNamespace, partName, partID},
	// A node job copy's parts: Node, Namespace, Job, ID (the version).
	KindNodeJobs: {partNode, partNamespace, partJob, partID},
}

type keyPart int

const (
	partNamespace keyPart = iota
	partJob
	partNode
	partName
	partID
)

// Ref is what a key names: its kind and the parts of its path. Which parts
// are set depends on the kind (see the layout above): a job's key sets
// Namespace and Job, an allocation's Node and ID, a service instance's
// Namespace, Name (the service) and ID (the instance).
type Ref struct {
	Kind      Kind
	Namespace string
	Job       string
	Node      string
	Name      string
	ID        string
}

// Parse splits a key of this cluster into its kind and parts. It reports
// false for a key outside the layout.
func (k Keys) Parse(key string) (Ref, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix+"/")
	if !ok {
		return Ref{}, false
	}
	segs := strings.Split(rest, "/")
	ref := Ref{Kind: Kind(segs[0])}
	parts, ok := keyParts[ref.Kind]
	if !ok || len(segs)-1 != len(parts) {
		return Ref{}, false
	}
	for i, p := range parts {
		v := segs[i+1]
		switch p {
		case partNamespace:
			ref.Namespace = v
		case partJob:
			ref.Job = v
		case partNode:
			ref.Node = v
		case partName:
			ref.Name = v
		case partID:
			ref.ID = v
		}
	}
	return ref, true
}

// Keys builds the keys of one cluster. Its zero value is not usable; get one
// from NewKeys.
type Keys struct {
	prefix string
}

// NewKeys returns the key builder for a cluster prefix such as "/nomadic".
func NewKeys(prefix string) Keys {
	prefix = "/" + strings.Trim(prefix, "/")
	if prefix == "/" {
		prefix = ""
	}
	return Keys{prefix: prefix}
}

// Prefix is the cluster prefix, without a trailing slash.
func (k Keys) Prefix() string { return k.prefix }

func (k Keys) join(kind Kind, parts ...string) string {
	if len(parts) == 0 {
		return k.prefix + "/" + string(kind)
	}
	return k.prefix + "/" + string(kind) + "/" + strings.Join(parts, "/")
}

// Kind returns the prefix of every key of a kind, with a trailing slash.
func (k Keys) Kind(kind Kind) string { return k.join(kind) + "/" }

// Job is the key of a job's current specification.
func (k Keys) Job(ns, id string) string { return k.join(KindJobs, ns, id) }

// JobVersion is the key of one version of a job.
func (k Keys) JobVersion(ns, id string, version uint64) string {
	return k.join(KindJobVersions, ns, id, fmt.Sprintf("%020d", version))
}

// JobVersions is the prefix of every version of a job.
func (k Keys) JobVersions(ns, id string) string { return k.join(KindJobVersions, ns, id) + "/" }

// JobSource is the key of the source a version of a job was submitted
// from.
func (k Keys) JobSource(ns, id string, version uint64) string {
	return k.join(KindJobSources, ns, id, fmt.Sprintf("%020d", version))
}

// JobSources is the prefix of the sources of every version of a job.
func (k Keys) JobSources(ns, id string) string { return k.join(KindJobSources, ns, id) + "/" }

// JobTag is the key of a job's version tag.
func (k Keys) JobTag(ns, id, name string) string { return k.join(KindJobTags, ns, id, name) }

// JobTags is the prefix of a job's version tags.
func (k Keys) JobTags(ns, id string) string { return k.join(KindJobTags, ns, id) + "/" }

// Eval is the key of an evaluation.
func (k Keys) Eval(ns, job, id string) string { return k.join(KindEvals, ns, job, id) }

// JobEvals is the prefix of a job's evaluations.
func (k Keys) JobEvals(ns, job string) string { return k.join(KindEvals, ns, job) + "/" }

// EvalClaim is the key a server holds while it works a job's evaluations.
func (k Keys) EvalClaim(ns, job string) string { return k.join(KindEvalClaims, ns, job) }

// Node is the key of a node's record.
func (k Keys) Node(id string) string { return k.join(KindNodes, id) }

// NodeAdmin is the key of a node's eligibility and drain.
func (k Keys) NodeAdmin(id string) string { return k.join(KindNodeAdmin, id) }

// Heartbeat is the key bound to a node's lease.
func (k Keys) Heartbeat(id string) string { return k.join(KindHeartbeats, id) }

// NodeAuth is the key of the SHA-256 hash of a joined node's etcd
// password, which servers check a node's status relay requests against.
func (k Keys) NodeAuth(node string) string { return k.join(KindNodeAuth, node) }

// NodePlan is the key every plan placing on the node bumps.
func (k Keys) NodePlan(id string) string { return k.join(KindNodePlans, id) }

// Alloc is the key of an allocation's desired state.
func (k Keys) Alloc(node, id string) string { return k.join(KindAllocs, node, id) }

// NodeAllocs is the prefix a node agent watches.
func (k Keys) NodeAllocs(node string) string { return k.join(KindAllocs, node) + "/" }

// AllocStatus is the key of an allocation's observed state.
func (k Keys) AllocStatus(node, id string) string { return k.join(KindAllocStatus, node, id) }

// JobAlloc is the index key of an allocation under its job.
func (k Keys) JobAlloc(ns, job, id string) string { return k.join(KindJobAllocs, ns, job, id) }

// JobAllocs is the prefix of a job's allocation index.
func (k Keys) JobAllocs(ns, job string) string { return k.join(KindJobAllocs, ns, job) + "/" }

// Deployment is the key of a deployment of a job.
func (k Keys) Deployment(ns, job, id string) string { return k.join(KindDeployments, ns, job, id) }

// Deployments is the prefix of a job's deployments, of a namespace's when
// job is empty, of all when ns is empty too.
func (k Keys) Deployments(ns, job string) string {
	switch {
	case ns == "":
		return k.Kind(KindDeployments)
	case job == "":
		return k.join(KindDeployments, ns) + "/"
	}
	return k.join(KindDeployments, ns, job) + "/"
}

// Service is the key of one instance of a service.
func (k Keys) Service(ns, name, instance string) string {
	return k.join(KindServices, ns, name, instance)
}

// Services is the prefix of a service's instances, or of all services of
// a namespace when name is empty.
func (k Keys) Services(ns, name string) string {
	if name == "" {
		return k.join(KindServices, ns) + "/"
	}
	return k.join(KindServices, ns, name) + "/"
}

// NodeService is the key a node agent writes one service instance at.
func (k Keys) NodeService(node, ns, name, instance string) string {
	return k.join(KindNodeServices, node, ns, name, instance)
}

// NodeServices is the prefix of a node's service instances.
func (k Keys) NodeServices(node string) string { return k.join(KindNodeServices, node) + "/" }

// NodeJob is the key of a node's copy of a job version.
func (k Keys) NodeJob(node, ns, job string, version uint64) string {
	return k.join(KindNodeJobs, node, ns, job, fmt.Sprintf("%020d", version))
}

// NodeJobs is the prefix of a node's job copies.
func (k Keys) NodeJobs(node string) string { return k.join(KindNodeJobs, node) + "/" }

// Server is the key of a live server.
func (k Keys) Server(name string) string { return k.join(KindServers, name) }

// EtcdMember is the key of the embedded etcd member a server runs.
func (k Keys) EtcdMember(server string) string { return k.join(KindEtcdMembers, server) }

// Compact is the key servers swap to take turns compacting etcd.
func (k Keys) Compact() string { return k.join(KindCompact) }

// GCRequest is the key an operator's request for garbage collection
// writes; the leader's collector watches it.
func (k Keys) GCRequest() string { return k.join(KindGCRequest) }

// NodeHold is the key that says a mass outage holds down nodes'
// allocations.
func (k Keys) NodeHold() string { return k.join(KindNodeHold) }

// SchedulerConfig is the key of the scheduler configuration.
func (k Keys) SchedulerConfig() string { return k.join(KindSchedConfig) }

// Namespace is the key of a namespace an operator created.
func (k Keys) Namespace(name string) string { return k.join(KindNamespaces, name) }

// NodePool is the key of a node pool an operator created.
func (k Keys) NodePool(name string) string { return k.join(KindNodePools, name) }

// Election is the prefix of the leader election.
func (k Keys) Election() string { return k.join(KindElection, "leader") }

// PlanLock is the prefix of the servers' plan lock (PlanLock).
func (k Keys) PlanLock() string { return k.join(KindPlanLock) }

// lastSegments returns the last n segments of a key.
func lastSegments(key string, n int) []string {
	parts := strings.Split(key, "/")
	if len(parts) < n {
		return nil
	}
	return parts[len(parts)-n:]
}
