package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Variables is how the agent reads the variables a task may read: from a
// server, which holds the keyring and decides what the task's workload
// identity (token) allows. The agent holds no key.
type Variables interface {
	// GetVar reads a variable; store.ErrNotFound when there is none,
	// ErrVarForbidden when the task may not read it.
	GetVar(ctx context.Context, token, ns, path string) (*api.Variable, error)
	// ListVars lists the variables the task may read whose path starts
	// with prefix.
	ListVars(ctx context.Context, token, ns, prefix string) ([]*api.Variable, error)
	// WaitVars blocks until a variable changed after index (0: answers at
	// once) or ctx ends, and returns the index to wait from next.
	WaitVars(ctx context.Context, token, ns string, index int64) (int64, error)
}

// ErrVarForbidden is returned for a variable the task's identity may not
// read.
var ErrVarForbidden = errors.New("permission denied")

// ServerVariables reads variables from the servers' API at the addresses
// addrs returns, trying the next one when a server does not answer.
func ServerVariables(addrs func(ctx context.Context) []string, opts ...client.Option) Variables {
	return &serverVars{addrs: addrs, opts: opts}
}

// StoreServers returns the API addresses the live servers registered.
func StoreServers(st *store.Store) func(ctx context.Context) []string {
	return func(ctx context.Context) []string {
		servers, err := st.ListServers(ctx)
		if err != nil {
			return nil
		}
		var out []string
		for _, s := range servers {
			if s.HTTPAddr != "" {
				out = append(out, s.HTTPAddr)
			}
		}
		return out
	}
}

type serverVars struct {
	addrs func(ctx context.Context) []string
	opts  []client.Option
	next  atomic.Uint64
}

// each calls fn with a client of one server after another until one
// answers (an API answer, even an error one, counts).
func (s *serverVars) each(ctx context.Context, token string, fn func(c *client.Client) error) error {
	addrs := s.addrs(ctx)
	if len(addrs) == 0 {
		return errors.New("no server to read variables from")
	}
	start := int(s.next.Load() % uint64(len(addrs)))
	var last error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		c := client.New(addr, append(append([]client.Option(nil), s.opts...), client.WithToken(token))...)
		err := fn(c)
		var ae *client.APIError
		if err == nil || errors.As(err, &ae) || ctx.Err() != nil {
			return mapVarErr(err)
		}
		last = err
		s.next.Add(1)
	}
	return last
}

func mapVarErr(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusNotFound:
			return store.ErrNotFound
		case http.StatusForbidden:
			return fmt.Errorf("%w: %s", ErrVarForbidden, ae.Message)
		}
	}
	return err
}

func (s *serverVars) GetVar(ctx context.Context, token, ns, path string) (*api.Variable, error) {
	var out *api.Variable
	err := s.each(ctx, token, func(c *client.Client) error {
		v, err := c.Var(ctx, ns, path)
		out = v
		return err
	})
	return out, err
}

func (s *serverVars) ListVars(ctx context.Context, token, ns, prefix string) ([]*api.Variable, error) {
	var out []*api.Variable
	err := s.each(ctx, token, func(c *client.Client) error {
		l, err := c.Vars(ctx, ns, prefix)
		out = l
		return err
	})
	return out, err
}

func (s *serverVars) WaitVars(ctx context.Context, token, ns string, index int64) (int64, error) {
	var idx int64
	err := s.each(ctx, token, func(c *client.Client) error {
		var list []*api.Variable
		i, err := c.WatchVars(ctx, ns, "", index, 5*time.Minute, &list)
		idx = i
		return err
	})
	return idx, err
}

// noVariables answers every read with the reason there are none.
type noVariables struct{}

var errNoVariables = errors.New("this node agent reads no variables: it was started without a server to read them from")

func (noVariables) GetVar(context.Context, string, string, string) (*api.Variable, error) {
	return nil, errNoVariables
}

func (noVariables) ListVars(context.Context, string, string, string) ([]*api.Variable, error) {
	return nil, errNoVariables
}

func (noVariables) WaitVars(ctx context.Context, _, _ string, _ int64) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
