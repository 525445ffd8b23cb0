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
//	jobversions/<ns>/<job>/<version>     every version of the job (servers)
//	evals/<ns>/<job>/<eval>              evaluations of the job (servers)
//	evalclaims/<ns>/<job>                server working the job's evals; bound to that server's lease
//	nodes/<node>                         node record, rewritten only when it changes (node agent)
//	nodeadmin/<node>                     eligibility and drain, set by operators (servers)
//	heartbeats/<node>                    empty key bound to the node's lease: the node is ready while it exists
//	nodeplans/<node>                     bumped by every plan that places onto the node; plans compare it
//	allocs/<node>/<alloc>                allocation, desired state (servers); the node agent watches allocs/<node>/
//	allocstatus/<node>/<alloc>           allocation, observed state (node agent)
//	joballocs/<ns>/<job>/<alloc>         index: the node of each allocation of a job (servers)
//	deployments/<ns>/<job>/<id>          rollout of one job version (scheduler creates, leader's watcher ends)
//	services/<ns>/<service>/<instance>   service instance of an allocation, bound to its node's lease (node agent)
//	servers/<name>                       live server, bound to its lease
//	etcdmembers/<name>                   etcd member ID of a server's embedded etcd (force-leave removes it)
//	election/leader                      election of the leader that runs singleton controllers
//	schedconfig                          cluster-wide scheduler configuration
//	compact                              revision of the last compaction round (servers take turns)
const (
	kindJobs        = "jobs"
	kindJobVersions = "jobversions"
	kindEvals       = "evals"
	kindEvalClaims  = "evalclaims"
	kindNodes       = "nodes"
	kindNodeAdmin   = "nodeadmin"
	kindHeartbeats  = "heartbeats"
	kindNodePlans   = "nodeplans"
	kindAllocs      = "allocs"
	kindAllocStatus = "allocstatus"
	kindJobAllocs   = "joballocs"
	kindServers     = "servers"
	kindElection    = "election"
	kindDeployments = "deployments"
)

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

func (k Keys) join(parts ...string) string {
	return k.prefix + "/" + strings.Join(parts, "/")
}

// Kind returns the prefix of every key of a kind, with a trailing slash.
func (k Keys) Kind(kind string) string { return k.join(kind) + "/" }

// Job is the key of a job's current specification.
func (k Keys) Job(ns, id string) string { return k.join(kindJobs, ns, id) }

// JobVersion is the key of one version of a job.
func (k Keys) JobVersion(ns, id string, version uint64) string {
	return k.join(kindJobVersions, ns, id, fmt.Sprintf("%020d", version))
}

// JobVersions is the prefix of every version of a job.
func (k Keys) JobVersions(ns, id string) string { return k.join(kindJobVersions, ns, id) + "/" }

// Eval is the key of an evaluation.
func (k Keys) Eval(ns, job, id string) string { return k.join(kindEvals, ns, job, id) }

// JobEvals is the prefix of a job's evaluations.
func (k Keys) JobEvals(ns, job string) string { return k.join(kindEvals, ns, job) + "/" }

// EvalClaim is the key a server holds while it works a job's evaluations.
func (k Keys) EvalClaim(ns, job string) string { return k.join(kindEvalClaims, ns, job) }

// Node is the key of a node's record.
func (k Keys) Node(id string) string { return k.join(kindNodes, id) }

// NodeAdmin is the key of a node's eligibility and drain.
func (k Keys) NodeAdmin(id string) string { return k.join(kindNodeAdmin, id) }

// Heartbeat is the key bound to a node's lease.
func (k Keys) Heartbeat(id string) string { return k.join(kindHeartbeats, id) }

// NodePlan is the key every plan placing on the node bumps.
func (k Keys) NodePlan(id string) string { return k.join(kindNodePlans, id) }

// Alloc is the key of an allocation's desired state.
func (k Keys) Alloc(node, id string) string { return k.join(kindAllocs, node, id) }

// NodeAllocs is the prefix a node agent watches.
func (k Keys) NodeAllocs(node string) string { return k.join(kindAllocs, node) + "/" }

// AllocStatus is the key of an allocation's observed state.
func (k Keys) AllocStatus(node, id string) string { return k.join(kindAllocStatus, node, id) }

// JobAlloc is the index key of an allocation under its job.
func (k Keys) JobAlloc(ns, job, id string) string { return k.join(kindJobAllocs, ns, job, id) }

// JobAllocs is the prefix of a job's allocation index.
func (k Keys) JobAllocs(ns, job string) string { return k.join(kindJobAllocs, ns, job) + "/" }

// Deployment is the key of a deployment of a job.
func (k Keys) Deployment(ns, job, id string) string { return k.join(kindDeployments, ns, job, id) }

// Deployments is the prefix of a job's deployments, of a namespace's when
// job is empty, of all when ns is empty too.
func (k Keys) Deployments(ns, job string) string {
	switch {
	case ns == "":
		return k.Kind(kindDeployments)
	case job == "":
		return k.join(kindDeployments, ns) + "/"
	}
	return k.join(kindDeployments, ns, job) + "/"
}

// Service is the key of one instance of a service.
func (k Keys) Service(ns, name, instance string) string {
	return k.join("services", ns, name, instance)
}

// Services is the prefix of a service's instances, or of all services of
// a namespace when name is empty.
func (k Keys) Services(ns, name string) string {
	if name == "" {
		return k.join("services", ns) + "/"
	}
	return k.join("services", ns, name) + "/"
}

// Server is the key of a live server.
func (k Keys) Server(name string) string { return k.join(kindServers, name) }

// EtcdMember is the key of the embedded etcd member a server runs.
func (k Keys) EtcdMember(server string) string { return k.join("etcdmembers", server) }

// Compact is the key servers swap to take turns compacting etcd.
func (k Keys) Compact() string { return k.join("compact") }

// SchedulerConfig is the key of the scheduler configuration.
func (k Keys) SchedulerConfig() string { return k.join("schedconfig") }

// Election is the prefix of the leader election.
func (k Keys) Election() string { return k.join(kindElection, "leader") }

// lastSegments returns the last n segments of a key.
func lastSegments(key string, n int) []string {
	parts := strings.Split(key, "/")
	if len(parts) < n {
		return nil
	}
	return parts[len(parts)-n:]
}
