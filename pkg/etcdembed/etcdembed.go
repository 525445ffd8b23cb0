// Package etcdembed runs an etcd server inside the nomadic process, so
// that a new user needs nothing else (`nomadic agent -dev`), and so that
// tests run against a real etcd.
package etcdembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Config configures an embedded etcd.
type Config struct {
	Name       string
	DataDir    string
	ClientAddr string // host:port
	PeerAddr   string // host:port
	// QuotaBytes is the backend quota; 0 keeps etcd's default (2 GiB).
	QuotaBytes int64
	// LogLevel is etcd's log level (default "fatal").
	LogLevel string
	// Join is the client URL of a member of an existing embedded cluster:
	// a new data directory joins that cluster as a new member instead of
	// starting a cluster of its own. Ignored once the data directory holds
	// a member.
	Join string
}

// Server is a running embedded etcd.
type Server struct {
	etcd *embed.Etcd
	// Endpoint is the client URL to dial.
	Endpoint string
	// MemberID is this member's ID in its cluster.
	MemberID uint64
}

// Start starts etcd and waits until it serves.
func Start(cfg Config) (*Server, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	if ec.Name == "" {
		ec.Name = "nomadic"
	}
	ec.Dir = cfg.DataDir
	cu, err := url.Parse("http://" + cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("etcd client address %q: %w", cfg.ClientAddr, err)
	}
	pu, err := url.Parse("http://" + cfg.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("etcd peer address %q: %w", cfg.PeerAddr, err)
	}
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	var joined *joinedMember
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "member")); cfg.Join != "" && errors.Is(err, fs.ErrNotExist) {
		if joined, err = join(cfg.Join, ec.Name, pu.String()); err != nil {
			return nil, err
		}
		ec.InitialCluster = joined.initialCluster
		ec.ClusterState = embed.ClusterStateFlagExisting
	}
	ec.LogLevel = cfg.LogLevel
	if ec.LogLevel == "" {
		// etcd logs a normal shutdown at error level; its real failures
		// come back as errors from StartEtcd and Err.
		ec.LogLevel = "fatal"
	}
	if cfg.QuotaBytes > 0 {
		ec.QuotaBackendBytes = cfg.QuotaBytes
	}
	// Compaction is off by default in etcd, even embedded: keep one hour
	// of history so the database does not grow without bound.
	// etcd stringifies every request slower than this for its warning
	// log, which we do not show: under load that alone cost a few per
	// cent of a core.
	ec.WarningUnaryRequestDuration = time.Minute
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	e, err := embed.StartEtcd(ec)
	if err != nil {
		joined.rollback()
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		joined.rollback()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		joined.rollback()
		return nil, fmt.Errorf("embedded etcd did not become ready in 60s")
	}
	return &Server{etcd: e, Endpoint: cu.String(), MemberID: uint64(e.Server.MemberID())}, nil
}

// joinedMember is a member added to an existing cluster, not started yet.
type joinedMember struct {
	cli            *clientv3.Client
	id             uint64
	initialCluster string
}

// join adds a member with the given peer URL to the cluster that the
// client URL belongs to, and returns the initial cluster it must start
// with.
func join(clientURL, name, peerURL string) (*joinedMember, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("joining the etcd cluster of %s: %w", clientURL, err)
	}
	// etcd refuses a new member until every current one has been
	// connected for a few seconds (a member that just joined, say): retry
	// for a while.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var resp *clientv3.MemberAddResponse
	for {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err = cli.MemberAdd(actx, []string{peerURL})
		acancel()
		if err == nil {
			break
		}
		if !errors.Is(err, rpctypes.ErrUnhealthy) && !errors.Is(err, rpctypes.ErrNoLeader) || ctx.Err() != nil {
			cli.Close()
			return nil, fmt.Errorf("adding a member to the etcd cluster of %s: %w", clientURL, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	var parts []string
	for _, m := range resp.Members {
		n := m.Name
		if m.ID == resp.Member.ID {
			n = name
		}
		if n == "" {
			// Another member added but not started yet: it cannot be in
			// our initial cluster by name.
			continue
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	return &joinedMember{cli: cli, id: resp.Member.ID, initialCluster: strings.Join(parts, ",")}, nil
}

// rollback removes a member that was added but could not start, so that
// it does not count against the cluster's quorum.
func (j *joinedMember) rollback() {
	if j == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = j.cli.MemberRemove(ctx, j.id)
	j.cli.Close()
}

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Client returns a client of this member that calls it in the process,
// without gRPC: no encoding of requests, responses and watch events, no
// socket. It carries no credentials, so it is what a client without a
// user name or certificate is: the same as one over the network while
// etcd auth is off, refused once it is on. Close it before Close.
func (s *Server) Client() *clientv3.Client { return v3client.New(s.etcd.Server) }

// Close stops etcd.
func (s *Server) Close() { s.etcd.Close() }
