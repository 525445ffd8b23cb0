package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// runMaintain compacts and defragments the cluster's etcd, and clears its
// NOSPACE alarm with -disarm: what an operator runs when etcd's database
// is near or at its quota (docs/operations.md).
func runMaintain(args []string) error {
	fs := flag.NewFlagSet("nomadic etcd-maintain", flag.ContinueOnError)
	f := &agentFlags{}
	fs.StringVar(&f.etcdEndpoints, "etcd-endpoints", "", "etcd client URLs (required)")
	fs.StringVar(&f.etcdPrefix, "etcd-prefix", "/nomadic", "key prefix of the cluster")
	fs.StringVar(&f.etcdCACert, "etcd-cacert", "", "CA certificate file to verify etcd's TLS certificate")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "client certificate file for etcd")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "client key file for etcd")
	fs.StringVar(&f.etcdUser, "etcd-username", "", "etcd user name")
	fs.StringVar(&f.etcdPassword, "etcd-password", "", "etcd password (or NOMADIC_ETCD_PASSWORD)")
	fs.DurationVar(&f.etcdDial, "etcd-dial-timeout", 5*time.Second, "how long to wait for etcd when connecting")
	disarm := fs.Bool("disarm", false, "also clear etcd's alarms (NOSPACE) once there is room again")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the whole maintenance may take")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.etcdEndpoints == "" {
		return errors.New("-etcd-endpoints is required")
	}
	if f.etcdPassword == "" {
		f.etcdPassword = os.Getenv("NOMADIC_ETCD_PASSWORD")
	}
	cli, err := newEtcdClient(f, splitList(f.etcdEndpoints))
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
	fmt.Printf("compacted to revision %d; database %d bytes before, %d bytes after", m.CompactedTo, m.DBSizeBefore, m.DBSizeAfter)
	if len(m.Disarmed) > 0 {
		fmt.Printf("; alarms cleared: %s", strings.Join(m.Disarmed, ", "))
	}
	fmt.Println()
	return nil
}
