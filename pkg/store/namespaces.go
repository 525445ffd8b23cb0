package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/api"
)

// PutNamespace creates or updates a namespace.
func (s *Store) PutNamespace(ctx context.Context, n *api.Namespace) error {
	if err := n.Validate(); err != nil {
		return err
	}
	c := *n
	c.Indexes = api.Indexes{}
	if _, err := s.cli.Put(ctx, s.keys.Namespace(n.Name), encode(&c)); err != nil {
		return fmt.Errorf("writing namespace %s: %w", n.Name, err)
	}
	return nil
}

// GetNamespace reads a namespace an operator created (ErrNotFound when
// nobody did).
func (s *Store) GetNamespace(ctx context.Context, name string) (*api.Namespace, error) {
	n, _, err := getOne[api.Namespace](ctx, s, s.keys.Namespace(name))
	return n, err
}

// ListNamespaces lists the namespaces operators created.
func (s *Store) ListNamespaces(ctx context.Context) ([]*api.Namespace, error) {
	list, _, err := listAll[api.Namespace](ctx, s, s.keys.Kind(KindNamespaces))
	return list, err
}

// ErrNamespaceInUse is why a namespace with jobs is not deleted.
var ErrNamespaceInUse = errors.New("namespace has jobs")

// DeleteNamespace removes a namespace an operator created, unless jobs
// are in it (ErrNamespaceInUse, a conflict).
func (s *Store) DeleteNamespace(ctx context.Context, name string) error {
	jobs, err := s.ListJobs(ctx, name)
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		return fmt.Errorf("%w: %d (purge them first)", ErrNamespaceInUse, len(jobs))
	}
	resp, err := s.cli.Delete(ctx, s.keys.Namespace(name))
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	if resp.Deleted == 0 {
		return ErrNotFound
	}
	return nil
}

// AllNamespaces lists every namespace by name: those operators created,
// those jobs are in (a job may go into a namespace nobody created), and
// default, which always exists.
func (s *Store) AllNamespaces(ctx context.Context) ([]*api.Namespace, error) {
	created, err := s.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	jobs, err := s.ListJobs(ctx, "")
	if err != nil {
		return nil, err
	}
	byName := map[string]*api.Namespace{api.DefaultNamespace: {Name: api.DefaultNamespace, Description: "Default shared namespace"}}
	for _, j := range jobs {
		if byName[j.Namespace] == nil {
			byName[j.Namespace] = &api.Namespace{Name: j.Namespace}
		}
	}
	for _, n := range created {
		byName[n.Name] = n
	}
	out := make([]*api.Namespace, 0, len(byName))
	for _, n := range byName {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *api.Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
