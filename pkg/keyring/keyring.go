// Package keyring holds the servers' keys: it seals variables at rest
// (AES-256-GCM) and signs workload identities (Ed25519 JWTs).
//
// Keys come in two layers. The keyring file every server is given holds
// key encryption keys (KEKs, file.go); they never leave the servers'
// disks. The keyring keys that seal variables live in etcd
// (rootkeys/<id>), each wrapped by a KEK, so that a rotation made through
// one server reaches every other through its watch. The newest keyring
// key is the active one: it seals new writes and signs new identities;
// older keys stay to open what they sealed until the re-encryption that
// follows a rotation (pkg/variables) has moved every variable to the
// active key. An identity's signing key is derived from its keyring key
// (HKDF-SHA256), so rotating one rotates both.
//
// Node agents never hold a key: they ask a server for the variables a
// task may read, authenticated by the task's signed identity.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// ErrUnknownKey is returned for data sealed or signed under a key the
// keyring does not have.
var ErrUnknownKey = errors.New("unknown keyring key")

// Keyring is one server's view of the cluster's keyring.
type Keyring struct {
	st      *store.Store
	keks    map[string]cipher.AEAD
	primary string
	now     func() time.Time

	mu     sync.RWMutex
	keys   map[string]*key
	active *key
	// changed is closed and replaced when the active key changes.
	changed chan struct{}
	ready   chan struct{}
	once    sync.Once
}

// key is an unwrapped keyring key.
type key struct {
	meta   api.RootKey
	aead   cipher.AEAD
	signer ed25519.PrivateKey
}

// New returns the keyring of the store's cluster under the KEKs of a
// keyring file; Run loads and follows it.
func New(st *store.Store, f *keyfile.File) (*Keyring, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	k := &Keyring{st: st, keks: map[string]cipher.AEAD{}, primary: f.Keys[0].ID, now: time.Now,
		keys: map[string]*key{}, changed: make(chan struct{}), ready: make(chan struct{})}
	for _, fk := range f.Keys {
		a, err := newAEAD(fk.Key)
		if err != nil {
			return nil, err
		}
		k.keks[fk.ID] = a
	}
	return k, nil
}

