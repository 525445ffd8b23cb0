package scheduler

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// Helpers for the reconciler's table: allocations of job "j", group "g",
// version 0, running on n1 since an hour, unless an option says otherwise.

type allocOpt func(*api.Allocation)

func alloc(id string, index int, opts ...allocOpt) *api.Allocation {
	a := &api.Allocation{ID: id, Namespace: "default", JobID: "j", TaskGroup: "g", Index: index, NodeID: "n1",
		DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 100},
		Status:     &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: now.Add(-time.Hour)},
		CreateTime: now.Add(-time.Hour), ModifyTime: now.Add(-time.Hour)}
	for _, o := range opts {
		o(a)
	}
	return a
}

func onNode(id string) allocOpt       { return func(a *api.Allocation) { a.NodeID = id } }
func atVersion(v uint64) allocOpt     { return func(a *api.Allocation) { a.JobVersion = v } }
func inGroup(g string) allocOpt       { return func(a *api.Allocation) { a.TaskGroup = g } }
func replacedBy(id string) allocOpt   { return func(a *api.Allocation) { a.NextAllocation = id } }
func replacing(id string) allocOpt    { return func(a *api.Allocation) { a.PreviousAllocation = id } }
func forDeployment(d string) allocOpt { return func(a *api.Allocation) { a.DeploymentID = d } }
func asCanary(d string) allocOpt {
	return func(a *api.Allocation) { a.Canary, a.DeploymentID = true, d }
}

// endedAgo gives the allocation a client status reported ago.
func endedAgo(status string, ago time.Duration) allocOpt {
	return func(a *api.Allocation) {
		a.Status = &api.AllocStatus{ClientStatus: status, UpdateTime: now.Add(-ago)}
	}
}

func pendingAlloc() allocOpt { return endedAgo(api.AllocClientPending, 0) }

func withHealth(ok bool) allocOpt {
	return func(a *api.Allocation) { a.Status.Health = &api.AllocHealth{Healthy: ok, Time: now} }
}

// stoppedAlloc is an allocation stopped earlier and done.
func stoppedAlloc() allocOpt {
	return func(a *api.Allocation) {
		a.DesiredStatus = api.AllocDesiredStop
		a.Status = &api.AllocStatus{ClientStatus: api.AllocClientComplete, UpdateTime: now.Add(-time.Hour)}
	}
}

// unknownFor marks the allocation disconnected since ago.
func unknownFor(ago time.Duration) allocOpt {
	return func(a *api.Allocation) { a.DisconnectTime = now.Add(-ago) }
}

// rescheduledAgo gives the allocation a reschedule tracker with events ago.
func rescheduledAgo(agos ...time.Duration) allocOpt {
	return func(a *api.Allocation) {
		for _, ago := range agos {
			a.RescheduleTracker = append(a.RescheduleTracker, api.RescheduleEvent{Time: now.Add(-ago), PrevAlloc: "earlier"})
		}
	}
}

func startedAgo(ago time.Duration) allocOpt {
	return func(a *api.Allocation) {
		a.Status.Tasks = map[string]*api.TaskState{"t": {StartedAt: now.Add(-ago)}}
	}
}

// migratedAway marks an allocation stopped to migrate it.
func migratedAway() allocOpt {
	return func(a *api.Allocation) { a.Migrate, a.DesiredStatus = true, api.AllocDesiredStop }
}

func migratedIn() allocOpt { return func(a *api.Allocation) { a.Migrated = true } }

func readyNode(id string) *api.Node { return node(id, 10000, 10000) }
func downNode(id string) *api.Node  { return node(id, 10000, 10000, withStatus(api.NodeStatusDown)) }
func drainingNode(id string, deadline time.Time) *api.Node {
	return node(id, 10000, 10000, draining(deadline))
}

// Jobs of the table.

func service(count int, mods ...func(*api.Job)) *api.Job { return job("j", count, mods...) }

