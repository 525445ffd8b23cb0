package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// ErrSnapshotDenied is Snapshot's answer when the servers' etcd user may
// not take snapshots (etcd lets only root), as on an external cluster
// shared under a least-privilege user.
var ErrSnapshotDenied = errors.New("the servers' etcd user may not take snapshots of etcd (only its root user may): take one with etcdctl snapshot save as root")

// Snapshot streams a snapshot of the etcd member the client reaches: the
// whole keyspace (every prefix, the cluster's as well as any other's on a
// shared etcd), as etcdctl snapshot save writes it, for etcdutl snapshot
// restore. The caller closes it.
func (s *Store) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	rc, err := s.cli.Snapshot(ctx)
	if err != nil {
		if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied) {
			return nil, ErrSnapshotDenied
		}
		return nil, fmt.Errorf("etcd snapshot: %w", err)
	}
	return rc, nil
}

// SpooledSnapshot is a snapshot written to a file, with its SHA-256: an
// HTTP answer can carry the digest (Nomad's Digest header) before the
// body.
type SpooledSnapshot struct {
	File   *os.File
	Size   int64
	SHA256 []byte
}

// Close removes the spooled file.
func (s *SpooledSnapshot) Close() error {
	err := s.File.Close()
	if rerr := os.Remove(s.File.Name()); err == nil {
		err = rerr
	}
	return err
}

// snapshotSlot lets one snapshot at a time be taken by this process: each
// is the whole database, read by etcd and written to disk here.
var snapshotSlot = make(chan struct{}, 1)

// ErrSnapshotBusy answers a snapshot asked for while another is taken.
var ErrSnapshotBusy = errors.New("another snapshot is being taken by this server: try again when it is done")

// SpoolSnapshot writes a snapshot into a new file in dir (the system's
// temporary directory for ""), rewound for reading.
func (s *Store) SpoolSnapshot(ctx context.Context, dir string) (*SpooledSnapshot, error) {
	select {
	case snapshotSlot <- struct{}{}:
	default:
		return nil, ErrSnapshotBusy
	}
	defer func() { <-snapshotSlot }()
	rc, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "nomadic-snapshot-*.db")
	if err != nil {
		return nil, fmt.Errorf("spooling the snapshot: %w", err)
	}
	sp := &SpooledSnapshot{File: f}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil && ctx.Err() == nil && complete(f, n) {
		// An embedded etcd's in-process client ends a snapshot's stream
		// with "context canceled" where a connection's ends with EOF:
		// the snapshot is whole when its own checksum says so.
		err = nil
	} else if err == nil && !complete(f, n) {
		err = errors.New("the snapshot's own SHA-256 does not match it")
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = sp.Close()
		return nil, fmt.Errorf("spooling the snapshot: %w", err)
	}
	sp.Size, sp.SHA256 = n, h.Sum(nil)
	return sp, nil
}

// complete tells whether the n bytes written to f are a whole etcd
// snapshot: its database followed by the database's SHA-256, which etcd
// sends last.
func complete(f *os.File, n int64) bool {
	if n <= sha256.Size {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n-sha256.Size)); err != nil {
		return false
	}
	sum := make([]byte, sha256.Size)
	if _, err := f.ReadAt(sum, n-sha256.Size); err != nil {
		return false
	}
	return string(h.Sum(nil)) == string(sum)
}
