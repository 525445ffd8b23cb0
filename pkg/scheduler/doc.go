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
// touch the running tasks changed, and replaced otherwise, at most
// update.max_parallel at a time; allocations on a draining node are
// migrated, at most migrate.max_parallel at a time (all of them once the
// drain deadline passed). Batch allocations that completed are kept and
// count toward the group. System and sysbatch jobs get one allocation per
// feasible node instead of a count.
//
// # Placement
//
// Each placement walks the nodes in a random order fixed for the
// evaluation (from the seed), resuming where the previous placement
// stopped, and keeps the first Limit nodes that pass every check; the best
// scored of those wins. Checks, in order: node ready, eligible and not
// draining; node pool; datacenter (globs); drivers present and healthy;
// host volumes; the job's, group's and tasks' constraints; then, per
// placement, distinct_hosts and distinct_property, cpu, cores, memory,
// disk and ports. The static checks are cached per node for the
// evaluation. Every rejected node is counted in the placement's metrics
// under the check that rejected it, so a failed placement explains itself
// ("3 nodes exhausted on memory, 2 filtered by constraint
// ${attr.kernel.name} = windows").
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
//     node's attribute value, where desired is the value's share of the
//     count (its target percentage, or an even split over the values
//     present), weighted by the block's weight.
//
// The limit keeps the cost of a placement flat as the cluster grows:
// scoring two random feasible nodes and taking the better ("the power of
// two choices") packs nearly as well as scoring all of them, at a cost
// that does not depend on the number of nodes. Jobs with affinities or
// spreads score more candidates (SpreadLimit), since their score depends
// on which values are chosen.
//
// # Preemption
//
// A system job that does not fit on a node evicts allocations of jobs at
// least 10 priority levels below it, lowest priority first and largest
// first, until it fits; the evicted allocations are stopped with
// PreemptedBy set and their jobs are evaluated again (Plan.Preempted).
package scheduler
