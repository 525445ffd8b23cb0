package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// runMaintain compacts and defragments the cluster's etcd, and clears its
// NOSPACE alarm with -disarm: what an operator runs when etcd's database
// is near or at its quota (docs/operations.md).
func runMaintain(args []string) error {
	fs := flag.NewFlagSet("nomadic etcd-maintain", flag.ContinueOnError)
	f := etcdCommandFlags(fs, "etcd client URLs (required)")
	disarm := fs.Bool("disarm", false, "also clear etcd's alarms (NOSPACE) once there is room again")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the whole maintenance may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cli, err := commandEtcdClient(f)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	m, err := store.New(cli, f.etcdPrefix).Maintain(ctx, *disarm)
	if err != nil {
		return err
	}
	members := "members"
	if m.Defragmented == 1 {
		members = "member"
	}
	fmt.Printf("compacted to revision %d; %d %s defragmented; database %d bytes before, %d bytes after", m.CompactedTo, m.Defragmented, members, m.DBSizeBefore, m.DBSizeAfter)
	if m.MovedLeader {
		fmt.Printf("; the leader handed its leadership over before its defragmentation")
	}
	if len(m.Disarmed) > 0 {
		fmt.Printf("; alarms cleared: %s", strings.Join(m.Disarmed, ", "))
	}
	fmt.Println()
	return nil
}
