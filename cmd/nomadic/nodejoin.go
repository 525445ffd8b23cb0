package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/store"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// credentialsFile is where a joined node agent keeps its credentials, in
// its data dir, readable by its user only.
const credentialsFile = "node-credentials.json"

// joinCluster gives a client its own etcd credentials: those it kept from
// an earlier join, or new ones from a server, in exchange for the join
// token. It sets the etcd user and password the store connects with.
func (a *agent) joinCluster(ctx context.Context) error {
	f := a.f
	dir := filepath.Join(f.dataDir, "client")
	path := filepath.Join(dir, credentialsFile)
	var current *api.NodeJoinResponse
	if b, err := os.ReadFile(path); err == nil {
		current = &api.NodeJoinResponse{}
		if err := json.Unmarshal(b, current); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading node credentials: %w", err)
	}
	if current != nil && !f.rotateCreds {
		a.creds = current
	} else {
		password := ""
		if current != nil {
			password = current.EtcdPassword
		}
		creds, err := a.join(ctx, dir, password)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(creds, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("writing node credentials: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing node credentials: %w", err)
		}
		a.creds = creds
		slog.Info("node joined the cluster", "node", creds.NodeID, "rotated", current != nil, "etcd_user", creds.EtcdUsername, "credentials", path)
	}
	f.etcdUser, f.etcdPassword = a.creds.EtcdUsername, a.creds.EtcdPassword
	return nil
}

// join asks the servers, one after the other, for the node's credentials.
func (a *agent) join(ctx context.Context, dir, password string) (*api.NodeJoinResponse, error) {
	f := a.f
	b, err := os.ReadFile(f.joinTokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading -join-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return nil, fmt.Errorf("-join-token-file %s is empty", f.joinTokenFile)
	}
	nodeID, err := nodeagent.LoadNodeID(dir)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.serverCA != "" {
		pem, err := os.ReadFile(f.serverCA)
		if err != nil {
			return nil, fmt.Errorf("reading -server-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-server-ca %s holds no PEM certificate", f.serverCA)
		}
		tc.RootCAs = pool
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	req := &api.NodeJoinRequest{NodeID: nodeID, Token: token, Password: password, Hosts: agentHosts(f.clientHTTP)}
	var last error
	for _, addr := range splitList(f.servers) {
		if !strings.Contains(addr, "://") {
			addr = "http://" + addr
		}
		creds, err := nodes.Join(ctx, hc, strings.TrimRight(addr, "/"), req)
		if err == nil {
			return creds, nil
		}
		var refused *nodes.JoinError
		if errors.As(err, &refused) && refused.Status < 500 {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("no server let the node join: %w", last)
}

// agentHosts are the names the node agent's endpoints are reached at, for
// its certificate: the host it listens on, its hostname, and loopback.
func agentHosts(listen string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
		if addrs, err := net.LookupHost(name); err == nil {
			hosts = append(hosts, addrs...)
		}
	}
	return hosts
}

// startJoiner prepares the join endpoint, when the server accepts join
// tokens, and the node CA's client certificate, when it has one.
func (a *agent) startJoiner() error {
	f := a.f
	var ca *nodes.CA
	if f.nodeCACert != "" {
		var err error
		if ca, err = nodes.LoadCA(f.nodeCACert, f.nodeCAKey); err != nil {
			return err
		}
		if a.nodeTLS, err = ca.ClientTLS(f.name); err != nil {
			return err
		}
	}
	if f.nodeJoinTokenFile == "" {
		return nil
	}
	tokens, err := httpapi.ReadTokens(f.nodeJoinTokenFile)
	if err != nil {
		return fmt.Errorf("-node-join-token-file: %w", err)
	}
	if len(tokens) == 0 {
		return fmt.Errorf("-node-join-token-file %s holds no token", f.nodeJoinTokenFile)
	}
	admin := a.cli
	if f.etcdAdminUser != "" {
		af := *f
		af.etcdUser, af.etcdPassword = f.etcdAdminUser, f.etcdAdminPassword
		cli, err := newEtcdClient(&af, a.endpoints)
		if err != nil {
			return fmt.Errorf("connecting to etcd as -etcd-admin-username: %w", err)
		}
		a.onClose(func() { cli.Close() })
		admin = cli
	}
	users := store.NewNodeUsers(admin, f.etcdPrefix)
	lctx, cancel := context.WithTimeout(context.Background(), f.etcdDial)
	_, err = users.List(lctx)
	cancel()
	switch {
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return errors.New("-node-join-token-file: managing nodes' etcd users takes etcd's root role: give the servers -etcd-admin-username (a user with the root role)")
	case err != nil:
		slog.Warn("cannot list etcd users yet; joins will fail until etcd answers", "err", err)
	}
	a.st.UseNodeUsers(users)
	a.joiner = &nodes.Joiner{Users: users, Tokens: tokens, CA: ca, Timeout: f.etcdRequest}
	slog.Info("nodes may join with a join token", "tokens", len(tokens), "node_ca", ca != nil, "etcd_admin", f.etcdAdminUser != "")
	return nil
}

// agentTLS is the TLS configuration of a joined node agent's endpoints,
// when the servers gave it a certificate.
func (a *agent) agentTLS() (*tls.Config, error) {
	if a.creds == nil || a.creds.Cert == "" {
		return nil, nil
	}
	return nodes.AgentTLS([]byte(a.creds.Cert), []byte(a.creds.Key), []byte(a.creds.CACert))
}

// runNodeCA writes a new node CA certificate and key.
func runNodeCA(args []string) error {
	fs := flag.NewFlagSet("nomadic node-ca", flag.ContinueOnError)
	cert := fs.String("cert", "node-ca.pem", "where to write the CA certificate")
	key := fs.String("key", "node-ca-key.pem", "where to write the CA key (mode 0600)")
	name := fs.String("name", "nomadic node CA", "the CA's common name")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	certPEM, keyPEM, err := nodes.NewCA(*name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*key, keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(*cert, certPEM, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s: give both to every server (-node-ca-cert, -node-ca-key)\n", *cert, *key)
	return nil
}
