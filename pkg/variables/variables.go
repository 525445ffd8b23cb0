// Package variables is the servers' side of the variable store: it seals
// and opens variables with the keyring, applies check-and-set and locks,
// decides what a task's workload identity may read, re-encrypts the
// variables after a keyring rotation, and issues the workload identities
// of allocations (identity.go). Both HTTP APIs serve variables through a
// Service.
package variables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/keyring"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ErrForbidden is returned when a workload identity may not do what it
// asked (read another job's variables, write any).
var ErrForbidden = errors.New("permission denied")

// ErrInvalid matches the errors of requests that are wrong in themselves
// (a bad path, no items, too large).
var ErrInvalid = errors.New("invalid request")

type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(err error) error {
	if err == nil {
		return nil
	}
	return invalidError{err}
}

// LockError is returned for a change of a variable whose lock another
// holder has, for acquiring a held lock, and for renewing or releasing a
// lock with the wrong ID. It matches store.ErrConflict.
type LockError struct{ Msg string }

func (e *LockError) Error() string { return e.Msg }

// Is makes a LockError match store.ErrConflict.
func (e *LockError) Is(target error) bool { return target == store.ErrConflict }

// Service serves the variables of one cluster.
type Service struct {
	Store   *store.Store
	Keyring *keyring.Keyring
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func aad(ns, path string) []byte { return []byte("variable:" + ns + "/" + path) }

// open decrypts a sealed variable.
func (s *Service) open(ctx context.Context, sv *api.SealedVariable, now time.Time) (*api.Variable, error) {
	plain, err := s.Keyring.Open(ctx, sv.KeyID, sv.Data, aad(sv.Namespace, sv.Path))
	if err != nil {
		return nil, fmt.Errorf("opening variable %q: %w", sv.Path, err)
	}
	v := meta(sv, now)
	if err := json.Unmarshal(plain, &v.Items); err != nil {
		return nil, fmt.Errorf("decoding variable %q: %w", sv.Path, err)
	}
	return v, nil
}

// meta is a variable's metadata; a lapsed lock is left out, and the
// lock's ID is never shown.
func meta(sv *api.SealedVariable, now time.Time) *api.Variable {
	v := &api.Variable{Namespace: sv.Namespace, Path: sv.Path, CreateTime: sv.CreateTime, ModifyTime: sv.ModifyTime, Indexes: sv.Indexes}
	if held(sv.Lock, now) {
		l := *sv.Lock
		l.ID = ""
		v.Lock = &l
	}
	return v
}

// held reports whether a lock is in force at now.
func held(l *api.VariableLock, now time.Time) bool { return l != nil && now.Before(l.Expires) }

// Get reads a variable; who is the caller's workload identity (nil for an
// operator).
func (s *Service) Get(ctx context.Context, who *Claims, ns, path string) (*api.Variable, error) {
	if err := api.ValidateVariablePath(path); err != nil {
		return nil, invalid(err)
	}
	if who != nil && !who.CanRead(ns, path) {
		return nil, fmt.Errorf("%w: the workload identity of %s may not read variable %q", ErrForbidden, who, path)
	}
	sv, err := s.Store.GetVariable(ctx, ns, path)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, sv, s.now())
}

// List returns the metadata of the variables of a namespace (every
// namespace when ns is empty) whose path starts with prefix, those a
// workload identity may read when who is set.
func (s *Service) List(ctx context.Context, who *Claims, ns, prefix string) ([]*api.Variable, error) {
	svs, err := s.Store.ListVariables(ctx, ns, prefix)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []*api.Variable{}
	for _, sv := range svs {
		if who == nil || who.CanRead(sv.Namespace, sv.Path) {
			out = append(out, meta(sv, now))
		}
	}
	return out, nil
}

