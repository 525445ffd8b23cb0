package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func testJob(id string, count int) *api.Job {
	j := &api.Job{ID: id, Groups: []*api.TaskGroup{{Name: "g", Count: count, Tasks: []*api.Task{{Name: "t", Driver: "raw_exec"}}}}}
	j.Canonicalize()
	return j
}

func TestRegisterJobWritesJobVersionAndEvalTogether(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	now := time.Unix(1000, 0).UTC()

	resp, err := s.RegisterJob(ctx, testJob("web", 2), now)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result != "created" || resp.JobVersion != 0 || resp.EvalID == "" {
		t.Fatalf("first register: %+v", resp)
	}
	evals, err := s.ListEvals(ctx, "default", "web")
	if err != nil || len(evals) != 1 || evals[0].ID != resp.EvalID || evals[0].Status != api.EvalStatusPending {
		t.Fatalf("evals after create: %v %+v", err, evals)
	}

	resp, err = s.RegisterJob(ctx, testJob("web", 2), now)
	if err != nil || resp.Result != "unchanged" || resp.EvalID != "" {
		t.Fatalf("same spec again: %v %+v", err, resp)
	}

	resp, err = s.RegisterJob(ctx, testJob("web", 3), now)
	if err != nil || resp.Result != "updated" || resp.JobVersion != 1 {
		t.Fatalf("changed spec: %v %+v", err, resp)
	}
	v0, err := s.GetJobVersion(ctx, "default", "web", 0)
	if err != nil || v0.Groups[0].Count != 2 {
		t.Fatalf("version 0 kept: %v %+v", err, v0)
	}
	cur, _, err := s.GetJob(ctx, "default", "web")
	if err != nil || cur.Version != 1 || cur.Groups[0].Count != 3 {
		t.Fatalf("current: %v %+v", err, cur)
	}
}