func newAEAD(b []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Ready is closed once the keyring has an active key.
func (k *Keyring) Ready() <-chan struct{} { return k.ready }

// Changed is closed when the active key changes (a rotation).
func (k *Keyring) Changed() <-chan struct{} {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.changed
}

// Run creates the first keyring key if the cluster has none, then follows
// the keyring in etcd until ctx ends.
func (k *Keyring) Run(ctx context.Context) {
	for ctx.Err() == nil {
		keys, err := k.st.ListRootKeys(ctx)
		if err == nil && len(keys) == 0 {
			_, err = k.create(ctx)
		}
		if err == nil {
			break
		}
		slog.Warn("keyring: reading keys failed; retrying", "err", err)
		loop.Sleep(ctx, time.Second)
	}
	k.st.WatchRootKeys(ctx, store.Subscriber{
		Resync: func(all []store.Change) {
			for _, c := range all {
				k.learn(c)
			}
		},
		Changed: func(c store.Change) {
			if !c.Deleted {
				k.learn(c)
			}
		},
	})
}

// learn unwraps a key seen in etcd and makes it active if it is the
// newest.
func (k *Keyring) learn(c store.Change) {
	rk, err := store.Decode[api.RootKey](c)
	if err != nil {
		slog.Warn("keyring: undecodable key", "id", c.ID, "err", err)
		return
	}
	if rk.CreateIndex == 0 {
		rk.CreateIndex = uint64(c.Rev)
	}
	if _, err := k.add(rk); err != nil {
		slog.Error("keyring: cannot unwrap key; is every server given the same keyring file?", "id", rk.ID, "kek", rk.KEKID, "err", err)
	}
}

// add unwraps rk and records it, making it active if it is newer than the
// active key.
func (k *Keyring) add(rk *api.RootKey) (*key, error) {
	kek := k.keks[rk.KEKID]
	if kek == nil {
		return nil, fmt.Errorf("key %s is wrapped by key encryption key %q, which the keyring file does not hold", rk.ID, rk.KEKID)
	}
	raw, err := open(kek, rk.Wrapped, []byte("rootkey:"+rk.ID))
	if err != nil {
		return nil, fmt.Errorf("unwrapping key %s: %w", rk.ID, err)
	}
	kk, err := newKey(*rk, raw)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := k.keys[rk.ID]; old != nil {
		if old.meta.CreateIndex == 0 {
			old.meta.CreateIndex = rk.CreateIndex
		}
		return old, nil
	}
	k.keys[rk.ID] = kk
	if k.active == nil || kk.meta.CreateIndex > k.active.meta.CreateIndex {
		k.active = kk
		close(k.changed)
		k.changed = make(chan struct{})
		k.once.Do(func() { close(k.ready) })
	}
	return kk, nil
}

func newKey(meta api.RootKey, raw []byte) (*key, error) {
	a, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	seed, err := hkdf.Key(sha256.New, raw, nil, "nomadic workload identity", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	meta.Wrapped = nil
	return &key{meta: meta, aead: a, signer: ed25519.NewKeyFromSeed(seed)}, nil
}

// create makes a new keyring key, wraps it under the primary KEK and
// stores it.
func (k *Keyring) create(ctx context.Context) (*api.RootKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	rk := &api.RootKey{ID: keyfile.RandomID(), KEKID: k.primary, CreateTime: k.now().UTC()}
	rk.Wrapped = seal(k.keks[k.primary], raw, []byte("rootkey:"+rk.ID))
	if err := k.st.PutRootKey(ctx, rk); err != nil {
		return nil, err
	}
	return rk, nil
}

// Rotate creates a new keyring key and makes it active on this server at
// once (the others follow through their watch). Variables sealed under
// older keys are re-encrypted in the background (pkg/variables).
func (k *Keyring) Rotate(ctx context.Context) (*api.RootKeyMeta, error) {
	rk, err := k.create(ctx)
	if err != nil {
		return nil, fmt.Errorf("rotating the keyring: %w", err)
	}
	stored, err := k.st.GetRootKey(ctx, rk.ID)
	if err != nil {
		return nil, fmt.Errorf("rotating the keyring: %w", err)
	}
	if _, err := k.add(stored); err != nil {
		return nil, err
	}
	return &api.RootKeyMeta{ID: rk.ID, State: api.RootKeyActive, CreateTime: rk.CreateTime}, nil
}

// ActiveID is the ID of the active key ("" before Ready).
func (k *Keyring) ActiveID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.active == nil {
		return ""
	}
	return k.active.meta.ID
}

// Keys describes the keyring's keys, oldest first.
func (k *Keyring) Keys(ctx context.Context) ([]api.RootKeyMeta, error) {
	keys, err := k.st.ListRootKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.RootKeyMeta, 0, len(keys))
	for i, rk := range keys {
		state := api.RootKeyInactive
		if i == len(keys)-1 {
			state = api.RootKeyActive
		}
		out = append(out, api.RootKeyMeta{ID: rk.ID, State: state, CreateTime: rk.CreateTime})
	}
	return out, nil
}

// activeKey returns the active key, or an error before the keyring has
// one.
func (k *Keyring) activeKey() (*key, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.active == nil {
		return nil, errors.New("the keyring has no active key yet")
	}
	return k.active, nil
}

// lookup returns a key by ID, reading it from etcd if this server has not
// seen it yet (a rotation made through another server moments ago).
func (k *Keyring) lookup(ctx context.Context, id string) (*key, error) {
	k.mu.RLock()
	kk := k.keys[id]
	k.mu.RUnlock()
	if kk != nil {
		return kk, nil
	}
	if !validID(id) {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	rk, err := k.st.GetRootKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	if err != nil {
		return nil, err
	}
	return k.add(rk)
}

// Seal encrypts plain under the active key with additional data aad; it
// returns the key's ID and the nonce followed by the ciphertext.
func (k *Keyring) Seal(plain, aad []byte) (string, []byte, error) {
	kk, err := k.activeKey()
	if err != nil {
		return "", nil, err
	}
	return kk.meta.ID, seal(kk.aead, plain, aad), nil
}

// Open decrypts what Seal sealed under key id with the same aad.
func (k *Keyring) Open(ctx context.Context, id string, data, aad []byte) ([]byte, error) {
	kk, err := k.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	return open(kk.aead, data, aad)
}

// validID reports whether id has the shape of the IDs keyfile.RandomID
// makes.
func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func seal(a cipher.AEAD, plain, aad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return a.Seal(nonce, nonce, plain, aad)
}

func open(a cipher.AEAD, data, aad []byte) ([]byte, error) {
	if len(data) < a.NonceSize() {
		return nil, errors.New("sealed data is too short")
	}
	plain, err := a.Open(nil, data[:a.NonceSize()], data[a.NonceSize():], aad)
	if err != nil {
		return nil, errors.New("sealed data does not open with its key (tampered, or moved from another path)")
	}
	return plain, nil
}
