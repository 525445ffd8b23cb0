package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nomadic-project/nomadic/pkg/store"
)

// runACL runs "nomadic acl bootstrap-reset": it forgets the ACL
// bootstrap by writing to etcd directly, so that an operator who lost
// every management token can bootstrap again. Access to etcd is the
// cluster's root of trust; the API cannot do this.
func runACL(args []string) error {
	if len(args) == 0 || args[0] != "bootstrap-reset" {
		return errors.New(`usage: nomadic acl bootstrap-reset -etcd-endpoints URLS [etcd flags]`)
	}
	fs := flag.NewFlagSet("nomadic acl bootstrap-reset", flag.ContinueOnError)
	f := etcdCommandFlags(fs, "etcd client URLs (required; a server's embedded etcd listens on its -etcd-client-addr)")
	if err := fs.Parse(args[1:]); err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.New(cli, f.etcdPrefix)
	b, err := st.ACLBootstrapped(ctx)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Println("the ACLs were not bootstrapped: nothing to reset")
		return nil
	}
	if err != nil {
		return err
	}
	if err := st.ResetACLBootstrap(ctx); err != nil {
		return err
	}
	fmt.Printf("ACL bootstrap of %s (token %s) reset: nctl acl bootstrap makes a new management token; existing tokens and policies are kept\n",
		b.Time.Format(time.RFC3339), b.AccessorID)
	return nil
}
