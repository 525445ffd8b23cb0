package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// ErrSnapshotDenied is Snapshot's answer when the servers' etcd user may
// not take snapshots (etcd lets only root), as on an external cluster
// shared under a least-privilege user.
var ErrSnapshotDenied = errors.New("the servers' etcd user may not take snapshots of etcd (only its root user may): take one with etcdctl snapshot save as root")

func snapshotErr(err error) error {
	if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied) {
		return ErrSnapshotDenied
	}
	return err
}

// Snapshot streams a snapshot of the etcd member the client reaches: the
// whole keyspace (every prefix, the cluster's as well as any other's on a
// shared etcd), as etcdctl snapshot save writes it, for etcdutl snapshot
// restore. The caller closes it.
func (s *Store) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	rc, err := s.cli.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd snapshot: %w", snapshotErr(err))
	}
	return rc, nil
}

// SpooledSnapshot is a snapshot written to a file, with its SHA-256: an
// HTTP answer can carry the digest (Nomad's Digest header) before the
// body. The file has no name (it is removed once created), so nothing is
// left of it when the process ends, however it ends. Close it when done:
// until then it holds this process's one snapshot slot.
type SpooledSnapshot struct {
	File   *os.File
	Size   int64
	SHA256 []byte
}

// Close closes the spooled file and frees the slot.
func (s *SpooledSnapshot) Close() error {
	err := s.File.Close()
	<-snapshotSlot
	return err
}

// snapshotSlot lets one snapshot at a time be taken and sent by this
// process: each is the whole database, read by etcd, written to disk here
// and sent to a client that may read slowly.
var snapshotSlot = make(chan struct{}, 1)

// ErrSnapshotBusy answers a snapshot asked for while another is taken.
var ErrSnapshotBusy = errors.New("another snapshot is being taken or sent by this server: try again when it is done")

// SpoolSnapshot writes a snapshot into a new file in dir (the system's
// temporary directory for ""), rewound for reading. The snapshot is
// checked against the SHA-256 of its database that etcd sends last.
func (s *Store) SpoolSnapshot(ctx context.Context, dir string) (*SpooledSnapshot, error) {
	select {
	case snapshotSlot <- struct{}{}:
	default:
		return nil, ErrSnapshotBusy
	}
	sp, err := s.spool(ctx, dir)
	if err != nil {
		<-snapshotSlot
		return nil, err
	}
	return sp, nil
}

func (s *Store) spool(ctx context.Context, dir string) (*SpooledSnapshot, error) {
	rc, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "nomadic-snapshot-*.db")
	if err != nil {
		return nil, fmt.Errorf("spooling the snapshot: %w", err)
	}
	// Nameless from here on: a crash leaves no copy of the cluster's
	// secrets on disk.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spooling the snapshot: %w", err)
	}
	whole, db := sha256.New(), &tailHasher{h: sha256.New()}
	n, err := io.Copy(io.MultiWriter(f, whole, db), rc)
	err = snapshotErr(err)
	switch {
	case err != nil && ctx.Err() == nil && db.complete():
		// An embedded etcd's in-process client ends a snapshot's stream
		// with "context canceled" where a connection's ends with EOF:
		// the snapshot is whole when its own checksum says so.
		err = nil
	case err == nil && !db.complete():
		err = errors.New("the snapshot's own SHA-256 does not match it")
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, ErrSnapshotDenied) {
			return nil, err
		}
		return nil, fmt.Errorf("spooling the snapshot: %w", err)
	}
	return &SpooledSnapshot{File: f, Size: n, SHA256: whole.Sum(nil)}, nil
}

// tailHasher hashes what it is written but the last sha256.Size bytes,
// which it keeps: an etcd snapshot is its database followed by the
// database's SHA-256.
type tailHasher struct {
	h    hash.Hash
	tail []byte
}

func (t *tailHasher) Write(p []byte) (int, error) {
	if len(p) >= sha256.Size {
		// All that was kept, and p but its end, are not the end.
		t.h.Write(t.tail)
		t.h.Write(p[:len(p)-sha256.Size])
		t.tail = append(t.tail[:0], p[len(p)-sha256.Size:]...)
		return len(p), nil
	}
	buf := append(t.tail, p...)
	if cut := len(buf) - sha256.Size; cut > 0 {
		t.h.Write(buf[:cut])
		buf = append(buf[:0], buf[cut:]...)
	}
	t.tail = buf
	return len(p), nil
}

// complete tells whether what was written ends with the SHA-256 of what
// came before it.
func (t *tailHasher) complete() bool {
	return len(t.tail) == sha256.Size && string(t.h.Sum(nil)) == string(t.tail)
}

// snapshotWriteTimeout bounds each piece of a snapshot sent to a client:
// one that stops reading frees the slot (and the spool) after it.
const snapshotWriteTimeout = time.Minute

// Send writes the spooled snapshot to an HTTP answer whose headers are
// set, a piece at a time, each within snapshotWriteTimeout, until ctx ends
// (its client left, or its server began to stop).
func (s *SpooledSnapshot) Send(ctx context.Context, w http.ResponseWriter) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := s.File.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(snapshotWriteTimeout))
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
