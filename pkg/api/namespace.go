package api

import (
	"fmt"
	"regexp"
)

// Namespace is a namespace an operator created, with what describes it.
// Jobs may also use namespaces nobody created: they exist while jobs are
// in them.
type Namespace struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Indexes
}

var namespaceName = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

// Validate checks a namespace's name and sizes.
func (n *Namespace) Validate() error {
	if !namespaceName.MatchString(n.Name) {
		// "invalid name %q." first, as Nomad's clients may look for it.
		return fmt.Errorf("invalid name %q. A namespace name is letters, digits and '-', at most 128 (invalid namespace name)", n.Name)
	}
	if len(n.Description) > 256 {
		return fmt.Errorf("namespace description is longer than 256 characters")
	}
	if len(n.Meta) > 64 {
		return fmt.Errorf("namespace has %d meta entries: at most 64", len(n.Meta))
	}
	return nil
}
