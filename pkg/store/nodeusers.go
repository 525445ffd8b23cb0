package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Grant is one permission of a node's etcd role: a key, or every key with
// a prefix, read or read and written.
type Grant struct {
	Key    string
	Prefix bool
	Write  bool
}

// NodeGrants are the permissions of a node's etcd role: its own trees and
// keys, and the two cluster-wide lists a node agent reads (the service
// index, which templates render from, and the live servers, which it
// reads variables from). Nothing else: not the jobs, not other nodes'
// allocations, statuses or records.
func (k Keys) NodeGrants(node string) []Grant {
	return []Grant{
		{Key: k.NodeAllocs(node), Prefix: true},
		{Key: k.NodeIdentities(node), Prefix: true},
		{Key: k.NodeJobs(node), Prefix: true},
		{Key: k.Kind(KindServices), Prefix: true},
		{Key: k.Kind(KindServers), Prefix: true},
		{Key: k.Node(node), Write: true},
		{Key: k.Heartbeat(node), Write: true},
		{Key: k.join(KindAllocStatus, node) + "/", Prefix: true, Write: true},
		{Key: k.NodeServices(node), Prefix: true, Write: true},
	}
}

// NodeUser is the name of a node's etcd user and role in this cluster.
// The cluster prefix is part of it, so clusters sharing an etcd do not
// share users.
func (k Keys) NodeUser(node string) string {
	p := strings.ReplaceAll(strings.Trim(k.prefix, "/"), "/", ".")
	if p == "" {
		return "node." + node
	}
	return p + ".node." + node
}

// NodeUsers creates and removes nodes' etcd users and roles. etcd lets
// only its root role manage users and roles, so NodeUsers has a client of
// its own, with root's credentials, used for nothing else; the store's
// client keeps the servers' own role, which covers the cluster prefix
// only.
type NodeUsers struct {
	cli  *clientv3.Client
	keys Keys
}

// NewNodeUsers returns the user manager of the cluster under prefix, over
// a client with etcd's root role (or any client when etcd has no
// authentication).
func NewNodeUsers(admin *clientv3.Client, prefix string) *NodeUsers {
	return &NodeUsers{cli: admin, keys: NewKeys(prefix)}
}

// ErrWrongPassword is returned when a node that joins again does not
// prove that it holds its current password.
var ErrWrongPassword = errors.New("wrong password")

// Credentials are a node's etcd user name and password.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Join gives a node its etcd user and role, with a new random password,
// and returns them. A node that has a user already must give its current
// password (current), which etcd checks, and gets a new one: a join token
// alone does not take over another node's identity. etcd keeps only a hash
// of the password; nomadic keeps none.
func (u *NodeUsers) Join(ctx context.Context, node, current string) (*Credentials, error) {
	name := u.keys.NodeUser(node)
	password, err := newPassword()
	if err != nil {
		return nil, err
	}
	_, err = u.cli.UserGet(ctx, name)
	created := false
	switch {
	case err == nil:
		if err := u.checkPassword(ctx, name, current); err != nil {
			return nil, err
		}
		// The old password's hash goes first: should what follows
		// fail, the old password passes the servers' status relay no
		// more than etcd.
		if _, err := u.cli.Delete(ctx, u.keys.NodeAuth(node)); err != nil {
			return nil, fmt.Errorf("deleting the password hash of node %s: %w", node, err)
		}
		if _, err := u.cli.UserChangePassword(ctx, name, password); err != nil {
			return nil, fmt.Errorf("changing the password of etcd user %s: %w", name, err)
		}
	case errors.Is(err, rpctypes.ErrUserNotFound):
		if _, err := u.cli.UserAdd(ctx, name, password); err != nil {
			return nil, fmt.Errorf("adding etcd user %s: %w", name, err)
		}
		created = true
	default:
		return nil, fmt.Errorf("reading etcd user %s: %w", name, err)
	}
	err = u.grant(ctx, node, name)
	if err == nil {
		// The servers check a node's status relay requests against
		// the password's hash (a SHA-256 of 256 random bits: nothing to
		// guess from it), as they check API tokens.
		if _, err = u.cli.Put(ctx, u.keys.NodeAuth(node), PasswordHash(password)); err != nil {
			err = fmt.Errorf("recording the password hash of node %s: %w", node, err)
		}
	}
	if err != nil {
		if created {
			// Nobody knows the password: let the node join again.
			_ = u.Remove(context.WithoutCancel(ctx), node)
		}
		return nil, err
	}
	return &Credentials{Username: name, Password: password}, nil
}