func batchJob(count int, mods ...func(*api.Job)) *api.Job {
	return job("j", count, append([]func(*api.Job){func(j *api.Job) { j.Type = api.JobTypeBatch }}, mods...)...)
}

func jobVersion(v uint64) func(*api.Job) { return func(j *api.Job) { j.Version = v } }

// changedTasks changes the tasks: allocations of older versions are
// replaced.
func changedTasks(j *api.Job) { j.Groups[0].Tasks[0].Env = map[string]string{"V": "new"} }

// changedRestart changes only the restart policy: allocations of older
// versions are updated in place.
func changedRestart(j *api.Job) {
	j.Groups[0].Restart = &api.RestartPolicy{Attempts: 9, Mode: "delay"}
}

func maxParallel(n, canary int) func(*api.Job) {
	return func(j *api.Job) { j.Update = &api.UpdateStrategy{MaxParallel: n, Canary: canary} }
}

func migrateParallel(n int) func(*api.Job) {
	return func(j *api.Job) { j.Migrate = &api.MigrateStrategy{MaxParallel: n} }
}

func reschedule(pol api.ReschedulePolicy) func(*api.Job) {
	return func(j *api.Job) { j.Reschedule = &pol }
}

func lostAfter(d time.Duration, replace bool, mode string) func(*api.Job) {
	return func(j *api.Job) {
		j.Groups[0].Disconnect = &api.DisconnectStrategy{LostAfter: api.Duration(d), Replace: &replace, Reconcile: mode}
	}
}

func deployment(v uint64, status string, g *api.DeploymentGroup) *api.Deployment {
	return &api.Deployment{ID: "d1", Namespace: "default", JobID: "j", JobVersion: v, Status: status,
		Groups: map[string]*api.DeploymentGroup{"g": g}}
}

// reconcileSets runs the reconciler the way Compute does (stop everything
// of a stopped job; else stop removed groups and reconcile each group) and
// renders what it decided as named sets: "place" and "replace" in
// placement order, the others sorted; only non-empty sets appear.
func reconcileSets(j *api.Job, versions map[uint64]*api.Job, nodes []*api.Node, allocs []*api.Allocation, dep *api.Deployment) map[string][]string {
	byNodeID := map[string]*api.Node{}
	for _, n := range nodes {
		byNodeID[n.ID] = n
	}
	sorted := append([]*api.Allocation(nil), allocs...)
	sort.SliceStable(sorted, func(i, k int) bool { return sorted[i].Index < sorted[k].Index })
	r := &reconciler{job: j, versions: versions, allocs: sorted, byID: map[string]*api.Allocation{},
		node: func(id string) *api.Node { return byNodeID[id] }, dep: dep, now: now}
	for _, a := range sorted {
		r.byID[a.ID] = a
	}
	sets := map[string][]string{}
	add := func(set string, v string) { sets[set] = append(sets[set], v) }
	addStops := func(stops []stopping) {
		for _, s := range stops {
			add("stop", s.alloc.ID+": "+s.why)
			if s.lost {
				add("lost", s.alloc.ID)
			}
		}
	}
	if j == nil || j.Stop {
		addStops(r.stopAll())
	} else {
		addStops(r.removedGroups())
		for _, g := range j.Groups {
			d := r.group(g)
			addStops(d.stop)
			for _, idx := range d.place {
				add("place", fmt.Sprint(idx))
			}
			for _, rp := range d.replace {
				e := rp.kind.String() + " "
				if rp.prev != nil {
					e += rp.prev.ID
				}
				e += fmt.Sprintf("@%d", rp.index)
				if rp.kind == replaceReschedule {
					e += " after " + rp.delay.Std().String()
				}
				add("replace", e)
			}
			for _, set := range []struct {
				name   string
				allocs []*api.Allocation
			}{{"in place", d.inPlace}, {"reconnect", d.reconnect}, {"disconnect", d.disconnect}, {"ignore", d.ignore}} {
				for _, a := range set.allocs {
					add(set.name, a.ID)
				}
			}
			for _, l := range d.rescheduleLater {
				add("later", fmt.Sprintf("%s at +%v", l.alloc.ID, l.at.Sub(now)))
			}
			if !d.wakeAt.IsZero() {
				add("wake", fmt.Sprintf("+%v", d.wakeAt.Sub(now)))
			}
			if c := changesString(d.changes); c != "" {
				add("changes", c)
			}
		}
	}
	for name, set := range sets {
		if name != "place" && name != "replace" {
			sort.Strings(set)
		}
	}
	return sets
}

