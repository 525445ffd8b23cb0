package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The variable store's keys. A variable's path may hold '/', which the key
// escapes (%2F) so that the path is one segment of the layout; prefix
// listing still works, the escaping being the same for every path.

// Variable is the key of a variable.
func (k Keys) Variable(ns, path string) string {
	return k.join(KindVariables, ns, url.PathEscape(path))
}

// RootKey is the key of one key of the servers' keyring.
func (k Keys) RootKey(id string) string { return k.join(KindRootKeys, id) }

// Identity is the key of the workload identities of an allocation.
func (k Keys) Identity(node, alloc string) string { return k.join(KindIdentities, node, alloc) }

// NodeIdentities is the prefix of the identities of a node's allocations.
func (k Keys) NodeIdentities(node string) string { return k.join(KindIdentities, node) + "/" }

// VariablePath is the path of a variable whose key names ref.
func VariablePath(ref Ref) string {
	p, err := url.PathUnescape(ref.Name)
	if err != nil {
		return ref.Name
	}
	return p
}

// VariableConflict is the error of a check-and-set write that found the
// variable at another index; Current is the variable as it is (nil: it
// does not exist). It matches ErrConflict.
type VariableConflict struct {
	Current *api.SealedVariable
}

func (e *VariableConflict) Error() string {
	if e.Current == nil {
		return "check-and-set conflict: the variable does not exist"
	}
	return fmt.Sprintf("check-and-set conflict: the variable is at index %d", e.Current.ModifyIndex)
}

// Is makes a VariableConflict match ErrConflict.
func (e *VariableConflict) Is(target error) bool { return target == ErrConflict }

// GetVariable reads a sealed variable; ErrNotFound when there is none.
func (s *Store) GetVariable(ctx context.Context, ns, path string) (*api.SealedVariable, error) {
	v, _, err := getOne[api.SealedVariable](ctx, s, s.keys.Variable(ns, path))
	return v, err
}

// ListVariables returns the sealed variables of a namespace whose path
// starts with prefix (every namespace when ns is empty), in path order.
func (s *Store) ListVariables(ctx context.Context, ns, prefix string) ([]*api.SealedVariable, error) {
	key := s.keys.Kind(KindVariables)
	if ns != "" {
		key = s.keys.join(KindVariables, ns, url.PathEscape(prefix))
	}
	vars, _, err := listAll[api.SealedVariable](ctx, s, key)
	if err != nil || ns != "" || prefix == "" {
		return vars, err
	}
	out := vars[:0]
	for _, v := range vars {
		if strings.HasPrefix(v.Path, prefix) {
			out = append(out, v)
		}
	}
	return out, nil
}

// PutVariable writes a sealed variable. With expect >= 0 it is a
// check-and-set: the variable must be at that modify index (0: must not
// exist), or a *VariableConflict says where it is. It returns the
// variable with its new indexes.
func (s *Store) PutVariable(ctx context.Context, v *api.SealedVariable, expect int64) (*api.SealedVariable, error) {
	key := s.keys.Variable(v.Namespace, v.Path)
	stored := *v
	stored.Indexes = api.Indexes{}
	var cmps []clientv3.Cmp
	if expect >= 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", expect))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, encode(&stored), clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return nil, fmt.Errorf("writing variable %q: %w", v.Path, err)
	}
	if !resp.Succeeded {
		return nil, conflictFrom(resp.Responses[0].GetResponseRange().Kvs)
	}
	rev := resp.Header.Revision
	create := rev
	if prev := resp.Responses[0].GetResponsePut().PrevKv; prev != nil {
		create = prev.CreateRevision
	}
	stored.SetIndexes(create, rev)
	return &stored, nil
}

// DeleteVariable removes a variable, with expect >= 0 only if it is at
// that modify index (a *VariableConflict otherwise). Deleting a variable
// that does not exist is not an error.
func (s *Store) DeleteVariable(ctx context.Context, ns, path string, expect int64) error {
	key := s.keys.Variable(ns, path)
	var cmps []clientv3.Cmp
	if expect >= 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", expect))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return fmt.Errorf("deleting variable %q: %w", path, err)
	}
	if !resp.Succeeded {
		return conflictFrom(resp.Responses[0].GetResponseRange().Kvs)
	}
	return nil
}

func conflictFrom(kvs []*mvccpb.KeyValue) error {
	c := &VariableConflict{}
	if len(kvs) > 0 {
		cur, err := decodeKV[api.SealedVariable](kvs[0])
		if err != nil {
			return err
		}
		c.Current = cur
	}
	return c
}

// PutRootKey adds a key to the keyring; it fails with ErrConflict if a
// key of that ID exists.
func (s *Store) PutRootKey(ctx context.Context, k *api.RootKey) error {
	key := s.keys.RootKey(k.ID)
	stored := *k
	stored.Indexes = api.Indexes{}
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, encode(&stored))).Commit()
	if err != nil {
		return fmt.Errorf("adding keyring key %s: %w", k.ID, err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// GetRootKey reads one keyring key.
func (s *Store) GetRootKey(ctx context.Context, id string) (*api.RootKey, error) {
	k, _, err := getOne[api.RootKey](ctx, s, s.keys.RootKey(id))
	return k, err
}

// ListRootKeys returns the keyring's keys, oldest first (by the revision
// that created them).
func (s *Store) ListRootKeys(ctx context.Context) ([]*api.RootKey, error) {
	keys, _, err := listAll[api.RootKey](ctx, s, s.keys.Kind(KindRootKeys))
	if err != nil {
		return nil, err
	}
	sortRootKeys(keys)
	return keys, nil
}

func sortRootKeys(keys []*api.RootKey) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j].CreateIndex < keys[j-1].CreateIndex; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

// WatchRootKeys hands sub the keyring's keys, then every change, until
// ctx ends (servers follow rotations made through another server).
func (s *Store) WatchRootKeys(ctx context.Context, sub Subscriber) {
	s.listWatch(ctx, s.keys.Kind(KindRootKeys), subscriberHandler{s: s, sub: sub})
}

// PutIdentity writes the workload identities of an allocation, guarded.
func (s *Store) PutIdentity(ctx context.Context, id *api.AllocIdentity, g Guard) error {
	resp, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpPut(s.keys.Identity(id.NodeID, id.AllocID), encode(id))).Commit()
	if err != nil {
		return fmt.Errorf("writing identities of allocation %s: %w", id.AllocID, err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// DeleteIdentity removes the identities of an allocation, guarded.
func (s *Store) DeleteIdentity(ctx context.Context, node, alloc string, g Guard) error {
	_, err := s.cli.Txn(ctx).If(g.cmps...).Then(clientv3.OpDelete(s.keys.Identity(node, alloc))).Commit()
	return err
}

// WatchNodeIdentities hands a node agent the workload identities of its
// allocations — only its own prefix — then every change, until ctx ends.
func (s *Store) WatchNodeIdentities(ctx context.Context, nodeID string, sub Subscriber) {
	s.listWatch(ctx, s.keys.NodeIdentities(nodeID), subscriberHandler{s: s, sub: sub})
}

// WatchServices hands sub the service instances of a namespace, then
// every change, until ctx ends: what node agents render templates from.
func (s *Store) WatchServices(ctx context.Context, ns string, sub Subscriber) {
	s.listWatch(ctx, s.keys.Services(ns, ""), subscriberHandler{s: s, sub: sub})
}
