// Package keyfile reads and writes keyring files: the key encryption
// keys a server is given (pkg/keyring). It imports nothing of the store,
// so that nctl can write one.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is a keyring file: the key encryption keys (KEKs) a server is
// given. Every server of a cluster must be given the same file. The first
// key wraps the keyring keys the servers create; every key unwraps, so an
// operator replaces a KEK by adding the new one first, restarting the
// servers, rotating (nctl operator keyring rotate) and, once every
// variable is sealed under the new keyring key, removing the old KEK.
//
// It is JSON (docs/variables.md):
//
//	{"keys": [{"id": "6f1c2a9e", "key": "<32 bytes, base64>"}]}
type File struct {
	Keys []FileKey `json:"keys"`
}

// FileKey is one key encryption key of a keyring file.
type FileKey struct {
	ID string `json:"id"`
	// Key is 32 random bytes (AES-256), base64 in the file.
	Key []byte `json:"key"`
}

// Generate returns a keyring file with one new random key.
func Generate() *File {
	return &File{Keys: []FileKey{newFileKey()}}
}

func newFileKey() FileKey {
	k := FileKey{ID: RandomID(), Key: make([]byte, 32)}
	if _, err := rand.Read(k.Key); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k
}

// RandomID returns 16 random hex digits, the IDs of keys.
func RandomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Validate checks that the file holds at least one key, each of 32 bytes
// with a unique ID.
func (f *File) Validate() error {
	if len(f.Keys) == 0 {
		return errors.New("the keyring file holds no key")
	}
	seen := map[string]bool{}
	for i, k := range f.Keys {
		if k.ID == "" {
			return fmt.Errorf("key %d of the keyring file has no id", i)
		}
		if seen[k.ID] {
			return fmt.Errorf("key id %q appears twice in the keyring file", k.ID)
		}
		seen[k.ID] = true
		if len(k.Key) != 32 {
			return fmt.Errorf("key %q of the keyring file has %d bytes, not 32", k.ID, len(k.Key))
		}
	}
	return nil
}

// ReadFile reads and checks a keyring file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading keyring file: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", path, err)
	}
	return &f, nil
}

// WriteFile writes a keyring file readable by its owner only.
func WriteFile(path string, f *File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing keyring file: %w", err)
	}
	return os.Rename(tmp, path)
}

// LoadOrCreate reads the keyring file at path, or creates one there with
// a new key (dev mode keeps its keyring in its data directory).
func LoadOrCreate(path string) (*File, error) {
	f, err := ReadFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	f = Generate()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return f, WriteFile(path, f)
}
