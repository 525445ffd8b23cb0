package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrBootstrapped is the answer to a second ACL bootstrap. It matches
// ErrConflict.
var ErrBootstrapped = fmt.Errorf("%w: the ACLs were already bootstrapped (docs/security.md says how to reset)", ErrConflict)

// ACLPolicy is the key of an ACL policy.
func (k Keys) ACLPolicy(name string) string { return k.join(KindACLPolicies, name) }

// ACLToken is the key of an ACL token, by accessor.
func (k Keys) ACLToken(accessor string) string { return k.join(KindACLTokens, accessor) }

// ACLTokenSecret is the index key from a token's secret hash to its
// accessor.
func (k Keys) ACLTokenSecret(hash string) string { return k.join(KindACLTokenSecrets, hash) }

// ACLBootstrap is the key that records the ACL bootstrap.
func (k Keys) ACLBootstrap() string { return k.join(KindACLBootstrap) }

// PutACLPolicy creates or replaces a policy and returns it with its
// indexes.
func (s *Store) PutACLPolicy(ctx context.Context, p *api.ACLPolicy) (*api.ACLPolicy, error) {
	stored := *p
	stored.Indexes = api.Indexes{}
	resp, err := s.cli.Put(ctx, s.keys.ACLPolicy(p.Name), encode(&stored), clientv3.WithPrevKV())
	if err != nil {
		return nil, fmt.Errorf("writing ACL policy %q: %w", p.Name, err)
	}
	create := resp.Header.Revision
	if resp.PrevKv != nil {
		create = resp.PrevKv.CreateRevision
	}
	stored.SetIndexes(create, resp.Header.Revision)
	return &stored, nil
}

// GetACLPolicy reads a policy; ErrNotFound when there is none.
func (s *Store) GetACLPolicy(ctx context.Context, name string) (*api.ACLPolicy, error) {
	p, _, err := getOne[api.ACLPolicy](ctx, s, s.keys.ACLPolicy(name))
	return p, err
}

// ListACLPolicies returns every policy, by name.
func (s *Store) ListACLPolicies(ctx context.Context) ([]*api.ACLPolicy, error) {
	ps, _, err := listAll[api.ACLPolicy](ctx, s, s.keys.Kind(KindACLPolicies))
	return ps, err
}

// DeleteACLPolicy removes a policy; ErrNotFound when there is none.
// Tokens naming it lose what it granted.
func (s *Store) DeleteACLPolicy(ctx context.Context, name string) error {
	resp, err := s.cli.Delete(ctx, s.keys.ACLPolicy(name))
	if err != nil {
		return fmt.Errorf("deleting ACL policy %q: %w", name, err)
	}
	if resp.Deleted == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *Store) tokenOps(t *api.ACLToken) (stored api.ACLToken, ops []clientv3.Op, cmps []clientv3.Cmp) {
	stored = *t
	stored.SecretID = ""
	stored.Indexes = api.Indexes{}
	tk, sk := s.keys.ACLToken(t.AccessorID), s.keys.ACLTokenSecret(t.SecretHash)
	return stored, []clientv3.Op{clientv3.OpPut(tk, encode(&stored)), clientv3.OpPut(sk, t.AccessorID)},
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(tk), "=", 0), clientv3.Compare(clientv3.CreateRevision(sk), "=", 0)}
}

// CreateACLToken stores a new token: its record without the secret, and
// the index from its secret hash. ErrConflict if its accessor or secret
// is taken.
func (s *Store) CreateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	if t.SecretHash == "" {
		return nil, errors.New("creating an ACL token: no secret hash")
	}
	stored, ops, cmps := s.tokenOps(t)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("creating ACL token: %w", err)
	}
	if !resp.Succeeded {
		return nil, fmt.Errorf("%w: an ACL token with that accessor or secret exists", ErrConflict)
	}
	stored.SetIndexes(resp.Header.Revision, resp.Header.Revision)
	return &stored, nil
}

