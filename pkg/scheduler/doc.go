// Package scheduler decides where allocations go. It is pure: it reads a
// snapshot of the cluster (nodes, allocations) and a job and returns a
// plan, with no etcd, no clock and no randomness of its own — time, IDs and
// the random seed come in with the input — so the same input always gives
// the same plan.
//
// # Reconciliation
//
// Compute first reconciles the job with its allocations, group by group:
// allocations of a stopped or purged job, of a removed group, or beyond
// the group's count are stopped; allocations on a down node are marked lost
// and replaced; failed allocations are replaced on another node according
// to the group's reschedule policy (attempts within an interval, a delay
// that is constant, exponential or fibonacci up to max_delay), or later
// when the delay has not passed yet (Plan.NextEvalAt); allocations of an
// older job version are updated in place when only fields that do not
// touch the running tasks changed (count, update, migrate, reschedule,
// restart, constraints, affinities, spreads; not services, which the node
// agent registers at start), and replaced otherwise, under the version's
// deployment: at most update.max_parallel placed and not yet healthy at a
// time, nothing while it is paused or failed, canaries first until
// promoted (deployment.go); allocations on a draining node are
// migrated, at most migrate.max_parallel at a time (all of them once the
// drain deadline passed). Batch allocations that completed are kept and
// count toward the group. System and sysbatch jobs get one allocation per
// feasible node instead of a count.
//
// For service and batch groups, reconciliation (reconcile.go) decides what
// before placement decides where: it is a function of the job, its older
// versions, the job's allocations, the state of their nodes, the
// deployment and the time, and returns sets — allocations to stop, to
// update in place, to replace (lost, reschedule, destructive, migrate,
// canary, disconnect), to reschedule later, new indexes to place — without
// looking at any node's capacity. Placement (place.go) consumes the sets.
// Each live allocation holds one index of its group (its name is
// job.group[index]); when two hold the same one, the one not running (or
// else the newer) stops and a free index is placed instead, and a group
// over its count stops old versions first, then those not running, then
// the highest indexes.
//
// # Placement
//
// Each placement samples nodes and keeps the first Limit (default 2) that
// pass every check; the best scored of those wins. Checks, in order: node
// ready, eligible and not draining; node pool; datacenter (globs); drivers
// present and healthy; host volumes; the job's, group's and tasks'
// constraints; then, per placement, distinct_hosts and distinct_property,
// cores, cpu, memory, disk and ports. The static checks (all but the last
// line) depend only on the node and the job's requirements: their results
// are kept in the State across evaluations. Every rejected node is counted
// in the placement's metrics under the check that rejected it, so a failed
// placement explains itself ("3 nodes exhausted on memory, 2 filtered by
// constraint ${attr.kernel.name} = windows").
//
// Which nodes are sampled:
//
//   - Plain groups walk all nodes in an order random for the evaluation (a
//     random start and a random stride coprime to the number of nodes),
//     each placement resuming where the previous one stopped.
//   - Groups with spread blocks choose the value first: the heaviest spread
//     block's value that is furthest below its desired count (its target
//     share of the count; values without a target share what the targets
//     leave; with no targets an even split over the values that have a
//     node passing the static checks; targets that leave a rest no value
//     can take are scaled up). Then they sample among that value's nodes
//     (affine nodes first when the group also has affinities). A value
//     whose nodes are all full is skipped for the rest of the evaluation.
//     The nodes of each value come from an index of the State.
//   - Groups with affinities sample the nodes of positive affinity first
//     (found once per State through the values of the affinities'
//     attributes), then the nodes of no affinity, and nodes of negative
//     affinity only when nothing else has room.
//
// Scoring two random feasible nodes and keeping the better ("the power of
// two choices") packs nearly as well as scoring all of them, at a cost
// that does not depend on the number of nodes. Choosing a spread value
// costs one pass over the values, and a spread
// score one lookup in counts kept up to date as placements are made; an
// affinity score is computed once per node and kept. Spread and affinity
// jobs keep the plain limit — their quality comes from where the sample
// is drawn, not from scoring more nodes — so they cost about what plain
// jobs cost, and the cost does not grow with the cluster.
//
// Scoring, each part in [-1, 1], the node's score being their mean over
// the parts that apply:
//
//   - bin-packing: with f the fraction of cpu and of memory left free
//     after the placement, score = (20 - 10^fcpu - 10^fmem) / 18, which is 1
//     on a full node and 0 on an empty one; the spread algorithm uses
//     (10^fcpu + 10^fmem - 2) / 18 instead, preferring empty nodes.
//   - job anti-affinity: -(n+1)/count when the node already runs n > 0
//     allocations of the group, so that replicas do not pile up.
//   - reschedule penalty: -1 on the node where the allocation being
//     replaced failed.
//   - affinities: sum of the weights of the affinities the node matches,
//     over the sum of the absolute weights.
//   - spread: for each spread block, (desired - current) / desired for the
//     node's attribute value, weighted by the block's weight over the sum
//     of the weights.
//
// Quality, checked by property tests on random skewed clusters: with
// targets every value ends within max(1, ceil(1% of count)) of its desired
// count where capacity allows; without targets, within one of an even
// split; with room on affine nodes every allocation lands on one, and with
// room elsewhere none lands on a node of negative affinity.
//
// # Preemption
//
// A system job that does not fit on a node evicts allocations of jobs at
// least 10 priority levels below it, lowest priority first and largest
// first, until it fits; the evicted allocations are stopped with
// PreemptedBy set and their jobs are evaluated again (Plan.Preempted).
package scheduler