// PasswordHash is what nodeauth/<node> holds for a node's password: its
// SHA-256, in hex.
func PasswordHash(password string) string {
	h := sha256.Sum256([]byte(password))
	return hex.EncodeToString(h[:])
}

// NodeAuthHash reads the hash of a joined node's password; "" when the
// node never joined (or joined before the servers recorded hashes).
func (s *Store) NodeAuthHash(ctx context.Context, node string) (string, error) {
	resp, err := s.cli.Get(ctx, s.keys.NodeAuth(node))
	if err != nil {
		return "", fmt.Errorf("reading the password hash of node %s: %w", node, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// checkPassword asks etcd whether a user's password is current. Without
// authentication in etcd there is nothing to check against, and nothing
// a password would protect: any password passes.
func (u *NodeUsers) checkPassword(ctx context.Context, name, password string) error {
	if password == "" {
		return fmt.Errorf("node user %s exists: give its current password to join again: %w", name, ErrWrongPassword)
	}
	_, err := u.cli.Authenticate(ctx, name, password)
	switch {
	case err == nil, errors.Is(err, rpctypes.ErrAuthNotEnabled):
		return nil
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("node user %s: %w", name, ErrWrongPassword)
	}
	return fmt.Errorf("checking the password of etcd user %s: %w", name, err)
}

// grant makes the node's role hold exactly NodeGrants and gives it to the
// node's user.
func (u *NodeUsers) grant(ctx context.Context, node, name string) error {
	if _, err := u.cli.RoleAdd(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("adding etcd role %s: %w", name, err)
	}
	want := map[string]bool{}
	for _, g := range u.keys.NodeGrants(node) {
		end := ""
		if g.Prefix {
			end = clientv3.GetPrefixRangeEnd(g.Key)
		}
		want[g.Key+"\x00"+end] = true
		perm := clientv3.PermissionType(authpb.READ)
		if g.Write {
			perm = clientv3.PermissionType(authpb.READWRITE)
		}
		if _, err := u.cli.RoleGrantPermission(ctx, name, g.Key, end, perm); err != nil {
			return fmt.Errorf("granting %s to etcd role %s: %w", g.Key, name, err)
		}
	}
	// Grants of an older version of the layout go.
	role, err := u.cli.RoleGet(ctx, name)
	if err != nil {
		return fmt.Errorf("reading etcd role %s: %w", name, err)
	}
	for _, p := range role.Perm {
		if !want[string(p.Key)+"\x00"+string(p.RangeEnd)] {
			if _, err := u.cli.RoleRevokePermission(ctx, name, string(p.Key), string(p.RangeEnd)); err != nil {
				return fmt.Errorf("revoking %s from etcd role %s: %w", p.Key, name, err)
			}
		}
	}
	if _, err := u.cli.UserGrantRole(ctx, name, name); err != nil {
		return fmt.Errorf("granting etcd role %s to its user: %w", name, err)
	}
	return nil
}

// Remove deletes a node's etcd user and role; a node without them is no
// error.
func (u *NodeUsers) Remove(ctx context.Context, node string) error {
	name := u.keys.NodeUser(node)
	if _, err := u.cli.Delete(ctx, u.keys.NodeAuth(node)); err != nil {
		return fmt.Errorf("deleting the password hash of node %s: %w", node, err)
	}
	if _, err := u.cli.UserDelete(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("deleting etcd user %s: %w", name, err)
	}
	if _, err := u.cli.RoleDelete(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrRoleNotFound) {
		return fmt.Errorf("deleting etcd role %s: %w", name, err)
	}
	return nil
}

// List returns the IDs of the nodes of this cluster that have an etcd
// user.
func (u *NodeUsers) List(ctx context.Context) ([]string, error) {
	resp, err := u.cli.UserList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd users: %w", err)
	}
	start := u.keys.NodeUser("")
	var out []string
	for _, name := range resp.Users {
		id, ok := strings.CutPrefix(name, start)
		// Node IDs have no dot: a longer match is another cluster's.
		if ok && id != "" && !strings.Contains(id, ".") {
			out = append(out, id)
		}
	}
	return out, nil
}

// Exists reports whether a node has an etcd user.
func (u *NodeUsers) Exists(ctx context.Context, node string) (bool, error) {
	_, err := u.cli.UserGet(ctx, u.keys.NodeUser(node))
	if errors.Is(err, rpctypes.ErrUserNotFound) {
		return false, nil
	}
	return err == nil, err
}

func newPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
