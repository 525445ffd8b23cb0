package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func newEtcdClient(f *agentFlags, endpoints []string) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: f.etcdDial,
		Username:    f.etcdUser,
		Password:    f.etcdPassword,
		Logger:      zap.NewNop(),
		// Keep-alives find a dead etcd connection without waiting for TCP.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	}
	if f.etcdCACert != "" || f.etcdCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.etcdCACert != "" {
			pem, err := os.ReadFile(f.etcdCACert)
			if err != nil {
				return nil, fmt.Errorf("reading -etcd-cacert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-etcd-cacert %s holds no PEM certificate", f.etcdCACert)
			}
			tc.RootCAs = pool
		}
		if f.etcdCert != "" || f.etcdKey != "" {
			cert, err := tls.LoadX509KeyPair(f.etcdCert, f.etcdKey)
			if err != nil {
				return nil, fmt.Errorf("loading -etcd-cert/-etcd-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.etcdDial)
	defer cancel()
	if _, err := cli.Status(ctx, endpoints[0]); err != nil {
		// Not fatal: the agent retries until etcd answers.
		slog.Warn("etcd does not answer yet; will keep trying", "endpoints", endpoints, "err", err)
	}
	return cli, nil
}

// etcdCommandFlags registers on fs the flags by which a one-off command
// (etcd-maintain, acl bootstrap-reset) reaches the cluster's etcd.
func etcdCommandFlags(fs *flag.FlagSet, endpointsHelp string) *agentFlags {
	f := &agentFlags{}
	fs.StringVar(&f.etcdEndpoints, "etcd-endpoints", "", endpointsHelp)
	fs.StringVar(&f.etcdPrefix, "etcd-prefix", "/nomadic", "key prefix of the cluster")
	fs.StringVar(&f.etcdCACert, "etcd-cacert", "", "CA certificate file to verify etcd's TLS certificate")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "client certificate file for etcd")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "client key file for etcd")
	fs.StringVar(&f.etcdUser, "etcd-username", "", "etcd user name")
	fs.StringVar(&f.etcdPassword, "etcd-password", "", "etcd password (or NOMADIC_ETCD_PASSWORD)")
	fs.DurationVar(&f.etcdDial, "etcd-dial-timeout", 5*time.Second, "how long to wait for etcd when connecting")
	return f
}

// commandEtcdClient connects a one-off command to etcd with the flags of
// etcdCommandFlags, once they are parsed.
func commandEtcdClient(f *agentFlags) (*clientv3.Client, error) {
	if f.etcdEndpoints == "" {
		return nil, errors.New("-etcd-endpoints is required")
	}
	if f.etcdPassword == "" {
		f.etcdPassword = os.Getenv("NOMADIC_ETCD_PASSWORD")
	}
	return newEtcdClient(f, splitList(f.etcdEndpoints))
}