// changesString lists the non-zero counts, as "stop=1 ignore=2".
func changesString(c api.PlanChanges) string {
	var out []string
	for _, f := range []struct {
		name string
		n    int
	}{{"place", c.Place}, {"stop", c.Stop}, {"inplace", c.InPlace}, {"destructive", c.Destructive}, {"migrate", c.Migrate},
		{"reschedule", c.Reschedule}, {"lost", c.Lost}, {"canary", c.Canary}, {"disconnect", c.Disconnect},
		{"reconnect", c.Reconnect}, {"ignore", c.Ignore}, {"failed", c.Failed}} {
		if f.n != 0 {
			out = append(out, fmt.Sprintf("%s=%d", f.name, f.n))
		}
	}
	return strings.Join(out, " ")
}

type sets = map[string][]string

func TestReconcile(t *testing.T) {
	n1, n2 := readyNode("n1"), readyNode("n2")
	ready := []*api.Node{n1, n2}
	withDown := []*api.Node{n1, downNode("n2")}
	drainNoDeadline := []*api.Node{n1, drainingNode("n2", time.Time{})}
	drainPastDeadline := []*api.Node{n1, drainingNode("n2", now.Add(-time.Second))}
	drainFutureDeadline := []*api.Node{n1, drainingNode("n2", now.Add(time.Hour))}
	v0 := service(3)
	s := time.Second

	cases := []struct {
		name     string
		job      *api.Job
		versions map[uint64]*api.Job
		nodes    []*api.Node
		allocs   []*api.Allocation
		dep      *api.Deployment
		want     sets
	}{
		// Counts.
		{
			name: "a new job places every index",
			job:  service(3), nodes: ready,
			want: sets{"place": {"0", "1", "2"}},
		},
		{
			name: "a reconciled job leaves its allocations as they are",
			job:  service(2), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1)},
			want:   sets{"ignore": {"a0", "a1"}},
		},
		{
			name: "scaling up places the lowest free indexes",
			job:  service(4), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a2", 2)},
			want:   sets{"place": {"1", "3"}, "ignore": {"a0", "a2"}},
		},
		{
			name: "stopped allocations free their index",
			job:  service(2), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, stoppedAlloc()), alloc("a1", 1)},
			want:   sets{"place": {"0"}, "ignore": {"a1"}},
		},
		{
			name: "scaling down stops the highest indexes",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1), alloc("a2", 2)},
			want: sets{"stop": {"a1: scaled down", "a2: scaled down"}, "ignore": {"a0"},
				"changes": {"stop=2"}},
		},
		{
			name: "scaling down stops old versions first",
			job:  service(2, jobVersion(1), changedTasks), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, atVersion(1)), alloc("a1", 1), alloc("a2", 2, atVersion(1))},
			want: sets{"stop": {"a1: scaled down"}, "ignore": {"a0", "a2"},
				"changes": {"stop=1"}},
		},
		{
			name: "scaling down stops allocations not running yet before running ones",
			job:  service(2), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1, pendingAlloc()), alloc("a2", 2)},
			want: sets{"stop": {"a1: scaled down"}, "ignore": {"a0", "a2"},
				"changes": {"stop=1"}},
		},
		{
			name: "a name held twice: the later one stops and its slot goes to a free index",
			job:  service(3), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1), alloc("b1", 1, func(a *api.Allocation) { a.CreateTime = now })},
			want: sets{"stop": {"b1: allocation a1 holds the same index (1)"}, "place": {"2"}, "ignore": {"a0", "a1"},
				"changes": {"stop=1"}},
		},
		{
			name: "a name held twice: the running one stays, and a job over its count stops no other",
			job:  service(2), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1, pendingAlloc()), alloc("b1", 1, func(a *api.Allocation) { a.CreateTime = now }),
				alloc("a2", 2, pendingAlloc())},
			want: sets{"stop": {"a1: allocation b1 holds the same index (1)", "a2: scaled down"}, "ignore": {"a0", "b1"},
				"changes": {"stop=2"}},
		},
		{
			name: "replacements beyond the count are dropped, the latest first",
			job:  service(1), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")), alloc("a1", 1, endedAgo(api.AllocClientFailed, time.Hour))},
			want: sets{"stop": {"a0: node is down: allocation lost", "a1: scaled down"}, "lost": {"a0"},
				"replace": {"lost a0@0"}, "changes": {"lost=1"}},
		},
		{
			name: "a group scaled to zero stops all its allocations",
			job:  service(0), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1)},
			want:   sets{"stop": {"a0: scaled down", "a1: scaled down"}, "changes": {"stop=2"}},
		},

		// Job level.
		{
			name: "a stopped job stops all its allocations, as lost on a down node",
			job:  service(2, func(j *api.Job) { j.Stop = true }), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1, onNode("n2")), alloc("a2", 2, stoppedAlloc())},
			want:   sets{"stop": {"a0: job was stopped", "a1: job was stopped"}, "lost": {"a1"}},
		},
		{
			name: "a purged job stops all its allocations",
			job:  nil, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0)},
			want:   sets{"stop": {"a0: job was purged"}},
		},
		{
			name: "group removed from job stops its allocations",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("x0", 0, inGroup("gone"))},
			want:   sets{"stop": {"x0: group was removed from the job"}, "ignore": {"a0"}},
		},

		// Lost and rescheduled.
		{
			name: "a lost allocation on a down node is replaced",
			job:  service(2), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")), alloc("a1", 1)},
			want: sets{"stop": {"a0: node is down: allocation lost"}, "lost": {"a0"}, "replace": {"lost a0@0"},
				"ignore": {"a1"}, "changes": {"lost=1"}},
		},
		{
			name: "an allocation on a node that is gone is lost",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("gone"))},
			want: sets{"stop": {"a0: node is down: allocation lost"}, "lost": {"a0"}, "replace": {"lost a0@0"},
				"changes": {"lost=1"}},
		},
		{
			name: "a failed allocation on a down node is rescheduled, not lost",
			job:  service(1), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), endedAgo(api.AllocClientFailed, time.Minute))},
			want:   sets{"replace": {"reschedule a0@0 after 30s"}},
		},
		{
			name: "a failed service allocation is rescheduled once its delay passed",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, time.Minute))},
			want:   sets{"replace": {"reschedule a0@0 after 30s"}},
		},
		{
			name: "a service allocation that completed is rescheduled like a failed one",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientComplete, time.Minute))},
			want:   sets{"replace": {"reschedule a0@0 after 30s"}},
		},
		{
			name: "a failed batch allocation waits for its reschedule delay",
			job:  batchJob(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, 2*s))},
			want:   sets{"later": {"a0 at +3s"}, "wake": {"+3s"}, "changes": {"ignore=1"}},
		},
		{
			name: "a batch allocation out of reschedule attempts stays failed",
			job:  batchJob(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, time.Minute), rescheduledAgo(time.Hour))},
			want:   sets{"ignore": {"a0"}, "changes": {"ignore=1"}},
		},
		{
			name: "reschedule attempts older than the interval do not count",
			job:  batchJob(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, time.Minute), rescheduledAgo(25*time.Hour))},
			want:   sets{"replace": {"reschedule a0@0 after 5s"}},
		},
		{
			name: "unlimited rescheduling doubles its delay with each attempt",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, time.Minute), rescheduledAgo(time.Hour, 2*time.Hour))},
			want:   sets{"later": {"a0 at +1m0s"}, "wake": {"+1m0s"}, "changes": {"ignore=1"}},
		},
		{
			name: "a fibonacci delay stops growing at max_delay",
			job: service(1, reschedule(api.ReschedulePolicy{Unlimited: true, Delay: api.Duration(10 * s),
				DelayFunction: "fibonacci", MaxDelay: api.Duration(25 * s)})), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, 30*s),
				rescheduledAgo(time.Hour, time.Hour, time.Hour, time.Hour))},
			want: sets{"replace": {"reschedule a0@0 after 25s"}},
		},
		{
			name: "complete batch allocations are not replaced",
			job:  batchJob(2), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientComplete, time.Minute)), alloc("a1", 1)},
			want:   sets{"ignore": {"a0", "a1"}},
		},
		{
			name: "an allocation already replaced is left to its replacement",
			job:  service(1), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, time.Minute), replacedBy("a1")),
				alloc("a1", 0, replacing("a0"))},
			want: sets{"ignore": {"a1"}},
		},

		// Updates.
		{
			name: "an older version whose change leaves the tasks alone is updated in place",
			job:  service(3, jobVersion(1), changedRestart), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1), alloc("a2", 2, atVersion(1))},
			want:   sets{"in place": {"a0", "a1"}, "ignore": {"a2"}, "changes": {"inplace=2"}},
		},
		{
			name: "an older version whose tasks changed is replaced",
			job:  service(2, jobVersion(1), changedTasks), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1)},
			want:   sets{"replace": {"destructive a1@1", "destructive a0@0"}},
		},
		{
			name: "an older version missing from the versions at hand is replaced",
			job:  service(1, jobVersion(1), changedRestart), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0)},
			want:   sets{"replace": {"destructive a0@0"}},
		},
		{
			name: "an unhealthy allocation is replaced rather than carried in place",
			job:  service(2, jobVersion(1), changedRestart), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, withHealth(false)), alloc("a1", 1, withHealth(true))},
			want:   sets{"in place": {"a1"}, "replace": {"destructive a0@0"}, "changes": {"inplace=1"}},
		},
		{
			name: "a failed allocation of an older version is replaced by the current one at once",
			job:  service(1, jobVersion(1), changedTasks), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, endedAgo(api.AllocClientFailed, s))},
			want:   sets{"replace": {"destructive a0@0"}},
		},

		// Deployments.
		{
			name: "destructive updates are at most max_parallel at a time",
			job:  service(3, jobVersion(1), changedTasks, maxParallel(1, 0)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1), alloc("a2", 2)},
			dep:    deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 3}),
			want:   sets{"replace": {"destructive a2@2"}, "ignore": {"a0", "a1"}, "changes": {"ignore=2"}},
		},
		{
			name: "unhealthy allocations of the deployment use the max_parallel budget",
			job:  service(3, jobVersion(1), changedTasks, maxParallel(2, 0)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, stoppedAlloc(), replacedBy("b0")),
				alloc("b0", 0, atVersion(1), forDeployment("d1"), replacing("a0"), withHealth(false)),
				alloc("a1", 1), alloc("a2", 2)},
			dep:  deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 3}),
			want: sets{"replace": {"destructive a2@2"}, "ignore": {"a1", "b0"}, "changes": {"ignore=1"}},
		},
		{
			name: "healthy allocations of the deployment give the budget back",
			job:  service(3, jobVersion(1), changedTasks, maxParallel(2, 0)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, stoppedAlloc(), replacedBy("b0")),
				alloc("b0", 0, atVersion(1), forDeployment("d1"), replacing("a0"), withHealth(true)),
				alloc("a1", 1), alloc("a2", 2)},
			dep:  deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 3}),
			want: sets{"replace": {"destructive a2@2", "destructive a1@1"}, "ignore": {"b0"}},
		},
		{
			name: "a paused deployment replaces nothing",
			job:  service(2, jobVersion(1), changedTasks, maxParallel(1, 0)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1)},
			dep:    deployment(1, api.DeploymentPaused, &api.DeploymentGroup{DesiredTotal: 2}),
			want:   sets{"ignore": {"a0", "a1"}, "changes": {"ignore=2"}},
		},
		{
			name: "canaries are placed beside the old allocations, after the highest index",
			job:  service(2, jobVersion(1), changedTasks, maxParallel(1, 2)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1), alloc("old", 4, stoppedAlloc())},
			dep:    deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 2, DesiredCanaries: 2}),
			want:   sets{"replace": {"canary @5", "canary @6"}, "ignore": {"a0", "a1"}, "changes": {"ignore=2"}},
		},
		{
			name: "canaries wait for promotion",
			job:  service(2, jobVersion(1), changedTasks, maxParallel(1, 1)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1),
				alloc("c2", 2, atVersion(1), asCanary("d1"), withHealth(true))},
			dep:  deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 2, DesiredCanaries: 1}),
			want: sets{"ignore": {"a0", "a1", "c2"}, "changes": {"ignore=2"}},
		},
		{
			name: "a promoted canary takes an old allocation's place and the rollout goes on",
			job:  service(2, jobVersion(1), changedTasks, maxParallel(1, 1)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1),
				alloc("c2", 2, atVersion(1), asCanary("d1"), withHealth(true))},
			dep: deployment(1, api.DeploymentRunning, &api.DeploymentGroup{DesiredTotal: 2, DesiredCanaries: 1, Promoted: true}),
			want: sets{"stop": {"a1: scaled down"}, "replace": {"destructive a0@0"}, "ignore": {"c2"},
				"changes": {"stop=1"}},
		},
		{
			name: "the canaries of a failed deployment are stopped",
			job:  service(2, jobVersion(1), changedTasks, maxParallel(1, 1)), versions: map[uint64]*api.Job{0: v0}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0), alloc("a1", 1),
				alloc("c2", 2, atVersion(1), asCanary("d1"), withHealth(false))},
			dep: deployment(1, api.DeploymentFailed, &api.DeploymentGroup{DesiredTotal: 2, DesiredCanaries: 1}),
			want: sets{"stop": {"c2: canary of a failed deployment"}, "ignore": {"a0", "a1"},
				"changes": {"stop=1 ignore=2"}},
		},
		{
			name: "a canary of a replaced job version is stopped",
			job:  service(2, jobVersion(2), changedTasks), versions: map[uint64]*api.Job{1: service(2, jobVersion(1), changedTasks)}, nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, atVersion(2)), alloc("a1", 1, atVersion(2)),
				alloc("c2", 2, atVersion(1), asCanary("d1"))},
			want: sets{"stop": {"c2: canary of a replaced job version"}, "ignore": {"a0", "a1"},
				"changes": {"stop=1"}},
		},

		// Drains.
		{
			name: "draining node migrates at most max_parallel",
			job:  service(3), nodes: drainNoDeadline,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")), alloc("a1", 1, onNode("n2")), alloc("a2", 2, onNode("n2"))},
			want:   sets{"replace": {"migrate a0@0"}, "ignore": {"a1", "a2"}, "changes": {"ignore=2"}},
		},
		{
			name: "migrate.max_parallel counts migrations not yet healthy",
			job:  service(3, migrateParallel(2)), nodes: drainFutureDeadline,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")), alloc("a1", 1, onNode("n2")),
				alloc("m2", 2, onNode("n2"), migratedAway(), replacedBy("b2")),
				alloc("b2", 2, replacing("m2"), migratedIn(), pendingAlloc())},
			want: sets{"replace": {"migrate a0@0"}, "ignore": {"a1", "b2"}, "changes": {"ignore=1"}},
		},
		{
			name: "a drain past its deadline migrates everything",
			job:  service(3), nodes: drainPastDeadline,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")), alloc("a1", 1, onNode("n2")), alloc("a2", 2, onNode("n2"))},
			want:   sets{"replace": {"migrate a0@0", "migrate a1@1", "migrate a2@2"}},
		},
		{
			name: "a batch migration is in flight until its replacement runs",
			job:  batchJob(2), nodes: drainNoDeadline,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2")),
				alloc("m1", 1, onNode("n2"), migratedAway(), replacedBy("b1")),
				alloc("b1", 1, replacing("m1"), pendingAlloc())},
			want: sets{"ignore": {"a0", "b1"}, "changes": {"ignore=1"}},
		},
		{
			name: "an allocation updated in place on a draining node is still migrated",
			job:  service(1, jobVersion(1), changedRestart), versions: map[uint64]*api.Job{0: v0}, nodes: drainNoDeadline,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"))},
			want:   sets{"in place": {"a0"}, "replace": {"migrate a0@0"}, "changes": {"inplace=1"}},
		},

		// Disconnected nodes.
		{
			name: "an allocation of a down node within lost_after is kept and replaced",
			job:  service(1, lostAfter(5*time.Minute, true, "")), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"))},
			want: sets{"disconnect": {"a0"}, "replace": {"disconnect a0@0"}, "wake": {"+5m0s"},
				"changes": {"disconnect=1"}},
		},
		{
			name: "disconnected allocation with replace=false is kept",
			job:  service(2, lostAfter(5*time.Minute, false, "")), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute)), alloc("a1", 1)},
			want:   sets{"disconnect": {"a0"}, "ignore": {"a1"}, "wake": {"+4m0s"}},
		},
		{
			name: "an unknown allocation without a replacement past lost_after is lost",
			job:  service(1, lostAfter(5*time.Minute, false, "")), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(10*time.Minute))},
			want: sets{"stop": {"a0: node is down: allocation lost"}, "lost": {"a0"}, "replace": {"lost a0@0"},
				"changes": {"lost=1"}},
		},
		{
			name: "an unknown allocation with a replacement waits for lost_after",
			job:  service(1, lostAfter(5*time.Minute, true, "")), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute), replacedBy("b0")),
				alloc("b0", 0, replacing("a0"))},
			want: sets{"disconnect": {"a0"}, "ignore": {"b0"}, "wake": {"+4m0s"}},
		},
		{
			name: "an unknown allocation with a replacement is lost once lost_after passed",
			job:  service(1, lostAfter(5*time.Minute, true, "")), nodes: withDown,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(10*time.Minute), replacedBy("b0")),
				alloc("b0", 0, replacing("a0"))},
			want: sets{"stop": {"a0: node did not come back within disconnect.lost_after: allocation lost"}, "lost": {"a0"},
				"ignore": {"b0"}, "changes": {"lost=1"}},
		},
		{
			name: "a node that comes back keeps the original and stops its replacement",
			job:  service(1, lostAfter(5*time.Minute, true, "")), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute), replacedBy("b0")),
				alloc("b0", 0, replacing("a0"))},
			want: sets{"reconnect": {"a0"}, "stop": {"b0: the allocation it replaced came back with its node"},
				"ignore": {"a0"}, "changes": {"stop=1 reconnect=1"}},
		},
		{
			name: "keep_replacement stops the original when its node comes back",
			job:  service(1, lostAfter(5*time.Minute, true, "keep_replacement")), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute), replacedBy("b0")),
				alloc("b0", 0, replacing("a0"))},
			want: sets{"stop": {"a0: its node came back; the replacement is kept (disconnect.reconcile)"},
				"ignore": {"b0"}, "changes": {"stop=1"}},
		},
		{
			name: "longest_running keeps the replacement when the original never started",
			job:  service(1, lostAfter(5*time.Minute, true, "longest_running")), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute), replacedBy("b0")),
				alloc("b0", 0, replacing("a0"), startedAgo(30*s))},
			want: sets{"stop": {"a0: its node came back; the replacement is kept (disconnect.reconcile)"},
				"ignore": {"b0"}, "changes": {"stop=1"}},
		},
		{
			name: "longest_running keeps the original when it started first",
			job:  service(1, lostAfter(5*time.Minute, true, "longest_running")), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute), replacedBy("b0"), startedAgo(time.Hour)),
				alloc("b0", 0, replacing("a0"), startedAgo(30*s))},
			want: sets{"reconnect": {"a0"}, "stop": {"b0: the allocation it replaced came back with its node"},
				"ignore": {"a0"}, "changes": {"stop=1 reconnect=1"}},
		},
		{
			name: "a reconnected allocation without a replacement counts toward the group again",
			job:  service(1, lostAfter(5*time.Minute, false, "")), nodes: ready,
			allocs: []*api.Allocation{alloc("a0", 0, onNode("n2"), unknownFor(time.Minute)), alloc("a1", 1)},
			want: sets{"reconnect": {"a0"}, "stop": {"a1: scaled down"}, "ignore": {"a0"},
				"changes": {"stop=1 reconnect=1"}},
		},
	}
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			got := reconcileSets(tc.job, tc.versions, tc.nodes, tc.allocs, tc.dep)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", formatSets(got), formatSets(tc.want))
			}
		})
	}
}

