package httpapi

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"github.com/nomadic-project/nomadic/pkg/loop"
	"github.com/nomadic-project/nomadic/pkg/store"
)

// snapshot serves GET /v1/operator/snapshot (nctl operator snapshot
// save): etcd's snapshot of the cluster's whole state, for etcdutl
// snapshot restore (docs/operations.md), its SHA-256 in
// X-Nomadic-Snapshot-SHA256. Management tokens only.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	if !s.Secured && !s.EmbeddedEtcd {
		writeError(w, http.StatusForbidden, errors.New("snapshots are refused by a server whose API is open (no -acl, no -http-token-file) on an external etcd: a snapshot holds all of etcd, other users' keys too"))
		return
	}
	ctx, cancel := loop.WithStop(r.Context(), s.Stopping)
	defer cancel()
	sp, err := s.Store.SpoolSnapshot(ctx, s.SnapshotDir)
	switch {
	case errors.Is(err, store.ErrSnapshotBusy):
		writeError(w, http.StatusTooManyRequests, err)
		return
	case errors.Is(err, store.ErrSnapshotDenied):
		writeError(w, http.StatusNotImplemented, err)
		return
	case err != nil:
		storeError(w, "snapshot", err)
		return
	}
	defer sp.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(sp.Size, 10))
	w.Header().Set(SnapshotDigestHeader, hex.EncodeToString(sp.SHA256))
	_ = sp.Send(ctx, w)
}

// SnapshotDigestHeader carries a snapshot's SHA-256 (hex).
const SnapshotDigestHeader = "X-Nomadic-Snapshot-SHA256"
