package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/acl"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// TokenStore is what the resolver reads: tokens by their secret's hash,
// and policies.
type TokenStore interface {
	ACLTokenBySecretHash(ctx context.Context, hash string) (*api.ACLToken, error)
	GetACLPolicy(ctx context.Context, name string) (*api.ACLPolicy, error)
	GetACLRole(ctx context.Context, id string) (*api.ACLRole, error)
}

// The resolver's refusals, answered 403.
var (
	ErrTokenNotFound = errors.New("ACL token not found")
	ErrTokenExpired  = errors.New("ACL token expired")
)

// Identity is who a request is: its token (nil for the anonymous one and
// the -http-token-file tokens) and what it may do.
type Identity struct {
	Token *api.ACLToken
	ACL   *acl.ACL
	// Anonymous is a request without a token.
	Anonymous bool
}

// Resolver turns a request's secret into its Identity. It keeps what it
// resolved for TTL (default 2 s), so that a burst of requests costs etcd
// one read; a deleted token or changed policy is in force after that.
type Resolver struct {
	Store TokenStore
	// Static are secrets accepted as management tokens without a lookup
	// (the -http-token-file tokens).
	Static []string
	Now    func() time.Time
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	id  *Identity
	err error
	at  time.Time
}

// maxCached bounds the cache; past it the cache starts over.
const maxCached = 10000

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Resolve returns the identity of secret ("" is anonymous).
func (r *Resolver) Resolve(ctx context.Context, secret string) (*Identity, error) {
	for _, s := range r.Static {
		if constantTimeEqual(s, secret) {
			return &Identity{ACL: acl.Management}, nil
		}
	}
	hash := ""
	if secret != "" {
		hash = api.HashSecret(secret)
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[hash]
	r.mu.Unlock()
	if !ok || now.Sub(c.at) > ttl {
		c = cached{at: now}
		c.id, c.err = r.lookup(ctx, hash)
		if c.err != nil && !errors.Is(c.err, ErrTokenNotFound) {
			return nil, c.err // etcd trouble: not cached
		}
		r.mu.Lock()
		if r.cache == nil || len(r.cache) >= maxCached {
			r.cache = map[string]cached{}
		}
		r.cache[hash] = c
		r.mu.Unlock()
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.id.Token != nil && c.id.Token.Expired(now) {
		return nil, ErrTokenExpired
	}
	return c.id, nil
}

// Forget drops the cache, so that a change made by this server is in
// force at once here.
func (r *Resolver) Forget() {
	r.mu.Lock()
	r.cache = nil
	r.mu.Unlock()
}

func (r *Resolver) lookup(ctx context.Context, hash string) (*Identity, error) {
	if hash == "" {
		p, err := r.Store.GetACLPolicy(ctx, api.AnonymousPolicy)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return &Identity{ACL: acl.Deny, Anonymous: true}, nil
		case err != nil:
			return nil, fmt.Errorf("reading the anonymous policy: %w", err)
		}
		parsed, err := acl.Parse(p.Name, p.Rules)
		if err != nil {
			return &Identity{ACL: acl.Deny, Anonymous: true}, nil
		}
		return &Identity{ACL: acl.Compile(parsed), Anonymous: true}, nil
	}
	t, err := r.Store.ACLTokenBySecretHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrTokenNotFound
	case err != nil:
		return nil, fmt.Errorf("looking up the ACL token: %w", err)
	}
	if t.Type == api.TokenManagement {
		return &Identity{Token: t, ACL: acl.Management}, nil
	}
	names := slices.Clone(t.Policies)
	for _, link := range t.Roles {
		role, err := r.Store.GetACLRole(ctx, link.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // a deleted role grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("reading ACL role %q: %w", link.Name, err)
		}
		for _, p := range role.Policies {
			if !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	var policies []*acl.Policy
	for _, name := range names {
		p, err := r.Store.GetACLPolicy(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue // a deleted policy grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("reading ACL policy %q: %w", name, err)
		}
		parsed, err := acl.Parse(p.Name, p.Rules)
		if err != nil {
			continue // stored policies were checked when written
		}
		policies = append(policies, parsed)
	}
	return &Identity{Token: t, ACL: acl.Compile(policies...)}, nil
}
