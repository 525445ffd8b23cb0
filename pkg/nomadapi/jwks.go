package nomadapi

import (
	"encoding/base64"
	"net/http"
)

// jwk is a public key as RFC 8037 writes an Ed25519 key in a JWK set.
type jwk struct {
	KeyType string `json:"kty"`
	Curve   string `json:"crv"`
	X       string `json:"x"`
	KeyID   string `json:"kid"`
	Alg     string `json:"alg"`
	Use     string `json:"use"`
}

// jwks is GET /.well-known/jwks.json, as Nomad serves it: the public keys
// that verify workload identities (the JWTs tasks get, whose header's kid
// names the key), so that other systems — Vault's or Consul's JWT auth,
// a cloud's federation — trust them without asking this cluster. Open, as
// in Nomad: public keys only.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	if s.Vars == nil || s.Vars.Keyring == nil {
		return &httpError{code: http.StatusNotImplemented, msg: "this server has no keyring, so it signs no workload identities: start it with -keyring-file (docs/variables.md)"}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	keys, err := s.Vars.Keyring.PublicKeys(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, jwk{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Key),
			KeyID: k.ID, Alg: "EdDSA", Use: "sig"})
	}
	// Keys change only with a rotation: caches may keep the set a while.
	w.Header().Set("Cache-Control", "max-age=60")
	return s.reply(w, r, out)
}
