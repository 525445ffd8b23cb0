package api

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// The types of ACL tokens.
const (
	// TokenClient is a token whose policies say what it may do.
	TokenClient = "client"
	// TokenManagement is a token that may do everything.
	TokenManagement = "management"
)

// AnonymousPolicy is the name of the policy that requests without a token
// get, when ACLs are on and a policy of that name exists.
const AnonymousPolicy = "anonymous"

// ACLPolicy is a named ACL policy: rules in Nomad's policy syntax (HCL or
// JSON), which tokens name.
type ACLPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Rules       string `json:"rules"`

	Indexes
}

// ACLToken is an API token. Its secret is shown once, when the token is
// created; the servers keep only its SHA-256 hash (SecretHash), which
// the API never answers.
type ACLToken struct {
	AccessorID string   `json:"accessor_id"`
	SecretID   string   `json:"secret_id,omitempty"`
	Name       string   `json:"name,omitempty"`
	Type       string   `json:"type"`
	Policies   []string `json:"policies,omitempty"`
	// Roles are the roles whose policies the token also has.
	Roles  []ACLRoleLink `json:"roles,omitempty"`
	Global bool          `json:"global,omitempty"`
	// SecretHash is the hex SHA-256 of the secret (stored, never served).
	SecretHash string    `json:"secret_hash,omitempty"`
	CreateTime time.Time `json:"create_time,omitzero"`
	// ExpirationTime is when the token stops being accepted (nil: never).
	ExpirationTime *time.Time `json:"expiration_time,omitempty"`
	// ExpirationTTL is how long after its creation the token expires, as
	// asked for at creation.
	ExpirationTTL Duration `json:"expiration_ttl,omitempty"`

	Indexes
}

// ACLRole is a named set of policies that tokens link to, so that the
// policies of many tokens change in one place.
type ACLRole struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Policies    []string `json:"policies"`

	Indexes
}

// ACLRoleLink names a role of a token: by ID or name when asked for, by
// both in answers.
type ACLRoleLink struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Expired reports whether the token has expired at now.
func (t *ACLToken) Expired(now time.Time) bool {
	return t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
}

// Public is the token as the API answers it: without its secret hash,
// and with its secret only if withSecret.
func (t *ACLToken) Public(withSecret bool) *ACLToken {
	c := *t
	c.SecretHash = ""
	if !withSecret {
		c.SecretID = ""
	}
	return &c
}

// HashSecret is the hex SHA-256 of a token's secret, as the servers keep
// it.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ACLBootstrap records that the cluster's ACLs were bootstrapped: when,
// and the accessor of the first management token.
type ACLBootstrap struct {
	Time       time.Time `json:"time"`
	AccessorID string    `json:"accessor_id"`
}