func TestConcurrentRegistrationsGetDistinctVersions(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	var wg sync.WaitGroup
	versions := make([]uint64, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.RegisterJob(ctx, testJob("web", i+1), time.Now())
			if err == nil {
				versions[i] = r.JobVersion
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i, v := range versions {
		if errs[i] != nil {
			t.Fatalf("register %d: %v", i, errs[i])
		}
		if seen[v] {
			t.Fatalf("version %d given twice: %v", v, versions)
		}
		seen[v] = true
	}
}

func TestStopAndPurgeJob(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	if _, err := s.RegisterJob(ctx, testJob("web", 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	evalID, err := s.StopJob(ctx, "default", "web", false, time.Now())
	if err != nil || evalID == "" {
		t.Fatalf("stop: %q %v", evalID, err)
	}
	j, _, err := s.GetJob(ctx, "default", "web")
	if err != nil || !j.Stop {
		t.Fatalf("stopped job: %v %+v", err, j)
	}
	if again, err := s.StopJob(ctx, "default", "web", false, time.Now()); err != nil || again != "" {
		t.Fatalf("stopping a stopped job: %q %v", again, err)
	}
	// A stopped job applied again runs again, as a new version.
	r, err := s.RegisterJob(ctx, testJob("web", 1), time.Now())
	if err != nil || r.Result != "updated" {
		t.Fatalf("re-register stopped job: %+v %v", r, err)
	}
	if _, err := s.StopJob(ctx, "default", "web", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetJob(ctx, "default", "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged job still readable: %v", err)
	}
	if _, err := s.StopJob(ctx, "default", "nope", false, time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stopping a missing job: %v", err)
	}
}

func alloc(id, node string) *api.Allocation {
	return &api.Allocation{ID: id, Name: id, Namespace: "default", JobID: "web", NodeID: node,
		DesiredStatus: api.AllocDesiredRun, Resources: api.Resources{CPU: 100, MemoryMB: 100}}
}

func TestCommitPlanRejectsAPlanMadeFromAStaleSnapshot(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	snap, err := s.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := &Commit{Allocs: []*api.Allocation{alloc("a1", "n1")}, Placing: map[string]bool{"n1": true}, NodePlanRevs: snap.NodePlanRevs}
	if n, err := s.CommitPlan(ctx, first); err != nil || n != 1 {
		t.Fatalf("first plan: %d %v", n, err)
	}
	// A second plan read before the first committed places on the same
	// node: it must fail, not overcommit.
	second := &Commit{Allocs: []*api.Allocation{alloc("a2", "n1")}, Placing: map[string]bool{"n1": true}, NodePlanRevs: snap.NodePlanRevs}
	if _, err := s.CommitPlan(ctx, second); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale plan: want conflict, got %v", err)
	}
	// A stale plan onto another node is fine.
	third := &Commit{Allocs: []*api.Allocation{alloc("a3", "n2")}, Placing: map[string]bool{"n2": true}, NodePlanRevs: snap.NodePlanRevs}
	if _, err := s.CommitPlan(ctx, third); err != nil {
		t.Fatalf("plan on another node: %v", err)
	}
	allocs, err := s.ListAllocs(ctx, AllocFilter{Namespace: "default", JobID: "web"})
	if err != nil || len(allocs) != 2 {
		t.Fatalf("allocs by job index: %v %d", err, len(allocs))
	}
}

func TestCommitPlanDropsOnlyWhatConflicted(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	old := alloc("old", "n3")
	if _, err := s.CommitPlan(ctx, &Commit{Allocs: []*api.Allocation{old}}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another server places on n1 after our snapshot.
	if _, err := s.CommitPlan(ctx, &Commit{Allocs: []*api.Allocation{alloc("theirs", "n1")}, Placing: map[string]bool{"n1": true}, NodePlanRevs: snap.NodePlanRevs}); err != nil {
		t.Fatal(err)
	}
	// Our plan places on n1 and n2, and replaces "old" by a placement on
	// n1: everything tied to n1 is dropped, n2's placement lands.
	repl := alloc("repl", "n1")
	repl.PreviousAllocation = "old"
	stop := *old
	stop.DesiredStatus, stop.NextAllocation = api.AllocDesiredStop, "repl"
	ours := &Commit{Allocs: []*api.Allocation{alloc("mine-n1", "n1"), alloc("mine-n2", "n2"), repl, &stop},
		Placing: map[string]bool{"n1": true, "n2": true}, NodePlanRevs: snap.NodePlanRevs}
	n, err := s.CommitPlan(ctx, ours)
	if !errors.Is(err, ErrConflict) || n != 1 {
		t.Fatalf("want a conflict after writing 1, got %d %v", n, err)
	}
	got := map[string]string{}
	allocs, err := s.ListAllocs(ctx, AllocFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		got[a.ID] = a.DesiredStatus
	}
	want := map[string]string{"old": api.AllocDesiredRun, "theirs": api.AllocDesiredRun, "mine-n2": api.AllocDesiredRun}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("allocations %v, want %v", got, want)
	}
}

func TestCommitPlanNeverSplitsAStopFromItsReplacement(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	// 100 destructive updates: each old allocation on an "a" node is
	// stopped for a replacement on a "z" node; sorted by node alone, the
	// stops would fill the first transactions and the replacements the
	// last ones.
	var plan []*api.Allocation
	placing := map[string]bool{}
	for i := 0; i < 100; i++ {
		stop := alloc(fmt.Sprintf("old-%03d", i), fmt.Sprintf("a-%03d", i))
		stop.DesiredStatus, stop.NextAllocation = api.AllocDesiredStop, fmt.Sprintf("new-%03d", i)
		repl := alloc(fmt.Sprintf("new-%03d", i), fmt.Sprintf("z-%03d", i))
		repl.PreviousAllocation = stop.ID
		plan = append(plan, stop, repl)
		placing[repl.NodeID] = true
	}
	if n, err := s.CommitPlan(ctx, &Commit{Allocs: plan, Placing: placing, NodePlanRevs: map[string]int64{}}); err != nil || n != 200 {
		t.Fatalf("commit: %d %v", n, err)
	}
	revs := map[string]int64{}
	txns := map[int64]bool{}
	for _, a := range plan {
		resp, err := s.cli.Get(ctx, s.keys.Alloc(a.NodeID, a.ID))
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("reading %s: %v", a.ID, err)
		}
		revs[a.ID] = resp.Kvs[0].ModRevision
		txns[resp.Kvs[0].ModRevision] = true
	}
	if len(txns) < 2 {
		t.Fatalf("the plan fit one transaction (%d); the test needs it split", len(txns))
	}
	for i := 0; i < 100; i++ {
		if o, n := revs[fmt.Sprintf("old-%03d", i)], revs[fmt.Sprintf("new-%03d", i)]; o != n {
			t.Fatalf("pair %d written at revisions %d and %d", i, o, n)
		}
	}
}

func TestCommitPlanSplitsLargePlansUnderEtcdsOperationLimit(t *testing.T) {
	s := New(testutil.Etcd(t), "/test")
	ctx := context.Background()
	c := &Commit{Placing: map[string]bool{}, NodePlanRevs: map[string]int64{}}
	for i := range 300 {
		node := fmt.Sprintf("n%d", i%7)
		c.Allocs = append(c.Allocs, alloc(fmt.Sprintf("a%03d", i), node))
		c.Placing[node] = true
	}
	n, err := s.CommitPlan(ctx, c)
	if err != nil || n != 300 {
		t.Fatalf("commit: %d %v", n, err)
	}
	allocs, err := s.ListAllocs(ctx, AllocFilter{})
	if err != nil || len(allocs) != 300 {
		t.Fatalf("listed %d allocations, err %v", len(allocs), err)
	}
	byJob, err := s.ListAllocs(ctx, AllocFilter{Namespace: "default", JobID: "web"})
	if err != nil || len(byJob) != 300 {
		t.Fatalf("listed %d allocations by job, err %v", len(byJob), err)
	}
}

func TestListPagesThroughMoreKeysThanOnePage(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	for i := 0; i < pageSize+250; i += 100 {
		var ops []clientv3.Op
		for j := i; j < i+100 && j < pageSize+250; j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/test/x/%05d", j), "v"))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
	}
	count := 0
	last := ""
	if _, err := s.List(ctx, "/test/x/", func(key string, _ []byte) error {
		if key <= last {
			t.Fatalf("keys out of order: %s after %s", key, last)
		}
		last = key
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if count != pageSize+250 {
		t.Fatalf("listed %d keys, want %d", count, pageSize+250)
	}
}

func TestClaimIsExclusiveAndDiesWithItsLease(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx := context.Background()
	l1, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimJob(ctx, "default", "web", "s1", Lease(l1.ID)); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := s.ClaimJob(ctx, "default", "web", "s1", Lease(l1.ID)); !ok || err != nil {
		t.Fatalf("claim again by the holder: %v %v", ok, err)
	}
	if ok, err := s.ClaimJob(ctx, "default", "web", "s2", Lease(l2.ID)); ok || err != nil {
		t.Fatalf("second server claimed a held job: %v %v", ok, err)
	}
	// A write guarded by a claim that is not ours fails.
	txn := s.NewTxn(s.ClaimGuard("default", "web", Lease(l2.ID)))
	txn.CreateEval("default", "web", "test", "", time.Now())
	if err := txn.Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("guarded write by non-holder: %v", err)
	}
	if _, err := cli.Revoke(ctx, l1.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimJob(ctx, "default", "web", "s2", Lease(l2.ID)); !ok || err != nil {
		t.Fatalf("claim after the holder's lease died: %v %v", ok, err)
	}
}

type recorder struct {
	mu       sync.Mutex
	replaced int
	items    map[string]string
}

func (r *recorder) Replace(items map[string]listed, _ int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replaced++
	r.items = map[string]string{}
	for k, v := range items {
		r.items[k] = string(v.value)
	}
}

func (r *recorder) Apply(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Delete {
		delete(r.items, ev.Key)
	} else {
		r.items[ev.Key] = string(ev.Value)
	}
}

func (r *recorder) get(k string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.items[k]
	return v, ok
}

func TestListWatchSeesTheListThenEveryChange(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cli.Put(ctx, "/test/w/a", "1"); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.listWatch(ctx, "/test/w/", r)
	}()
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		v, ok := r.get("/test/w/a")
		return ok && v == "1", "initial list"
	})
	if _, err := cli.Put(ctx, "/test/w/b", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "/test/w/a"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		_, hasA := r.get("/test/w/a")
		v, hasB := r.get("/test/w/b")
		return !hasA && hasB && v == "2", "put and delete seen"
	})
	cancel()
	<-done
}

