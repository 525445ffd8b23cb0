package variables

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/keyring"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/testutil"
)

func TestTheIssuerSignsIdentitiesOfAllocationsWhoseTasksRenderTemplates(t *testing.T) {
	st := store.New(testutil.Etcd(t), "/v")
	kr, err := keyring.New(st, keyfile.Generate())
	if err != nil {
		t.Fatal(err)
	}
	cache := store.NewCache(st)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	svc := &Service{Store: st, Keyring: kr}
	wg.Go(func() { kr.Run(ctx) })
	wg.Go(func() { cache.Run(ctx) })
	wg.Go(func() { (&Issuer{Service: svc, Cache: cache}).Run(ctx) })

	job := func(id string, templates bool) *api.Job {
		task := &api.Task{Name: "t", Driver: "mock"}
		if templates {
			task.Templates = []*api.Template{{Data: "x", Destination: "local/x"}}
		}
		return &api.Job{ID: id, Namespace: "default", Groups: []*api.TaskGroup{{Name: "g", Count: 1, Tasks: []*api.Task{task}}}}
	}
	var allocs []*api.Allocation
	for _, j := range []*api.Job{job("with", true), job("without", false)} {
		if _, err := st.RegisterJob(ctx, j, time.Now()); err != nil {
			t.Fatal(err)
		}
		allocs = append(allocs, &api.Allocation{ID: api.NewID(), Namespace: "default", JobID: j.ID, TaskGroup: "g", NodeID: "n1", DesiredStatus: api.AllocDesiredRun})
	}
	if _, err := st.CommitPlan(ctx, &store.Commit{Allocs: allocs}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]*api.AllocIdentity{}
	var mu sync.Mutex
	wctx, wcancel := context.WithCancel(ctx)
	wg.Go(func() {
		st.WatchNodeIdentities(wctx, "n1", store.Subscriber{
			Resync: func(all []store.Change) {
				mu.Lock()
				defer mu.Unlock()
				seen = map[string]*api.AllocIdentity{}
				for _, c := range all {
					seen[c.ID], _ = store.Decode[api.AllocIdentity](c)
				}
			},
			Changed: func(c store.Change) {
				mu.Lock()
				defer mu.Unlock()
				if c.Deleted {
					delete(seen, c.ID)
					return
				}
				seen[c.ID], _ = store.Decode[api.AllocIdentity](c)
			},
		})
	})
	defer wcancel()
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return seen[allocs[0].ID] != nil && len(seen) == 1, "identities not issued"
	})
	mu.Lock()
	tok := seen[allocs[0].ID].Tokens["t"]
	mu.Unlock()
	who, err := svc.Authenticate(ctx, tok)
	if err != nil || who.JobID != "with" || who.Group != "g" || who.Task != "t" || !who.CanRead("default", "nomad/jobs/with/g/t") || who.CanRead("default", "nomad/jobs/without") {
		t.Fatalf("authenticate: %+v %v", who, err)
	}
	if err := st.DeleteAllocs(ctx, allocs[:1], store.Guard{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 0, "the identity of a deleted allocation stays"
	})
	if _, err := svc.Authenticate(ctx, tok); err == nil {
		t.Fatal("the identity of a deleted allocation still authenticates")
	}
}