// Put writes a variable. With cas >= 0 the variable must be at that
// modify index (0: must not exist), or a *store.VariableConflict says
// where it is. A variable whose lock is held changes only with the lock's
// ID in v.Lock.
func (s *Service) Put(ctx context.Context, v *api.Variable, cas int64) (*api.Variable, error) {
	if err := Validate(v); err != nil {
		return nil, err
	}
	lockID := ""
	if v.Lock != nil {
		lockID = v.Lock.ID
	}
	return s.update(ctx, v.Namespace, v.Path, cas, func(cur *api.SealedVariable, now time.Time) (*api.Variable, error) {
		if cur != nil && held(cur.Lock, now) && cur.Lock.ID != lockID {
			return nil, &LockError{Msg: fmt.Sprintf("variable %q is locked: only its lock's holder may change it", v.Path)}
		}
		next := &api.Variable{Namespace: v.Namespace, Path: v.Path, Items: v.Items, ModifyTime: now, CreateTime: now}
		if cur != nil {
			next.CreateTime = cur.CreateTime
			next.Lock = cur.Lock
		}
		return next, nil
	})
}

// Validate checks a variable to be written: its path, at least one item,
// no empty key, and the size of its items. It does no I/O.
func Validate(v *api.Variable) error {
	if err := api.ValidateVariablePath(v.Path); err != nil {
		return invalid(err)
	}
	if len(v.Items) == 0 {
		return invalid(fmt.Errorf("variable %q needs at least one item", v.Path))
	}
	if _, empty := v.Items[""]; empty {
		return invalid(fmt.Errorf("variable %q has an item without a key", v.Path))
	}
	plain, _ := json.Marshal(v.Items)
	if len(plain) > api.MaxVariableSize {
		return invalid(fmt.Errorf("variable %q is %d bytes; at most %d are stored", v.Path, len(plain), api.MaxVariableSize))
	}
	return nil
}