// The newest deployment is the one etcd created last, whatever the clocks
// of the servers that made them said.
func TestTheNewestDeploymentIsTheLastCreatedWhateverTheClocks(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/skew")
	ctx := context.Background()
	now := time.Now()
	for i, d := range []*api.Deployment{
		{ID: "d0", Namespace: "default", JobID: "j", JobVersion: 0, CreateTime: now.Add(30 * time.Second)},  // a server ahead
		{ID: "d1", Namespace: "default", JobID: "j", JobVersion: 1, CreateTime: now.Add(-30 * time.Second)}, // one behind, later
	} {
		if _, err := cli.Put(ctx, s.keys.Deployment(d.Namespace, d.JobID, d.ID), encode(d)); err != nil {
			t.Fatal(i, err)
		}
	}
	d, err := s.LatestDeployment(ctx, "default", "j")
	if err != nil || d == nil || d.ID != "d1" {
		t.Fatalf("latest %+v %v, want d1", d, err)
	}
}

// Each version of a job is stored once: the current one in the job's key,
// the ones before it in the history, written when a newer version or a
// purge replaces them.
func TestEachVersionIsStoredOnce(t *testing.T) {
	cli := testutil.Etcd(t)
	s := New(cli, "/once")
	ctx := context.Background()
	job := func(cmd string) *api.Job {
		return &api.Job{ID: "j", Namespace: "default", Type: api.JobTypeService, Groups: []*api.TaskGroup{{Name: "g", Count: 1,
			Tasks: []*api.Task{{Name: "t", Driver: "mock", Config: map[string]any{"command": cmd}}}}}}
	}
	history := func() int64 {
		resp, err := cli.Get(ctx, s.keys.JobVersions("default", "j"), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	if _, err := s.RegisterJob(ctx, job("a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := history(); n != 0 {
		t.Fatalf("a new job's history holds %d versions", n)
	}
	if _, err := s.RegisterJob(ctx, job("b"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := history(); n != 1 {
		t.Fatalf("after a second version the history holds %d", n)
	}
	for v, want := range []string{"a", "b"} {
		got, err := s.GetJobVersion(ctx, "default", "j", uint64(v))
		if err != nil || got.Groups[0].Tasks[0].Config["command"] != want || got.Stop {
			t.Fatalf("version %d: %v %+v", v, err, got)
		}
	}
	if vs, err := s.ListJobVersions(ctx, "default", "j"); err != nil || len(vs) != 2 || vs[1].Version != 1 {
		t.Fatalf("versions %v %d", err, len(vs))
	}
	if _, err := s.StopJob(ctx, "default", "j", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := history(); n != 2 {
		t.Fatalf("after a purge the history holds %d versions, want both", n)
	}
	if got, err := s.GetJobVersion(ctx, "default", "j", 1); err != nil || got.Groups[0].Tasks[0].Config["command"] != "b" {
		t.Fatalf("version 1 after the purge: %v", err)
	}
}

// With a cache, a plan whose node another plan placed on since its
// snapshot is committed anyway when its plain placements still fit in
// what the node has left; one that no longer fits, or asks for ports, is
// dropped to be planned again.
func TestCommitPlanRefitsWhereTheNodeStillHasRoom(t *testing.T) {
	t.Parallel()
	s := New(testutil.Etcd(t), "/refit")
	ctx := context.Background()
	sess, err := s.NewSession(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Revoke(context.Background())
	for _, id := range []string{"n1", "n2"} {
		if err := s.PutNode(ctx, &api.Node{ID: id, Name: id, Eligible: true, Resources: api.Resources{CPU: 1000, MemoryMB: 1000}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutHeartbeat(ctx, id, sess.Lease()); err != nil {
			t.Fatal(err)
		}
	}
	c := runCache(t, s)
	s.UseCache(c)
	defer s.UseCache(nil)
	snap, err := s.ReadJobSnapshot(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	commit := func(allocs ...*api.Allocation) (*Commit, error) {
		placing := map[string]bool{}
		for _, a := range allocs {
			placing[a.NodeID] = true
		}
		cm := &Commit{Allocs: allocs, Placing: placing, NodePlanRevs: snap.NodePlanRevs}
		_, err := s.CommitPlan(ctx, cm)
		return cm, err
	}
	if _, err := commit(alloc("theirs", "n1")); err != nil {
		t.Fatal(err)
	}
	// Same stale snapshot, room left on n1: committed, refitted.
	cm, err := commit(alloc("mine", "n1"), alloc("mine-n2", "n2"))
	if err != nil || cm.Refitted != 1 || len(cm.Written) != 2 {
		t.Fatalf("refit: %v, refitted %d, written %d", err, cm.Refitted, len(cm.Written))
	}
	// No room left for 900 MHz more: dropped.
	big := alloc("big", "n1")
	big.Resources.CPU = 900
	if cm, err := commit(big); !errors.Is(err, ErrConflict) || len(cm.Written) != 0 {
		t.Fatalf("a placement that no longer fits: %v, written %d", err, len(cm.Written))
	}
	// Ports cannot be checked from the node's usage: dropped.
	ported := alloc("ported", "n1")
	ported.Ports = []api.AllocatedPort{{Label: "http", Value: 25000}}
	if _, err := commit(ported); !errors.Is(err, ErrConflict) {
		t.Fatalf("a placement with ports: %v", err)
	}
	allocs, err := s.ListAllocs(ctx, AllocFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range allocs {
		ids = append(ids, a.ID)
	}
	sort.Strings(ids)
	if got := strings.Join(ids, ","); got != "mine,mine-n2,theirs" {
		t.Fatalf("allocations %s", got)
	}
}

// Allocation records and statuses keep their times to the millisecond,
// and the caller's objects are left as they were.
func TestStoredTimesAreMilliseconds(t *testing.T) {
	t.Parallel()
	s := New(testutil.Etcd(t), "/ms")
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 16, 52, 0, 123456789, time.UTC)
	a := alloc("a1", "n1")
	a.CreateTime, a.ModifyTime = at, at
	if _, err := s.CommitPlan(ctx, &Commit{Allocs: []*api.Allocation{a}}); err != nil {
		t.Fatal(err)
	}
	st := &api.AllocStatus{ClientStatus: api.AllocClientRunning, UpdateTime: at,
		Tasks: map[string]*api.TaskState{"t": {State: api.TaskStateRunning, StartedAt: at}}}
	if err := s.PutAllocStatuses(ctx, "n1", map[string]*api.AllocStatus{"a1": st}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAlloc(ctx, "n1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	gst, err := s.GetAllocStatus(ctx, "n1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	ms := at.Truncate(time.Millisecond)
	if !got.CreateTime.Equal(ms) || !got.ModifyTime.Equal(ms) || !gst.UpdateTime.Equal(ms) || !gst.Tasks["t"].StartedAt.Equal(ms) {
		t.Fatalf("stored times %v %v %v %v, want %v", got.CreateTime, got.ModifyTime, gst.UpdateTime, gst.Tasks["t"].StartedAt, ms)
	}
	if !a.CreateTime.Equal(at) || !st.UpdateTime.Equal(at) || !st.Tasks["t"].StartedAt.Equal(at) {
		t.Fatal("the caller's objects were changed")
	}
}

// The statuses of many nodes are written in transactions within etcd's
// limits (128 operations each), each under its own node's key.
func TestManyNodesStatusesAreWrittenInTransactionsEtcdTakes(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	s := New(cli, "/many")
	ctx := context.Background()
	byNode := map[string]map[string]*api.AllocStatus{}
	for n := range 3 {
		m := map[string]*api.AllocStatus{}
		for a := range 100 {
			m[fmt.Sprintf("a%d-%d", n, a)] = &api.AllocStatus{ClientStatus: api.AllocClientRunning}
		}
		byNode[fmt.Sprintf("n%d", n)] = m
	}
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutNodesAllocStatuses(ctx, byNode); err != nil {
		t.Fatal(err)
	}
	after, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if txns := after - before; txns != 3 {
		t.Fatalf("300 statuses took %d transactions, want 3 (128 + 128 + 44)", txns)
	}
	for node, m := range byNode {
		for id := range m {
			st, err := s.GetAllocStatus(ctx, node, id)
			if err != nil || st.ClientStatus != api.AllocClientRunning {
				t.Fatalf("%s/%s: %+v %v", node, id, st, err)
			}
		}
	}
}
