package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// restoreRevisionBump is how far a restored etcd's revision is moved past
// the snapshot's, as Kubernetes' restore guide does: watchers (servers,
// node agents) that had seen later revisions than the snapshot's are told
// their revision was compacted and read everything again, rather than
// waiting for revisions they believe they saw.
const restoreRevisionBump = 1_000_000_000

// runRestore restores a snapshot (nctl or nomad operator snapshot save)
// into the embedded etcd's directory of a stopped server agent: the
// single-member layout. A cluster of etcd members is restored member by
// member with etcdutl snapshot restore (docs/operations.md).
func runRestore(args []string) error {
	fl := flag.NewFlagSet("nomadic etcd-restore", flag.ContinueOnError)
	dataDir := fl.String("data-dir", "", "the agent's -data-dir (required); the snapshot goes to its etcd directory, which must not exist")
	name := fl.String("name", "", "the agent's -name (default: the hostname, as the agent's)")
	single := fl.Bool("single", false, "restore a snapshot of several members as a cluster of this one (the others join it again)")
	peer := fl.String("etcd-peer-addr", "127.0.0.1:4648", "the agent's -etcd-peer-addr (its default too): the restored member keeps it, so it must be the agent's")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "Usage: nomadic etcd-restore -data-dir DIR [-name NAME] [-etcd-peer-addr ADDR] SNAPSHOT")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() != 1 || *dataDir == "" {
		fl.Usage()
		return errors.New("a snapshot file and -data-dir are needed")
	}
	file := fl.Arg(0)
	if _, err := os.Stat(file); err != nil {
		return err
	}
	if *name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("-name: %w", err)
		}
		*name = h
	}
	if n, err := snapshotMembers(file); err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	} else if n > 1 && !*single {
		return fmt.Errorf("%s is a snapshot of a cluster of %d etcd members: restoring one server's embedded etcd from it would split the cluster; stop every server, restore on one with -single, remove the others' etcd directories and join them again with -etcd-join (docs/operations.md)", file, n)
	}
	out := filepath.Join(*dataDir, "etcd")
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists: stop the agent and move it aside (it is the state the snapshot replaces) first", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Into a directory beside it, renamed into place once whole: an
	// interrupted restore leaves no etcd directory the agent would start
	// on.
	tmp, err := os.MkdirTemp(*dataDir, "etcd.restoring-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	staged := filepath.Join(tmp, "etcd")
	peerURL := "http://" + *peer
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        file,
		Name:                *name,
		OutputDataDir:       staged,
		PeerURLs:            []string{peerURL},
		InitialCluster:      *name + "=" + peerURL,
		InitialClusterToken: "etcd-cluster", // the embedded etcd's (etcd's default)
		RevisionBump:        restoreRevisionBump,
		MarkCompacted:       true,
	})
	if err != nil {
		return fmt.Errorf("restoring %s: %w", file, err)
	}
	if err := os.Rename(staged, out); err != nil {
		return err
	}
	fmt.Printf("restored %s into %s as member %s at %s; start the agent with -data-dir %s -name %s -etcd-peer-addr %s\n",
		file, out, *name, peerURL, *dataDir, *name, *peer)
	return nil
}

// snapshotMembers is how many etcd members the cluster a snapshot was
// taken of had (etcd's members bucket).
func snapshotMembers(file string) (int, error) {
	db, err := bolt.Open(file, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("members")); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}
