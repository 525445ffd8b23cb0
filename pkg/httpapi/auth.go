package httpapi

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/keyring"
)

// openPaths answer without a token: load balancers and orchestrators probe
// the health check unauthenticated, and other systems fetch the public
// keys that verify workload identities (the Nomad API's), as from Nomad.
var openPaths = map[string]bool{"/v1/agent/health": true, "/.well-known/jwks.json": true}

// identityPath reports whether a path is served to workload identities
// as well as to operators: the variable reads, in both APIs.
func identityPath(p string) bool { return p == "/v1/vars" || strings.HasPrefix(p, "/v1/var/") }

// ReadTokens reads a token file: one token per line; blank lines and lines
// starting with # are skipped. A file without any token is an error, so
// that a typo cannot leave the API open by accident.
func ReadTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 16 {
			return nil, fmt.Errorf("token file %s: a token must have at least 16 characters", path)
		}
		tokens = append(tokens, line)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s holds no token", path)
	}
	return tokens, nil
}

// RequireTokens wraps a handler so that every request but the open ones
// carries one of the tokens, as "Authorization: Bearer TOKEN" or
// "X-Nomad-Token: TOKEN" (what Nomad's tools send): 401 without a token,
// 403 with an unknown one, each with a JSON error.
func RequireTokens(h http.Handler, tokens []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] || strings.HasPrefix(r.URL.Path, "/ui/") {
			// The UI's files, and on the Nomad API Nomad's UI
			// addresses, which redirect to it: no data.
			h.ServeHTTP(w, r)
			return
		}
		got, err := access.Secret(r)
		if err != nil {
			writeError(w, http.StatusUnauthorized, err)
			return
		}
		if identityPath(r.URL.Path) && keyring.LooksLikeJWT(got) {
			// A task's workload identity: the handler verifies it and
			// lets it read only what the task may.
			h.ServeHTTP(w, r)
			return
		}
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nomadic"`)
			writeError(w, http.StatusUnauthorized, errors.New("this API needs a token: nctl --token, NCTL_TOKEN or the context's token"))
			return
		}
		for _, t := range tokens {
			if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				h.ServeHTTP(w, r)
				return
			}
		}
		writeError(w, http.StatusForbidden, errors.New("the token is not accepted by this server"))
	})
}

// TLSConfig loads the API's certificate and, when clientCA is set,
// requires clients to present a certificate signed by it.
func TLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the API's TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("reading the client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the client CA file %s holds no PEM certificate", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
