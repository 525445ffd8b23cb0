package variables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Claims are what a task's workload identity says of it: Nomad's claims,
// plus the group and node, which nomadic checks the allocation against.
type Claims struct {
	Namespace string   `json:"nomad_namespace"`
	JobID     string   `json:"nomad_job_id"`
	Group     string   `json:"nomad_task_group"`
	Task      string   `json:"nomad_task"`
	AllocID   string   `json:"nomad_allocation_id"`
	NodeID    string   `json:"nomad_node_id"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
}

// String names the task the claims are of.
func (c *Claims) String() string {
	return fmt.Sprintf("task %q of job %q (namespace %q)", c.Task, c.JobID, c.Namespace)
}

// CanRead reports whether the identity may read a variable: those of its
// own job at nomad/jobs/<job>, nomad/jobs/<job>/<group> and
// nomad/jobs/<job>/<group>/<task>, and nomad/jobs itself, in its own
// namespace — the paths Nomad grants a task without a policy.
func (c *Claims) CanRead(ns, path string) bool {
	if ns != c.Namespace {
		return false
	}
	job := "nomad/jobs/" + c.JobID
	switch path {
	case "nomad/jobs", job, job + "/" + c.Group, job + "/" + c.Group + "/" + c.Task:
		return true
	}
	return false
}

// Audience is the audience of the identities the servers issue.
const Audience = "nomadproject.io"

// Authenticate verifies a workload identity: its signature by the
// keyring, and that its allocation still exists on its node and has not
// ended. Any failure is ErrForbidden (or an error reaching etcd).
func (s *Service) Authenticate(ctx context.Context, token string) (*Claims, error) {
	var c Claims
	if err := s.Keyring.Verify(ctx, token, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if c.AllocID == "" || c.NodeID == "" {
		return nil, fmt.Errorf("%w: the identity names no allocation", ErrForbidden)
	}
	a, err := s.Store.ReadAlloc(ctx, c.NodeID, c.AllocID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: the identity's allocation %s no longer exists", ErrForbidden, api.ShortID(c.AllocID))
	}
	if err != nil {
		return nil, err
	}
	if a.Namespace != c.Namespace || a.JobID != c.JobID || a.TaskGroup != c.Group {
		return nil, fmt.Errorf("%w: the identity does not match its allocation", ErrForbidden)
	}
	st, err := s.Store.GetAllocStatus(ctx, c.NodeID, c.AllocID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if st != nil && api.IsTerminalClientStatus(st.ClientStatus) {
		return nil, fmt.Errorf("%w: the identity's allocation %s has ended", ErrForbidden, api.ShortID(c.AllocID))
	}
	return &c, nil
}

// NeedsIdentity reports whether the tasks of a group get workload
// identities: when one of them renders templates or asks for its
// identity (an identity block).
func NeedsIdentity(g *api.TaskGroup) bool {
	for _, t := range g.Tasks {
		if len(t.Templates) > 0 || t.DefaultIdentity() != nil {
			return true
		}
	}
	return false
}

// Issuer signs the workload identities of new allocations and removes
// those of deleted ones: identities/<node>/<alloc>, which only the
// allocation's node reads. The leader runs it. Like the other
// controllers it is level-triggered: a change only names the allocation
// to look at, and each look compares what is stored with what should be.
type Issuer struct {
	Service *Service
	Cache   *store.Cache
	Guard   store.Guard

	mu      sync.Mutex
	allocs  map[string]*api.Allocation // by ID
	issued  map[string]string          // alloc ID -> node of its identity key
	dirty   map[string]bool
	wake    chan struct{}
	jobs    map[string]*api.Job // ns/job/version
	retries map[string]int
}

// Run issues identities until ctx ends.
func (is *Issuer) Run(ctx context.Context) {
	is.allocs, is.issued, is.dirty = map[string]*api.Allocation{}, map[string]string{}, map[string]bool{}
	is.jobs, is.retries = map[string]*api.Job{}, map[string]int{}
	is.wake = make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		is.Cache.Subscribe(ctx, store.Subscriber{
			Kinds:   []store.Kind{store.KindAllocs, store.KindIdentities},
			Resync:  is.resync,
			Changed: is.changed,
		})
	})
	select {
	case <-is.Service.Keyring.Ready():
	case <-ctx.Done():
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-is.wake:
		}
		for _, id := range is.take() {
			if err := is.reconcile(ctx, id); err != nil && ctx.Err() == nil {
				is.mu.Lock()
				is.retries[id]++
				n := is.retries[id]
				is.mu.Unlock()
				slog.Warn("issuing workload identities", "alloc", api.ShortID(id), "err", err)
				if n < 10 {
					time.AfterFunc(time.Duration(n)*time.Second, func() { is.mark(id) })
				}
			}
		}
	}
}

func (is *Issuer) resync(all []store.Change) {
	is.mu.Lock()
	is.allocs, is.issued = map[string]*api.Allocation{}, map[string]string{}
	is.mu.Unlock()
	for _, c := range all {
		is.apply(c)
	}
	is.mu.Lock()
	for id := range is.allocs {
		is.dirty[id] = true
	}
	for id := range is.issued {
		is.dirty[id] = true
	}
	is.mu.Unlock()
	is.poke()
}

func (is *Issuer) changed(c store.Change) {
	is.apply(c)
	is.mark(c.ID)
}

func (is *Issuer) apply(c store.Change) {
	is.mu.Lock()
	defer is.mu.Unlock()
	switch c.Kind {
	case store.KindAllocs:
		if c.Deleted {
			delete(is.allocs, c.ID)
			return
		}
		a, err := store.Decode[api.Allocation](c)
		if err == nil {
			is.allocs[c.ID] = a
		}
	case store.KindIdentities:
		if c.Deleted {
			delete(is.issued, c.ID)
		} else {
			is.issued[c.ID] = c.Node
		}
	}
}

func (is *Issuer) mark(id string) {
	is.mu.Lock()
	is.dirty[id] = true
	is.mu.Unlock()
	is.poke()
}

func (is *Issuer) poke() {
	select {
	case is.wake <- struct{}{}:
	default:
	}
}

func (is *Issuer) take() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	out := make([]string, 0, len(is.dirty))
	for id := range is.dirty {
		out = append(out, id)
	}
	is.dirty = map[string]bool{}
	return out
}

// reconcile makes one allocation's identity key what it should be.
func (is *Issuer) reconcile(ctx context.Context, id string) error {
	is.mu.Lock()
	a := is.allocs[id]
	node, issued := is.issued[id]
	is.mu.Unlock()
	st := is.Service.Store
	switch {
	case a == nil && issued:
		return st.DeleteIdentity(ctx, node, id, is.Guard)
	case a == nil || issued || a.DesiredStatus != api.AllocDesiredRun:
		return nil
	}
	job, err := is.job(ctx, a)
	if err != nil {
		return err
	}
	g := job.LookupGroup(a.TaskGroup)
	if g == nil || !NeedsIdentity(g) {
		return nil
	}
	ident := &api.AllocIdentity{AllocID: a.ID, NodeID: a.NodeID, Tokens: map[string]string{}}
	now := is.Service.now().Unix()
	for _, t := range g.Tasks {
		c := &Claims{Namespace: a.Namespace, JobID: a.JobID, Group: a.TaskGroup, Task: t.Name, AllocID: a.ID, NodeID: a.NodeID,
			Subject:  strings.Join([]string{"global", a.Namespace, a.JobID, a.TaskGroup, t.Name, "default"}, ":"),
			Audience: []string{Audience}, IssuedAt: now, NotBefore: now}
		tok, err := is.Service.Keyring.Sign(c)
		if err != nil {
			return err
		}
		ident.Tokens[t.Name] = tok
	}
	if err := st.PutIdentity(ctx, ident, is.Guard); err != nil {
		return err
	}
	is.mu.Lock()
	delete(is.retries, id)
	is.mu.Unlock()
	return nil
}

func (is *Issuer) job(ctx context.Context, a *api.Allocation) (*api.Job, error) {
	key := fmt.Sprintf("%s/%s/%d", a.Namespace, a.JobID, a.JobVersion)
	is.mu.Lock()
	j := is.jobs[key]
	is.mu.Unlock()
	if j != nil {
		return j, nil
	}
	j, err := is.Service.Store.GetJobVersion(ctx, a.Namespace, a.JobID, a.JobVersion)
	if err != nil {
		return nil, err
	}
	is.mu.Lock()
	if len(is.jobs) > 500 {
		is.jobs = map[string]*api.Job{}
	}
	is.jobs[key] = j
	is.mu.Unlock()
	return j, nil
}