// BootstrapACL stores the first management token and records the
// bootstrap, once: ErrBootstrapped after that, until ResetACLBootstrap.
func (s *Store) BootstrapACL(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	stored, ops, cmps := s.tokenOps(t)
	bk := s.keys.ACLBootstrap()
	cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(bk), "=", 0))
	ops = append(ops, clientv3.OpPut(bk, encode(&api.ACLBootstrap{Time: t.CreateTime, AccessorID: t.AccessorID})))
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(bk)).Commit()
	if err != nil {
		return nil, fmt.Errorf("bootstrapping ACLs: %w", err)
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) > 0 {
			return nil, ErrBootstrapped
		}
		return nil, fmt.Errorf("%w: an ACL token with that accessor or secret exists", ErrConflict)
	}
	stored.SetIndexes(resp.Header.Revision, resp.Header.Revision)
	return &stored, nil
}

// ACLBootstrapped returns the bootstrap record; ErrNotFound before the
// bootstrap.
func (s *Store) ACLBootstrapped(ctx context.Context) (*api.ACLBootstrap, error) {
	b, _, err := getOne[api.ACLBootstrap](ctx, s, s.keys.ACLBootstrap())
	return b, err
}

// ResetACLBootstrap forgets the bootstrap, so that it can be done again
// (the operator's way back in after losing every management token). The
// existing tokens and policies stay.
func (s *Store) ResetACLBootstrap(ctx context.Context) error {
	if _, err := s.cli.Delete(ctx, s.keys.ACLBootstrap()); err != nil {
		return fmt.Errorf("resetting the ACL bootstrap: %w", err)
	}
	return nil
}

// UpdateACLToken replaces a token's name, policies and type; its secret,
// accessor, creation and expiration stay. ErrNotFound if there is none.
func (s *Store) UpdateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	key := s.keys.ACLToken(t.AccessorID)
	for range 10 {
		cur, rev, err := getOne[api.ACLToken](ctx, s, key)
		if err != nil {
			return nil, err
		}
		next := *cur
		next.Name, next.Type, next.Policies, next.Roles = t.Name, t.Type, t.Policies, t.Roles
		next.Indexes = api.Indexes{}
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, encode(&next))).Commit()
		if err != nil {
			return nil, fmt.Errorf("updating ACL token %s: %w", t.AccessorID, err)
		}
		if resp.Succeeded {
			next.SetIndexes(int64(cur.CreateIndex), resp.Header.Revision)
			return &next, nil
		}
	}
	return nil, fmt.Errorf("%w: ACL token %s changed while it was updated", ErrConflict, t.AccessorID)
}

// GetACLToken reads a token by accessor; ErrNotFound when there is none.
func (s *Store) GetACLToken(ctx context.Context, accessor string) (*api.ACLToken, error) {
	t, _, err := getOne[api.ACLToken](ctx, s, s.keys.ACLToken(accessor))
	return t, err
}

// ACLTokenBySecretHash reads the token whose secret hashes to hash;
// ErrNotFound when there is none.
func (s *Store) ACLTokenBySecretHash(ctx context.Context, hash string) (*api.ACLToken, error) {
	resp, err := s.cli.Get(ctx, s.keys.ACLTokenSecret(hash))
	if err != nil {
		return nil, fmt.Errorf("looking up an ACL token: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	t, err := s.GetACLToken(ctx, string(resp.Kvs[0].Value))
	if err != nil {
		return nil, err
	}
	if t.SecretHash != hash {
		return nil, ErrNotFound
	}
	return t, nil
}

// ListACLTokens returns every token, oldest first.
func (s *Store) ListACLTokens(ctx context.Context) ([]*api.ACLToken, error) {
	ts, _, err := listAll[api.ACLToken](ctx, s, s.keys.Kind(KindACLTokens))
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].CreateIndex < ts[j].CreateIndex })
	return ts, err
}

