package api

import (
	"fmt"
	"regexp"
	"time"
)

// Variable is an item of the variable store (Nomad's Variables): a map of
// keys to values at a path of a namespace. Its items are encrypted at rest;
// the rest is metadata in the clear. Lists answer variables without their
// items.
type Variable struct {
	Namespace  string            `json:"namespace"`
	Path       string            `json:"path"`
	Items      map[string]string `json:"items,omitempty"`
	Lock       *VariableLock     `json:"lock,omitempty"`
	CreateTime time.Time         `json:"create_time,omitzero"`
	ModifyTime time.Time         `json:"modify_time,omitzero"`

	Indexes
}

// VariableLock is a lock held on a variable: while it is held only its
// holder (who knows its ID) may change the variable. A lock its holder
// stops renewing expires after TTL; it can be acquired again LockDelay
// after that.
type VariableLock struct {
	// ID is shown only to the holder, in the answer to acquiring it.
	ID        string   `json:"id,omitempty"`
	TTL       Duration `json:"ttl"`
	LockDelay Duration `json:"lock_delay"`
	// Expires is when the lock lapses unless renewed.
	Expires time.Time `json:"expires,omitzero"`
}

// SealedVariable is a variable as etcd holds it: the items sealed with
// AES-256-GCM under keyring key KeyID, with the namespace and path as
// additional data, so a sealed value cannot be moved to another path.
type SealedVariable struct {
	Namespace  string        `json:"namespace"`
	Path       string        `json:"path"`
	KeyID      string        `json:"key_id"`
	Data       []byte        `json:"data"`
	Lock       *VariableLock `json:"lock,omitempty"`
	CreateTime time.Time     `json:"create_time,omitzero"`
	ModifyTime time.Time     `json:"modify_time,omitzero"`

	Indexes
}

// RootKey is a key of the servers' keyring as etcd holds it: the AES-256
// key wrapped (AES-256-GCM) by the key encryption key KEKID of the
// servers' keyring file. The newest key is the active one: it seals new
// variables and signs workload identities.
type RootKey struct {
	ID         string    `json:"id"`
	KEKID      string    `json:"kek_id"`
	Wrapped    []byte    `json:"wrapped"`
	CreateTime time.Time `json:"create_time"`

	Indexes
}

// RootKeyMeta describes a keyring key without its material, as the API
// lists it.
type RootKeyMeta struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	CreateTime time.Time `json:"create_time"`
	// Variables counts the variables sealed under the key.
	Variables int `json:"variables"`
}

// Root key states.
const (
	RootKeyActive   = "active"
	RootKeyInactive = "inactive"
)

// AllocIdentity holds the workload identities the servers signed for the
// tasks of one allocation, by task name.
type AllocIdentity struct {
	AllocID string            `json:"alloc_id"`
	NodeID  string            `json:"node_id"`
	Tokens  map[string]string `json:"tokens"`
}

// Limits of variables, as Nomad has them.
const (
	MaxVariablePath = 128
	// MaxVariableSize bounds the encoded items of one variable.
	MaxVariableSize = 64 << 10
)

var variablePath = regexp.MustCompile(`^[a-zA-Z0-9\-_~/]+$`)

// ValidateVariablePath checks a variable's path: 1 to 128 letters,
// digits, '-', '_', '~' and '/', without empty segments or a leading or
// trailing '/'.
func ValidateVariablePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("a variable needs a path")
	case len(p) > MaxVariablePath:
		return fmt.Errorf("variable path %q is longer than %d characters", p, MaxVariablePath)
	case !variablePath.MatchString(p):
		return fmt.Errorf("variable path %q may hold only letters, digits, '-', '_', '~' and '/'", p)
	case p[0] == '/' || p[len(p)-1] == '/':
		return fmt.Errorf("variable path %q must not start or end with '/'", p)
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && p[i-1] == '/' {
			return fmt.Errorf("variable path %q has an empty segment", p)
		}
	}
	return nil
}
