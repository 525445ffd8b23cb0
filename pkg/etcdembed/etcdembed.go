// Package etcdembed runs an etcd server inside the nomadic process, so
// that a new user needs nothing else (`nomadic agent -dev`), and so that
// tests run against a real etcd.
package etcdembed

import (
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
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
}

// Server is a running embedded etcd.
type Server struct {
	etcd *embed.Etcd
	// Endpoint is the client URL to dial.
	Endpoint string
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
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready in 60s")
	}
	return &Server{etcd: e, Endpoint: cu.String()}, nil
}

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops etcd.
func (s *Server) Close() { s.etcd.Close() }
