package nomadapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// operatorSnapshot serves GET /v1/operator/snapshot (nomad operator
// snapshot save): a snapshot of etcd, the cluster's whole state, with the
// Digest header Nomad's client checks the body against. It is etcd's
// format, not Nomad's raft snapshot: etcdutl snapshot restore restores it
// (docs/operations.md). Management tokens only.
func (s *Server) operatorSnapshot(w http.ResponseWriter, r *http.Request) error {
	if !s.Secured && !s.EmbeddedEtcd {
		return &httpError{code: http.StatusForbidden, msg: "snapshots are refused by a server whose API is open (no -acl, no -http-token-file) on an external etcd: a snapshot holds all of etcd, other users' keys too"}
	}
	ctx, cancel := s.streamCtx(r)
	defer cancel()
	sp, err := s.Store.SpoolSnapshot(ctx, s.SnapshotDir)
	switch {
	case errors.Is(err, store.ErrSnapshotBusy):
		return &httpError{code: http.StatusTooManyRequests, msg: err.Error()}
	case errors.Is(err, store.ErrSnapshotDenied):
		return &httpError{code: http.StatusNotImplemented, msg: err.Error()}
	case err != nil:
		return err
	}
	defer sp.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(sp.Size, 10))
	w.Header().Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sp.SHA256))
	_ = sp.Send(ctx, w)
	return nil
}
