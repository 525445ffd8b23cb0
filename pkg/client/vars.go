package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
)

func varPath(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/v1/var/" + strings.Join(segs, "/")
}

// Var reads a variable, with its items.
func (c *Client) Var(ctx context.Context, ns, path string) (*api.Variable, error) {
	var out api.Variable
	return &out, c.do(ctx, http.MethodGet, varPath(path), nsQuery(ns), nil, &out)
}

// WatchVar reads a variable as a blocking query: it answers once a
// variable changed after index (0: at once), with the new index.
func (c *Client) WatchVar(ctx context.Context, ns, path string, index int64, wait time.Duration) (*api.Variable, int64, error) {
	var out api.Variable
	idx, err := c.Watch(ctx, varPath(path), nsQuery(ns), index, wait, &out)
	return &out, idx, err
}

// Vars lists the variables of a namespace ("*": of all) whose path starts
// with prefix, without their items.
func (c *Client) Vars(ctx context.Context, ns, prefix string) ([]*api.Variable, error) {
	var out []*api.Variable
	_, err := c.WatchVars(ctx, ns, prefix, 0, 0, &out)
	return out, err
}

// WatchVars is Vars as a blocking query.
func (c *Client) WatchVars(ctx context.Context, ns, prefix string, index int64, wait time.Duration, out *[]*api.Variable) (int64, error) {
	q := nsQuery(ns)
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	return c.Watch(ctx, "/v1/vars", q, index, wait, out)
}

// PutVar writes a variable; with cas >= 0 only if it is at that modify
// index (0: if it does not exist). A lost check-and-set is an *APIError of
// status 409.
func (c *Client) PutVar(ctx context.Context, v *api.Variable, cas int64) (*api.Variable, error) {
	q := nsQuery(v.Namespace)
	if cas >= 0 {
		q.Set("cas", strconv.FormatInt(cas, 10))
	}
	var out api.Variable
	return &out, c.do(ctx, http.MethodPut, varPath(v.Path), q, &api.Variable{Items: v.Items, Lock: v.Lock}, &out)
}

// DeleteVar removes a variable; with cas >= 0 only if it is at that
// modify index.
func (c *Client) DeleteVar(ctx context.Context, ns, path string, cas int64) error {
	q := nsQuery(ns)
	if cas >= 0 {
		q.Set("cas", strconv.FormatInt(cas, 10))
	}
	return c.do(ctx, http.MethodDelete, varPath(path), q, nil, nil)
}

// Lock operations on a variable.
const (
	LockAcquire = "lock-acquire"
	LockRenew   = "lock-renew"
	LockRelease = "lock-release"
)

// LockVar acquires, renews or releases the lock of a variable (op is one
// of LockAcquire, LockRenew, LockRelease); the answer to acquiring it
// carries the lock's ID.
func (c *Client) LockVar(ctx context.Context, op string, v *api.Variable) (*api.Variable, error) {
	q := nsQuery(v.Namespace)
	q.Set(op, "")
	var out api.Variable
	return &out, c.do(ctx, http.MethodPut, varPath(v.Path), q, &api.Variable{Items: v.Items, Lock: v.Lock}, &out)
}

// KeyringKeys lists the keys of the servers' keyring.
func (c *Client) KeyringKeys(ctx context.Context) ([]api.RootKeyMeta, error) {
	var out []api.RootKeyMeta
	return out, c.do(ctx, http.MethodGet, "/v1/operator/keyring/keys", nil, nil, &out)
}

// RotateKeyring makes a new active keyring key; the servers re-encrypt
// the variables under it in the background.
func (c *Client) RotateKeyring(ctx context.Context) (*api.RootKeyMeta, error) {
	var out api.RootKeyMeta
	return &out, c.do(ctx, http.MethodPut, "/v1/operator/keyring/rotate", nil, nil, &out)
}
