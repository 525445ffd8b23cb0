package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// identities follows the workload identities the servers issued for the
// node's allocations (identities/<node>/, the node's own prefix).
type identities struct {
	mu      sync.Mutex
	tokens  map[string]map[string]string // alloc -> task -> token
	changed chan struct{}
}

func newIdentities() *identities {
	return &identities{tokens: map[string]map[string]string{}, changed: make(chan struct{})}
}

func (ids *identities) subscriber() store.Subscriber {
	set := func(c store.Change) {
		if c.Deleted {
			delete(ids.tokens, c.ID)
			return
		}
		if id, err := store.Decode[api.AllocIdentity](c); err == nil {
			ids.tokens[c.ID] = id.Tokens
		}
	}
	return store.Subscriber{
		Resync: func(all []store.Change) {
			ids.mu.Lock()
			ids.tokens = map[string]map[string]string{}
			for _, c := range all {
				set(c)
			}
			ids.broadcast()
			ids.mu.Unlock()
		},
		Changed: func(c store.Change) {
			ids.mu.Lock()
			set(c)
			ids.broadcast()
			ids.mu.Unlock()
		},
	}
}

// broadcast wakes the waiters; ids.mu is held.
func (ids *identities) broadcast() {
	close(ids.changed)
	ids.changed = make(chan struct{})
}

// identityWait bounds how long a task waits for the servers to issue its
// identity.
const identityWait = 30 * time.Second

// wait returns a task's token once the servers issued it.
func (ids *identities) wait(ctx context.Context, alloc, task string) (string, error) {
	deadline := time.NewTimer(identityWait)
	defer deadline.Stop()
	for {
		ids.mu.Lock()
		tok := ids.tokens[alloc][task]
		ch := ids.changed
		ids.mu.Unlock()
		if tok != "" {
			return tok, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline.C:
			return "", fmt.Errorf("no workload identity was issued for the task within %v (do the servers have a keyring? see docs/variables.md)", identityWait)
		}
	}
}

// catalog follows the service instances of the namespaces the node's
// templates read, one watch per namespace, started at the first read.
type catalog struct {
	a  *Agent
	mu sync.Mutex
	ns map[string]*nsCatalog
}

// nsCatalog is the service instances of one namespace.
type nsCatalog struct {
	mu      sync.Mutex
	synced  chan struct{}
	once    sync.Once
	regs    map[string]*api.ServiceRegistration // by instance ID
	changed chan struct{}
}

func (c *catalog) namespace(ns string) *nsCatalog {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.ns[ns]; n != nil {
		return n
	}
	n := &nsCatalog{synced: make(chan struct{}), regs: map[string]*api.ServiceRegistration{}, changed: make(chan struct{})}
	c.ns[ns] = n
	c.a.watchers.Go(func() { c.a.store.WatchServices(c.a.runCtx, ns, n.subscriber()) })
	return n
}

func (n *nsCatalog) subscriber() store.Subscriber {
	set := func(c store.Change) {
		if c.Deleted {
			delete(n.regs, c.ID)
			return
		}
		if reg, err := store.Decode[api.ServiceRegistration](c); err == nil {
			n.regs[c.ID] = reg
		}
	}
	done := func() {
		close(n.changed)
		n.changed = make(chan struct{})
		n.once.Do(func() { close(n.synced) })
	}
	return store.Subscriber{
		Resync: func(all []store.Change) {
			n.mu.Lock()
			n.regs = map[string]*api.ServiceRegistration{}
			for _, c := range all {
				set(c)
			}
			done()
			n.mu.Unlock()
		},
		Changed: func(c store.Change) {
			n.mu.Lock()
			set(c)
			done()
			n.mu.Unlock()
		},
	}
}

// healthy returns the healthy instances of a service (of every service
// when name is empty), in ID order, once the watch has listed them.
func (n *nsCatalog) healthy(ctx context.Context, name string) ([]*api.ServiceRegistration, error) {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-n.synced:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errors.New("the service catalog could not be read within 10s")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*api.ServiceRegistration
	for _, r := range n.regs {
		if (name == "" || r.ServiceName == name) && r.Healthy() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// changes returns a channel closed at the next change of the namespace.
func (n *nsCatalog) changes() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}
