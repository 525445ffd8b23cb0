package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func newSnapshotCmd(g *globals) *cobra.Command {
	snap := &cobra.Command{Use: "snapshot", Short: "Snapshots of the cluster's state (its etcd) for backups"}
	snap.AddCommand(&cobra.Command{
		Use:   "save [FILE]",
		Short: "Save a snapshot of etcd, the cluster's whole state (management token)",
		Long: "Save a snapshot of the etcd the servers use: every job, allocation, variable (sealed), token and " +
			"node of the cluster. It is etcd's own format: restore it with etcdutl snapshot restore (docs/operations.md). " +
			"FILE defaults to nomadic-<date>-<unix time>.snap and must not exist; the file appears only once the whole " +
			"snapshot arrived and its SHA-256 matches the server's.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			file := fmt.Sprintf("nomadic-%s-%d.snap", now.Format("20060102"), now.Unix())
			if len(args) == 1 {
				file = args[0]
			}
			if _, err := os.Lstat(file); err == nil {
				return fmt.Errorf("%s exists: give another file", file)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			// A snapshot of a large cluster takes long: no overall
			// timeout but the user's interrupt, which removes the part
			// written.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			body, digest, err := g.client().Snapshot(ctx)
			if err != nil {
				return err
			}
			defer body.Close()
			if digest == "" {
				return errors.New("the server sent no SHA-256 of the snapshot to check it by")
			}
			f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*.tmp")
			if err != nil {
				return err
			}
			tmp := f.Name()
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(f, h), body)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil && hex.EncodeToString(h.Sum(nil)) != digest {
				err = fmt.Errorf("the snapshot's SHA-256 is %x, the server sent %s: it was damaged on the way", h.Sum(nil), digest)
			}
			if err == nil {
				// A link fails where a file appeared meanwhile: it is
				// never replaced.
				err = os.Link(tmp, file)
			}
			_ = os.Remove(tmp)
			if err != nil {
				if ctx.Err() != nil {
					return errors.New("interrupted: no snapshot written")
				}
				return err
			}
			fmt.Fprintf(g.out, "Snapshot written to %s (%d bytes, SHA-256 %x)\n", file, n, h.Sum(nil))
			return nil
		},
	})
	return snap
}