// update is the read-check-write loop of every change: change gets the
// current sealed variable (nil: none) and returns the next one, which is
// sealed and written at the revision read. With cas >= 0 that revision
// must be cas.
func (s *Service) update(ctx context.Context, ns, path string, cas int64, change func(cur *api.SealedVariable, now time.Time) (*api.Variable, error)) (*api.Variable, error) {
	for attempt := 0; attempt < 10; attempt++ {
		cur, err := s.Store.GetVariable(ctx, ns, path)
		if errors.Is(err, store.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		rev := int64(0)
		if cur != nil {
			rev = int64(cur.ModifyIndex)
		}
		if cas >= 0 && rev != cas {
			return nil, &store.VariableConflict{Current: cur}
		}
		next, err := change(cur, s.now())
		if err != nil {
			return nil, err
		}
		items := next.Items
		if items == nil && cur != nil {
			// A lock operation: the items stay as they are, sealed.
			sv := *cur
			sv.Lock = next.Lock
			sv.ModifyTime = next.ModifyTime
			stored, err := s.Store.PutVariable(ctx, &sv, rev)
			if conflictRetry(err, cas) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out := meta(stored, s.now())
			out.Lock = stored.Lock
			return out, nil
		}
		if items == nil {
			items = map[string]string{}
		}
		plain, _ := json.Marshal(items)
		keyID, data, err := s.Keyring.Seal(plain, aad(ns, path))
		if err != nil {
			return nil, err
		}
		sv := &api.SealedVariable{Namespace: ns, Path: path, KeyID: keyID, Data: data, Lock: next.Lock, CreateTime: next.CreateTime, ModifyTime: next.ModifyTime}
		stored, err := s.Store.PutVariable(ctx, sv, rev)
		if conflictRetry(err, cas) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out := meta(stored, s.now())
		out.Items = items
		out.Lock = stored.Lock
		return out, nil
	}
	return nil, fmt.Errorf("writing variable %q: %w", path, store.ErrConflict)
}

// conflictRetry reports whether a write lost a race it may retry: one
// that was not a check-and-set of the caller's.
func conflictRetry(err error, cas int64) bool {
	var c *store.VariableConflict
	return cas < 0 && errors.As(err, &c)
}

// Delete removes a variable; with cas >= 0 only if it is at that modify
// index. A variable whose lock is held is removed only with the lock's
// ID.
func (s *Service) Delete(ctx context.Context, ns, path string, cas int64, lockID string) error {
	if err := api.ValidateVariablePath(path); err != nil {
		return invalid(err)
	}
	for attempt := 0; attempt < 10; attempt++ {
		cur, err := s.Store.GetVariable(ctx, ns, path)
		if errors.Is(err, store.ErrNotFound) {
			if cas > 0 {
				return &store.VariableConflict{}
			}
			return nil
		}
		if err != nil {
			return err
		}
		if cas >= 0 && int64(cur.ModifyIndex) != cas {
			return &store.VariableConflict{Current: cur}
		}
		if held(cur.Lock, s.now()) && cur.Lock.ID != lockID {
			return &LockError{Msg: fmt.Sprintf("variable %q is locked: only its lock's holder may delete it", path)}
		}
		err = s.Store.DeleteVariable(ctx, ns, path, int64(cur.ModifyIndex))
		if conflictRetry(err, cas) {
			continue
		}
		return err
	}
	return fmt.Errorf("deleting variable %q: %w", path, store.ErrConflict)
}

// DefaultLockTTL and DefaultLockDelay are Nomad's defaults for a lock
// that names none.
const (
	DefaultLockTTL   = 15 * time.Second
	DefaultLockDelay = 15 * time.Second
)

// AcquireLock takes the lock of a variable, creating the variable with
// v's items if it does not exist. The answer carries the lock's ID, which
// renewing, releasing and changing the variable need. A lock that is held
// by another, or lapsed less than its lock delay ago, is a *LockError.
func (s *Service) AcquireLock(ctx context.Context, v *api.Variable) (*api.Variable, error) {
	if err := api.ValidateVariablePath(v.Path); err != nil {
		return nil, invalid(err)
	}
	want := api.VariableLock{TTL: api.Duration(DefaultLockTTL), LockDelay: api.Duration(DefaultLockDelay)}
	if v.Lock != nil {
		if v.Lock.TTL > 0 {
			want.TTL = v.Lock.TTL
		}
		if v.Lock.LockDelay > 0 {
			want.LockDelay = v.Lock.LockDelay
		}
	}
	if want.TTL < api.Duration(time.Second) || want.TTL > api.Duration(24*time.Hour) {
		return nil, invalid(fmt.Errorf("a lock's TTL must be between 1s and 24h, not %v", want.TTL.Std()))
	}
	return s.update(ctx, v.Namespace, v.Path, -1, func(cur *api.SealedVariable, now time.Time) (*api.Variable, error) {
		if cur != nil && cur.Lock != nil && now.Before(cur.Lock.Expires.Add(cur.Lock.LockDelay.Std())) {
			if held(cur.Lock, now) {
				return nil, &LockError{Msg: fmt.Sprintf("the lock of variable %q is held", v.Path)}
			}
			return nil, &LockError{Msg: fmt.Sprintf("the lock of variable %q lapsed; it can be acquired again after its lock delay", v.Path)}
		}
		l := want
		l.ID = api.NewID()
		l.Expires = now.Add(l.TTL.Std())
		next := &api.Variable{Namespace: v.Namespace, Path: v.Path, Lock: &l, ModifyTime: now, CreateTime: now}
		if cur == nil {
			next.Items = v.Items
			if next.Items == nil {
				next.Items = map[string]string{}
			}
		} else {
			next.CreateTime = cur.CreateTime
		}
		return next, nil
	})
}

// RenewLock extends a held lock by its TTL.
func (s *Service) RenewLock(ctx context.Context, ns, path, lockID string) (*api.Variable, error) {
	return s.lockChange(ctx, ns, path, lockID, func(l *api.VariableLock, now time.Time) *api.VariableLock {
		n := *l
		n.Expires = now.Add(l.TTL.Std())
		return &n
	})
}

// ReleaseLock gives a held lock up; the variable stays.
func (s *Service) ReleaseLock(ctx context.Context, ns, path, lockID string) (*api.Variable, error) {
	return s.lockChange(ctx, ns, path, lockID, func(*api.VariableLock, time.Time) *api.VariableLock { return nil })
}

func (s *Service) lockChange(ctx context.Context, ns, path, lockID string, next func(*api.VariableLock, time.Time) *api.VariableLock) (*api.Variable, error) {
	if err := api.ValidateVariablePath(path); err != nil {
		return nil, invalid(err)
	}
	return s.update(ctx, ns, path, -1, func(cur *api.SealedVariable, now time.Time) (*api.Variable, error) {
		if cur == nil {
			return nil, fmt.Errorf("variable %q: %w", path, store.ErrNotFound)
		}
		if !held(cur.Lock, now) || cur.Lock.ID != lockID || lockID == "" {
			return nil, &LockError{Msg: fmt.Sprintf("the lock of variable %q is not held under that ID", path)}
		}
		return &api.Variable{Namespace: ns, Path: path, Lock: next(cur.Lock, now), ModifyTime: cur.ModifyTime}, nil
	})
}

// Rekey re-encrypts every variable that is not sealed under the active
// keyring key, each with a check-and-set (a variable written meanwhile is
// sealed under the active key already, or is taken on the next pass). It
// returns how many it rewrote.
func (s *Service) Rekey(ctx context.Context) (int, error) {
	active := s.Keyring.ActiveID()
	if active == "" {
		return 0, nil
	}
	svs, err := s.Store.ListVariables(ctx, "", "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sv := range svs {
		if sv.KeyID == active {
			continue
		}
		plain, err := s.Keyring.Open(ctx, sv.KeyID, sv.Data, aad(sv.Namespace, sv.Path))
		if err != nil {
			slog.Error("re-encrypting variable: cannot open it", "namespace", sv.Namespace, "path", sv.Path, "err", err)
			continue
		}
		keyID, data, err := s.Keyring.Seal(plain, aad(sv.Namespace, sv.Path))
		if err != nil {
			return n, err
		}
		next := *sv
		next.KeyID, next.Data = keyID, data
		if _, err := s.Store.PutVariable(ctx, &next, int64(sv.ModifyIndex)); err != nil {
			var c *store.VariableConflict
			if errors.As(err, &c) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// RunRekey re-encrypts the variables after every rotation of the keyring,
// and once when it starts, until ctx ends. The leader runs it.
func (s *Service) RunRekey(ctx context.Context) {
	for ctx.Err() == nil {
		changed := s.Keyring.Changed()
		n, err := s.Rekey(ctx)
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("re-encrypting variables failed; retrying", "err", err)
			}
			loop.Sleep(ctx, 2*time.Second)
			continue
		}
		if n > 0 {
			slog.Info("re-encrypted variables under the active keyring key", "count", n, "key", s.Keyring.ActiveID())
		}
		// Also now and then: a server that had not seen the rotation yet
		// may have sealed a write under the older key since.
		t := time.NewTimer(time.Minute)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// KeyUsage counts the variables sealed under each keyring key.
func (s *Service) KeyUsage(ctx context.Context) (map[string]int, error) {
	svs, err := s.Store.ListVariables(ctx, "", "")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, sv := range svs {
		out[sv.KeyID]++
	}
	return out, nil
}

// CleanPath is the path a request names, without the slashes around it
// (Nomad's clients trim them too).
func CleanPath(p string) string { return strings.Trim(p, "/ ") }

// Conflicting opens the variable a check-and-set conflict found (nil when
// there is none), for the answer to the writer.
func (s *Service) Conflicting(ctx context.Context, c *store.VariableConflict) *api.Variable {
	if c == nil || c.Current == nil {
		return nil
	}
	v, err := s.open(ctx, c.Current, s.now())
	if err != nil {
		return meta(c.Current, s.now())
	}
	return v
}

// Token is the token a request carries: X-Nomad-Token, or the bearer of
// its Authorization header.
func Token(h interface{ Get(string) string }) string {
	if t := h.Get("X-Nomad-Token"); t != "" {
		return t
	}
	if scheme, tok, ok := strings.Cut(h.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}

// Caller is the workload identity a request carries, nil for an operator
// (a token that is not a JWT, or none: the API's token check has let the
// request in). An identity that does not verify is ErrForbidden.
func (s *Service) Caller(ctx context.Context, h interface{ Get(string) string }) (*Claims, error) {
	tok := Token(h)
	if !keyring.LooksLikeJWT(tok) {
		return nil, nil
	}
	return s.Authenticate(ctx, tok)
}