func formatSets(s sets) string {
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, s[k])
	}
	return b.String()
}

func TestReplaceKindNamesItsKind(t *testing.T) {
	for k, want := range map[replaceKind]string{replaceLost: "lost", replaceReschedule: "reschedule",
		replaceDestructive: "destructive", replaceMigrate: "migrate", replaceCanary: "canary",
		replaceDisconnect: "disconnect", replaceKind(0): "replaceKind(0)", replaceKind(99): "replaceKind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("kind %d: got %q want %q", int(k), got, want)
		}
	}
}

// A node down for less than the settle time keeps its allocations (they
// are waited for, and the job looked at again when the time is up); one
// down longer, or since before the server looked, has them replaced.
func TestReconcileWaitsForANodeDownAMomentAgo(t *testing.T) {
	job := service(2)
	for _, c := range []struct {
		name      string
		downSince time.Time
		want      sets
	}{
		{"down a second ago", now.Add(-time.Second),
			sets{"ignore": {"a0", "a1"}, "changes": {"ignore=1"}, "wake": {"+1s"}}},
		{"down three seconds ago", now.Add(-3 * time.Second),
			sets{"stop": {"a1: node is down: allocation lost"}, "lost": {"a1"}, "replace": {"lost a1@1"},
				"ignore": {"a0"}, "changes": {"lost=1"}}},
		{"down since before the server looked", time.Time{},
			sets{"stop": {"a1: node is down: allocation lost"}, "lost": {"a1"}, "replace": {"lost a1@1"},
				"ignore": {"a0"}, "changes": {"lost=1"}}},
	} {
		n2 := downNode("n2")
		n2.DownSince = c.downSince
		nodes := map[string]*api.Node{"n1": readyNode("n1"), "n2": n2}
		allocs := []*api.Allocation{alloc("a0", 0), alloc("a1", 1, onNode("n2"))}
		r := &reconciler{job: job, allocs: allocs, byID: map[string]*api.Allocation{"a0": allocs[0], "a1": allocs[1]},
			node: func(id string) *api.Node { return nodes[id] }, now: now, settle: 2 * time.Second}
		d := r.group(job.Groups[0])
		got := sets{}
		for _, s := range d.stop {
			got["stop"] = append(got["stop"], s.alloc.ID+": "+s.why)
			if s.lost {
				got["lost"] = append(got["lost"], s.alloc.ID)
			}
		}
		for _, rp := range d.replace {
			got["replace"] = append(got["replace"], fmt.Sprintf("%s %s@%d", rp.kind, rp.prev.ID, rp.index))
		}
		for _, a := range d.ignore {
			got["ignore"] = append(got["ignore"], a.ID)
		}
		sort.Strings(got["ignore"])
		if !d.wakeAt.IsZero() {
			got["wake"] = []string{fmt.Sprintf("+%v", d.wakeAt.Sub(now))}
		}
		if ch := changesString(d.changes); ch != "" {
			got["changes"] = []string{ch}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
