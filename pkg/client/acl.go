package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// ACLBootstrap makes the cluster's first management token (once).
func (c *Client) ACLBootstrap(ctx context.Context) (*api.ACLToken, error) {
	var out api.ACLToken
	return &out, c.do(ctx, http.MethodPost, "/v1/acl/bootstrap", nil, nil, &out)
}

// PutACLPolicy creates or replaces a policy.
func (c *Client) PutACLPolicy(ctx context.Context, p *api.ACLPolicy) (*api.ACLPolicy, error) {
	var out api.ACLPolicy
	return &out, c.do(ctx, http.MethodPut, "/v1/acl/policy/"+url.PathEscape(p.Name), nil, p, &out)
}

// ACLPolicies lists the policies.
func (c *Client) ACLPolicies(ctx context.Context) ([]*api.ACLPolicy, error) {
	var out []*api.ACLPolicy
	return out, c.do(ctx, http.MethodGet, "/v1/acl/policies", nil, nil, &out)
}

// ACLPolicy reads a policy.
func (c *Client) ACLPolicy(ctx context.Context, name string) (*api.ACLPolicy, error) {
	var out api.ACLPolicy
	return &out, c.do(ctx, http.MethodGet, "/v1/acl/policy/"+url.PathEscape(name), nil, nil, &out)
}

// DeleteACLPolicy removes a policy.
func (c *Client) DeleteACLPolicy(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/acl/policy/"+url.PathEscape(name), nil, nil, nil)
}

// CreateACLToken makes a token; the answer holds its secret, the only
// time it is shown.
func (c *Client) CreateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	var out api.ACLToken
	return &out, c.do(ctx, http.MethodPut, "/v1/acl/token", nil, t, &out)
}

// UpdateACLToken changes a token's name, type and policies.
func (c *Client) UpdateACLToken(ctx context.Context, t *api.ACLToken) (*api.ACLToken, error) {
	var out api.ACLToken
	return &out, c.do(ctx, http.MethodPut, "/v1/acl/token/"+url.PathEscape(t.AccessorID), nil, t, &out)
}

// ACLTokens lists the tokens (without secrets).
func (c *Client) ACLTokens(ctx context.Context) ([]*api.ACLToken, error) {
	var out []*api.ACLToken
	return out, c.do(ctx, http.MethodGet, "/v1/acl/tokens", nil, nil, &out)
}

// ACLToken reads a token by accessor ("self": the caller's own).
func (c *Client) ACLToken(ctx context.Context, accessor string) (*api.ACLToken, error) {
	var out api.ACLToken
	return &out, c.do(ctx, http.MethodGet, "/v1/acl/token/"+url.PathEscape(accessor), nil, nil, &out)
}

// DeleteACLToken removes a token.
func (c *Client) DeleteACLToken(ctx context.Context, accessor string) error {
	return c.do(ctx, http.MethodDelete, "/v1/acl/token/"+url.PathEscape(accessor), nil, nil, nil)
}

// PutACLRole creates a role (no ID) or replaces one.
func (c *Client) PutACLRole(ctx context.Context, r *api.ACLRole) (*api.ACLRole, error) {
	path := "/v1/acl/role"
	if r.ID != "" {
		path += "/" + url.PathEscape(r.ID)
	}
	var out api.ACLRole
	return &out, c.do(ctx, http.MethodPut, path, nil, r, &out)
}

// ACLRoles lists the roles.
func (c *Client) ACLRoles(ctx context.Context) ([]*api.ACLRole, error) {
	var out []*api.ACLRole
	return out, c.do(ctx, http.MethodGet, "/v1/acl/roles", nil, nil, &out)
}

// ACLRoleByName reads a role by name.
func (c *Client) ACLRoleByName(ctx context.Context, name string) (*api.ACLRole, error) {
	var out api.ACLRole
	return &out, c.do(ctx, http.MethodGet, "/v1/acl/role/name/"+url.PathEscape(name), nil, nil, &out)
}

// DeleteACLRole removes a role by ID.
func (c *Client) DeleteACLRole(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/acl/role/"+url.PathEscape(id), nil, nil, nil)
}