// DeleteACLToken removes a token and its secret's index; ErrNotFound
// when there is none.
func (s *Store) DeleteACLToken(ctx context.Context, accessor string) error {
	t, err := s.GetACLToken(ctx, accessor)
	if err != nil {
		return err
	}
	_, err = s.cli.Txn(ctx).Then(clientv3.OpDelete(s.keys.ACLToken(accessor)), clientv3.OpDelete(s.keys.ACLTokenSecret(t.SecretHash))).Commit()
	if err != nil {
		return fmt.Errorf("deleting ACL token %s: %w", accessor, err)
	}
	return nil
}

// ACLRole is the key of an ACL role, by ID.
func (k Keys) ACLRole(id string) string { return k.join(KindACLRoles, id) }

// ACLRoleName is the index key from a role's name to its ID, which keeps
// names unique.
func (k Keys) ACLRoleName(name string) string { return k.join(KindACLRoleNames, name) }

// PutACLRole creates a role (ID not yet stored) or replaces one, keeping
// its name unique: ErrConflict if another role has the name.
func (s *Store) PutACLRole(ctx context.Context, r *api.ACLRole) (*api.ACLRole, error) {
	key, nameKey := s.keys.ACLRole(r.ID), s.keys.ACLRoleName(r.Name)
	stored := *r
	stored.Indexes = api.Indexes{}
	for range 10 {
		cur, rev, err := getOne[api.ACLRole](ctx, s, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(key, encode(&stored))}
		if cur == nil || cur.Name != r.Name {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(nameKey), "=", 0))
			ops = append(ops, clientv3.OpPut(nameKey, r.ID))
			if cur != nil {
				ops = append(ops, clientv3.OpDelete(s.keys.ACLRoleName(cur.Name)))
			}
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(nameKey)).Commit()
		if err != nil {
			return nil, fmt.Errorf("writing ACL role %q: %w", r.Name, err)
		}
		if resp.Succeeded {
			create := resp.Header.Revision
			if cur != nil {
				create = int64(cur.CreateIndex)
			}
			stored.SetIndexes(create, resp.Header.Revision)
			return &stored, nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 && string(kvs[0].Value) != r.ID {
			return nil, fmt.Errorf("%w: an ACL role named %q exists", ErrConflict, r.Name)
		}
	}
	return nil, fmt.Errorf("%w: ACL role %q changed while it was written", ErrConflict, r.Name)
}

// GetACLRole reads a role by ID; ErrNotFound when there is none.
func (s *Store) GetACLRole(ctx context.Context, id string) (*api.ACLRole, error) {
	r, _, err := getOne[api.ACLRole](ctx, s, s.keys.ACLRole(id))
	return r, err
}

// ACLRoleByName reads a role by name; ErrNotFound when there is none.
func (s *Store) ACLRoleByName(ctx context.Context, name string) (*api.ACLRole, error) {
	resp, err := s.cli.Get(ctx, s.keys.ACLRoleName(name))
	if err != nil {
		return nil, fmt.Errorf("looking up ACL role %q: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return s.GetACLRole(ctx, string(resp.Kvs[0].Value))
}

// ListACLRoles returns every role.
func (s *Store) ListACLRoles(ctx context.Context) ([]*api.ACLRole, error) {
	rs, _, err := listAll[api.ACLRole](ctx, s, s.keys.Kind(KindACLRoles))
	return rs, err
}

// DeleteACLRole removes a role and its name; ErrNotFound when there is
// none. Tokens linking it lose its policies.
func (s *Store) DeleteACLRole(ctx context.Context, id string) error {
	r, err := s.GetACLRole(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.cli.Txn(ctx).Then(clientv3.OpDelete(s.keys.ACLRole(id)), clientv3.OpDelete(s.keys.ACLRoleName(r.Name))).Commit()
	if err != nil {
		return fmt.Errorf("deleting ACL role %q: %w", r.Name, err)
	}
	return nil
}
