package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestNodeCopiesCopyJobVersionsToTheirNodesAndIndexOnlyTheNodesOwnInstances(t *testing.T) {
	cli := testutil.Etcd(t)
	st := store.New(cli, "/nc")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	job := &api.Job{ID: "web", Namespace: "default", Type: "service",
		Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
	if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
		t.Fatal(err)
	}
	j, _, err := st.GetJob(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	// An allocation that ran before the copies existed: the first pass
	// copies its version (the migration).
	a1 := &api.Allocation{ID: "a1", Namespace: "default", JobID: "web", JobVersion: j.Version, TaskGroup: "g", NodeID: "n1",
		DesiredStatus: api.AllocDesiredRun}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: []*api.Allocation{a1}}); err != nil {
		t.Fatal(err)
	}

	cache := store.NewCache(st)
	wg.Add(2)
	go func() { defer wg.Done(); cache.Run(ctx) }()
	go func() { defer wg.Done(); (&NodeCopies{Store: st, Cache: cache, Resync: time.Second}).Run(ctx) }()

	copies := func() int {
		n := 0
		if _, err := st.List(ctx, store.NewKeys("/nc").NodeJobs("n1"), func(string, []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return copies() == 1, fmt.Sprintf("%d copies on n1", copies())
	})
	if got, err := st.GetNodeJob(ctx, "n1", "default", "web", j.Version); err != nil || got.ID != "web" {
		t.Fatalf("node job copy: %v, %v", got, err)
	}

	sess, err := st.NewSession(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Revoke(context.Background())
	own := &api.ServiceRegistration{ID: "i1", ServiceName: "web", Namespace: "default", JobID: "web", AllocID: "a1", NodeID: "n1", Address: "10.0.0.1", Port: 80}
	// Node n2 claims n1's allocation, and n1 an allocation it does not have.
	forged := &api.ServiceRegistration{ID: "i2", ServiceName: "web", Namespace: "default", JobID: "web", AllocID: "a1", NodeID: "n2", Address: "10.6.6.6", Port: 80}
	stray := &api.ServiceRegistration{ID: "i3", ServiceName: "db", Namespace: "default", JobID: "db", AllocID: "nope", NodeID: "n1", Address: "10.6.6.6", Port: 5432}
	// An agent of the version before wrote the index itself, bound to its
	// lease: that entry is left to the lease.
	legacy := `{"id":"i9","service_name":"old","namespace":"default","node_id":"n9","alloc_id":"a9"}`
	if _, err := cli.Put(ctx, "/nc/services/default/old/i9", legacy, clientv3.WithLease(clientv3.LeaseID(sess.Lease()))); err != nil {
		t.Fatal(err)
	}
	ids := func() string {
		regs, err := st.ListServices(ctx, "default", "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range regs {
			out = append(out, r.ID)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, r := range []*api.ServiceRegistration{own, forged, stray} {
		if err := st.PutService(ctx, r, sess.Lease()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return ids() == "i1,i9", "index: " + ids()
	})
	// Wait a resync: the forged ones stay out.
	time.Sleep(1500 * time.Millisecond)
	if got := ids(); got != "i1,i9" {
		t.Fatalf("index holds %s, want only n1's own and the legacy one", got)
	}

	// The instance goes, so does its index entry; the allocation goes, so
	// does the copy.
	if err := st.DeleteService(ctx, "n1", "default", "web", "i1"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return ids() == "i9", "index: " + ids()
	})
	if err := st.DeleteAllocs(ctx, []*api.Allocation{a1}, store.Guard{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return copies() == 0, fmt.Sprintf("%d copies left on n1", copies())
	})
}

// A node whose record says its credentials read job versions gets no
// copies; one that stops saying so gets them, and one that starts saying
// so loses them.
func TestNodeCopiesSkipNodesThatReadJobVersionsThemselves(t *testing.T) {
	t.Parallel()
	cli := testutil.Etcd(t)
	st := store.New(cli, "/ncdirect")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	job := &api.Job{ID: "web", Namespace: "default", Type: "service",
		Groups: []*api.TaskGroup{{Name: "g", Count: 2, Tasks: []*api.Task{{Name: "t", Driver: "mock"}}}}}
	if _, err := st.RegisterJob(ctx, job, time.Now()); err != nil {
		t.Fatal(err)
	}
	j, _, err := st.GetJob(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	record := func(node string, reads bool) {
		t.Helper()
		if err := st.PutNode(ctx, &api.Node{ID: node, Name: node, ReadsJobs: reads}); err != nil {
			t.Fatal(err)
		}
	}
	record("n1", false)
	record("n2", true)
	var allocs []*api.Allocation
	for _, n := range []string{"n1", "n2"} {
		allocs = append(allocs, &api.Allocation{ID: "a-" + n, Namespace: "default", JobID: "web", JobVersion: j.Version,
			TaskGroup: "g", NodeID: n, DesiredStatus: api.AllocDesiredRun})
	}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
		t.Fatal(err)
	}
	cache := store.NewCache(st)
	wg.Add(2)
	go func() { defer wg.Done(); cache.Run(ctx) }()
	go func() {
		defer wg.Done()
		(&NodeCopies{Store: st, Cache: cache, Resync: 200 * time.Millisecond}).Run(ctx)
	}()
	keys := store.NewKeys("/ncdirect")
	copies := func(node string) int {
		n := 0
		if _, err := st.List(ctx, keys.NodeJobs(node), func(string, []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	state := func() (string, string) {
		got := fmt.Sprintf("n1 %d, n2 %d", copies("n1"), copies("n2"))
		return got, got
	}
	eventually := func(want string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() (bool, string) {
			got, msg := state()
			return got == want, msg
		})
	}
	eventually("n1 1, n2 0")
	// A few sweeps later still none on n2.
	time.Sleep(time.Second)
	if got, _ := state(); got != "n1 1, n2 0" {
		t.Fatalf("after sweeps: %s", got)
	}
	record("n2", false)
	eventually("n1 1, n2 1")
	record("n1", true)
	eventually("n1 0, n2 1")
}
