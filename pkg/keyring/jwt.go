package keyring

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Workload identities are JWTs (RFC 7519) signed with EdDSA (Ed25519),
// their header naming the keyring key ("kid") whose derived key signed
// them, as Nomad's are.

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

var b64 = base64.RawURLEncoding

// Sign returns a JWT of claims signed by the active key.
func (k *Keyring) Sign(claims any) (string, error) {
	kk, err := k.activeKey()
	if err != nil {
		return "", err
	}
	h, _ := json.Marshal(jwtHeader{Alg: "EdDSA", Typ: "JWT", Kid: kk.meta.ID})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sig := ed25519.Sign(kk.signer, []byte(signing))
	return signing + "." + b64.EncodeToString(sig), nil
}

// ErrInvalidToken is returned for a token that is not a JWT this
// keyring signed.
var ErrInvalidToken = errors.New("invalid workload identity")

// Verify checks a JWT's signature and decodes its claims into claims.
func (k *Keyring) Verify(ctx context.Context, token string, claims any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%w: not a JWT", ErrInvalidToken)
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("%w: header: %v", ErrInvalidToken, err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "EdDSA" || h.Kid == "" {
		return fmt.Errorf("%w: header is not an EdDSA JWT header with a key ID", ErrInvalidToken)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("%w: signature: %v", ErrInvalidToken, err)
	}
	kk, err := k.lookup(ctx, h.Kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return fmt.Errorf("%w: %v", ErrInvalidToken, err)
		}
		return err
	}
	if !ed25519.Verify(kk.signer.Public().(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
		return fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if err := json.Unmarshal(cb, claims); err != nil {
		return fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	return nil
}

// LooksLikeJWT reports whether a token has the shape of a JWT (three
// base64url parts, the first a JSON object), which operator tokens do not:
// what the API's token check lets through to the handlers that verify
// workload identities.
func LooksLikeJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// PublicKey is the public half of a keyring key's signing key: what
// verifies the workload identities it signed.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// PublicKeys are the signing keys of every key in the keyring, oldest
// first (identities signed by an inactive key still verify until it is
// removed).
func (k *Keyring) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	metas, err := k.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PublicKey, 0, len(metas))
	for _, m := range metas {
		kk, err := k.lookup(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, PublicKey{ID: m.ID, Key: kk.signer.Public().(ed25519.PublicKey)})
	}
	return out, nil
}
