package nodes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// Joiner serves POST /v1/node/join: a node agent that shows one of the
// join tokens gets its own etcd user, whose role reaches only its own
// keys (store.Keys.NodeGrants), and, when the servers hold a node CA, the
// certificate its endpoints serve with. It is mounted in front of the API
// tokens: the join token is what authenticates the request.
type Joiner struct {
	Users *store.NodeUsers
	// Tokens are the accepted join tokens.
	Tokens []string
	// CA, when set, signs the node agent's certificate.
	CA      *CA
	Timeout time.Duration
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (j *Joiner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		joinError(w, http.StatusMethodNotAllowed, errors.New("use POST"))
		return
	}
	var req api.NodeJoinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		joinError(w, http.StatusBadRequest, fmt.Errorf("decoding the join request: %w", err))
		return
	}
	if !j.validToken(req.Token) {
		slog.Warn("node join refused: bad join token", "node", req.NodeID, "from", r.RemoteAddr)
		joinError(w, http.StatusForbidden, errors.New("the join token is not one the servers accept"))
		return
	}
	if !nodeIDPattern.MatchString(req.NodeID) {
		joinError(w, http.StatusBadRequest, fmt.Errorf("node id %q: want letters, digits, '-' or '_', at most 64", req.NodeID))
		return
	}
	if len(req.Hosts) > 16 {
		joinError(w, http.StatusBadRequest, errors.New("at most 16 hosts"))
		return
	}
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	creds, err := j.Users.Join(ctx, req.NodeID, req.Password)
	switch {
	case errors.Is(err, store.ErrWrongPassword):
		joinError(w, http.StatusConflict, fmt.Errorf("node %s joined before: %w (purge the node to let it join anew)", req.NodeID, err))
		return
	case errors.Is(err, context.DeadlineExceeded):
		joinError(w, http.StatusServiceUnavailable, fmt.Errorf("etcd did not answer in time: %w", err))
		return
	case err != nil:
		slog.Error("node join failed", "node", req.NodeID, "err", err)
		joinError(w, http.StatusBadGateway, fmt.Errorf("creating the node's etcd user: %w", err))
		return
	}
	resp := api.NodeJoinResponse{NodeID: req.NodeID, EtcdUsername: creds.Username, EtcdPassword: creds.Password}
	if j.CA != nil {
		cert, key, err := j.CA.NodeCert(req.NodeID, req.Hosts)
		if err != nil {
			joinError(w, http.StatusInternalServerError, err)
			return
		}
		resp.CACert, resp.Cert, resp.Key = string(j.CA.CertPEM()), string(cert), string(key)
	}
	slog.Info("node joined", "node", req.NodeID, "etcd_user", creds.Username, "from", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(&resp)
}

// validToken compares a token with every accepted one in constant time.
func (j *Joiner) validToken(token string) bool {
	if token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	ok := 0
	for _, t := range j.Tokens {
		want := sha256.Sum256([]byte(t))
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1
}

func joinError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, api.ErrorResponse{Error: err.Error()})
}

// Join asks a server (its API address, such as https://10.0.0.1:4646) for
// the node's credentials, over hc.
func Join(ctx context.Context, hc *http.Client, addr string, req *api.NodeJoinRequest) (*api.NodeJoinResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/v1/node/join", bytesReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("joining through %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return nil, &JoinError{Status: resp.StatusCode, Message: e.Error}
	}
	var out api.NodeJoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding the join answer of %s: %w", addr, err)
	}
	return &out, nil
}

// JoinError is a server's refusal of a join.
type JoinError struct {
	Status  int
	Message string
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("the server refused the join (%d): %s", e.Status, e.Message)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
