package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nomadic-project/nomadic/controllers"
	"github.com/nomadic-project/nomadic/nodeagent"
	"github.com/nomadic-project/nomadic/pkg/access"
	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"github.com/nomadic-project/nomadic/pkg/driver"
	"github.com/nomadic-project/nomadic/pkg/driver/containerd"
	"github.com/nomadic-project/nomadic/pkg/driver/mock"
	"github.com/nomadic-project/nomadic/pkg/driver/rawexec"
	"github.com/nomadic-project/nomadic/pkg/etcdembed"
	"github.com/nomadic-project/nomadic/pkg/httpapi"
	"github.com/nomadic-project/nomadic/pkg/nodes"
	"github.com/nomadic-project/nomadic/pkg/nomadapi"
	"github.com/nomadic-project/nomadic/pkg/store"
	"github.com/nomadic-project/nomadic/pkg/variables"
	"github.com/nomadic-project/nomadic/pkg/version"
	clientv3 "go.etcd.io/etcd/client/v3"
)

type agentFlags struct {
	dev, server, client bool
	dataDir             string
	httpAddr            string
	name                string

	httpTLSCert, httpTLSKey, httpClientCA string
	httpTokenFile                         string
	nomadHTTPAddr                         string
	debugAddr                             string
	maxCount                              int
	noCache                               bool
	// acl turns ACLs on; apiRate and apiBurst limit each token's requests.
	acl      bool
	apiRate  string
	apiBurst int

	etcdEndpoints  string
	etcdPrefix     string
	etcdCACert     string
	etcdCert       string
	etcdKey        string
	etcdUser       string
	etcdPassword   string
	etcdDial       time.Duration
	etcdClientAddr string
	etcdPeerAddr   string
	etcdQuota      int64
	etcdInProcess  bool
	etcdJoin       string
	etcdRequest    time.Duration

	nodeName      string
	datacenter    string
	nodeTTL       time.Duration
	enableRawExec bool
	containerd    string
	// dockerPrivileged lets docker and podman tasks run privileged.
	dockerPrivileged bool
	clientHTTP       string
	enableMock       bool
	statusRelay      bool
	nodeClass        string
	nodeMeta         string

	keyringFile string
	servers     string
	serverCA    string

	serverTTL  time.Duration
	workers    int
	gcInterval time.Duration
	gcAllocAge time.Duration
	gcNodeAge  time.Duration
	// clockOffset runs the server on a clock that far off (fault
	// injection: docs/reliability.md).
	clockOffset time.Duration
	logLevel    string

	// Node credentials (nodejoin.go).
	nodeJoinTokenFile string
	etcdAdminUser     string
	etcdAdminPassword string
	nodeCACert        string
	nodeCAKey         string
	joinTokenFile     string
	rotateCreds       bool
}

// parseAgentFlags reads the agent's flags and fills in what follows
// from them (dev mode, the hostname, the etcd password's variable). It
// returns nil without an error when only help was asked for.
func parseAgentFlags(args []string) (*agentFlags, error) {
	var f agentFlags
	fs := flag.NewFlagSet("nomadic agent", flag.ContinueOnError)
	fs.BoolVar(&f.dev, "dev", false, "run a server and a node agent with an embedded etcd in a temporary directory, raw_exec enabled")
	fs.BoolVar(&f.server, "server", false, "run a server (HTTP API and controllers)")
	fs.BoolVar(&f.client, "client", false, "run a node agent")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for state (embedded etcd, node id, allocation directories); dev mode uses a temporary one")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:4646", "address the server's HTTP API listens on")
	fs.StringVar(&f.httpTLSCert, "http-tls-cert", "", "serve the HTTP API over TLS with this certificate (PEM; with -http-tls-key)")
	fs.StringVar(&f.httpTLSKey, "http-tls-key", "", "key of -http-tls-cert (PEM)")
	fs.StringVar(&f.httpClientCA, "http-tls-client-ca", "", "require API clients to present a certificate signed by this CA (PEM)")
	fs.StringVar(&f.nomadHTTPAddr, "nomad-http-addr", "", "also serve Nomad's HTTP API here, for Nomad's CLI and api package (default 127.0.0.1:4656 in dev mode, off otherwise; \"off\" turns it off)")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, for diagnosing (keep it on loopback)")
	fs.IntVar(&f.maxCount, "max-count", api.DefaultMaxCount, "the largest count a job's group may ask for")
	fs.StringVar(&f.httpTokenFile, "http-token-file", "", "require one of the tokens in this file (one per line) on every API request but the health check")
	fs.BoolVar(&f.acl, "acl", false, "enforce ACLs: every API request needs a token whose policies allow it (nctl acl bootstrap makes the first; docs/security.md)")
	fs.StringVar(&f.apiRate, "api-rate", "100/s", "requests each API token (or client address, without one) may make, as N/s or N/m; 0 for no limit")
	fs.IntVar(&f.apiBurst, "api-burst", 200, "requests a token may make at once above -api-rate")
	fs.StringVar(&f.name, "name", "", "server name (default: the hostname)")
	fs.StringVar(&f.etcdEndpoints, "etcd-endpoints", "", "comma-separated etcd client URLs; empty runs an embedded etcd (server and dev modes)")
	fs.StringVar(&f.etcdPrefix, "etcd-prefix", "/nomadic", "key prefix of this cluster in etcd")
	fs.StringVar(&f.etcdCACert, "etcd-cacert", "", "CA certificate file to verify etcd's TLS certificate")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "client certificate file for etcd")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "client key file for etcd")
	fs.StringVar(&f.etcdUser, "etcd-username", "", "etcd user name")
	fs.StringVar(&f.etcdPassword, "etcd-password", "", "etcd password (or NOMADIC_ETCD_PASSWORD)")
	fs.DurationVar(&f.etcdDial, "etcd-dial-timeout", 5*time.Second, "how long to wait for etcd when connecting")
	fs.DurationVar(&f.etcdRequest, "etcd-request-timeout", httpapi.DefaultRequestTimeout, "how long an API request waits for etcd before answering 503; a scheduling pass gets four times as long")
	fs.StringVar(&f.etcdClientAddr, "etcd-client-addr", "127.0.0.1:4647", "embedded etcd: client address")
	fs.StringVar(&f.etcdPeerAddr, "etcd-peer-addr", "127.0.0.1:4648", "embedded etcd: peer address")
	fs.StringVar(&f.etcdJoin, "etcd-join", "", "embedded etcd: client URL of another server's embedded etcd, whose cluster this one joins as a new member (first start only)")
	fs.BoolVar(&f.etcdInProcess, "etcd-in-process", true, "server on an embedded etcd, without -etcd-username or -etcd-cert: call the member in the process instead of over gRPC (false: over its client port, like any client)")
	fs.Int64Var(&f.etcdQuota, "etcd-quota-bytes", 0, "etcd's backend quota in bytes: set on the embedded etcd; for an external one, what it was started with (default etcd's 2 GiB); the quota metrics use it")
	fs.StringVar(&f.nodeName, "node-name", "", "node name (default: the hostname)")
	fs.StringVar(&f.datacenter, "datacenter", "dc1", "the node's datacenter")
	fs.DurationVar(&f.nodeTTL, "node-ttl", 10*time.Second, "node lease TTL: a node is down this long after its agent stops answering")
	fs.BoolVar(&f.enableRawExec, "enable-raw-exec", false, "enable the raw_exec driver (always on in dev mode)")
	fs.StringVar(&f.containerd, "containerd-address", defaultContainerd(), "containerd socket of the containerd driver; empty disables it")
	fs.BoolVar(&f.dockerPrivileged, "docker-allow-privileged", false, "let docker and podman tasks run privileged containers and use pid_mode \"host\"")
	fs.BoolVar(&f.enableMock, "enable-mock-driver", false, "enable the mock driver (for tests and simulations)")
	fs.BoolVar(&f.statusRelay, "status-relay", true, "client: hand allocation statuses to the servers, which write many nodes' statuses in one etcd transaction (the agent writes to etcd itself when they do not answer); false: always write them to etcd")
	fs.StringVar(&f.clientHTTP, "client-http-addr", "127.0.0.1:0", "address the node agent serves task logs on, for the servers (port 0: any free port)")
	fs.StringVar(&f.nodeClass, "node-class", "", "the node's class, for constraints on ${node.class}")
	fs.StringVar(&f.nodeMeta, "meta", "", "node metadata as comma-separated key=value pairs, for ${meta.KEY}")
	fs.StringVar(&f.keyringFile, "keyring-file", "", "server: the keyring file (nctl operator keyring generate) whose keys encrypt variables and sign workload identities; give every server the same one (dev mode keeps one in its data dir; without one a server serves no variables)")
	fs.StringVar(&f.servers, "servers", "", "client: comma-separated API addresses of the servers, which the node agent reads task variables from and hands its allocation statuses to (default: the addresses the servers registered)")
	fs.StringVar(&f.serverCA, "server-ca", "", "client: CA certificate (PEM) of the servers' API, for https:// -servers")
	fs.DurationVar(&f.serverTTL, "server-ttl", 10*time.Second, "server lease TTL: a dead server's work is taken over after this long")
	fs.IntVar(&f.workers, "eval-workers", 2, "evaluation workers per server")
	fs.BoolVar(&f.noCache, "eval-from-etcd", false, "schedule from reads of etcd instead of the server's cache (for comparisons)")
	fs.DurationVar(&f.gcInterval, "gc-interval", 5*time.Minute, "how often the leader collects garbage")
	fs.DurationVar(&f.gcAllocAge, "gc-alloc-age", time.Hour, "stopped allocations older than this are deleted")
	fs.DurationVar(&f.clockOffset, "clock-offset", 0, "for fault-injection tests: run the server's controllers and API on a clock this far off (e.g. 30s)")
	fs.DurationVar(&f.gcNodeAge, "gc-node-age", 24*time.Hour, "a node down this long, with no live allocation, is purged (0: never)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.nodeJoinTokenFile, "node-join-token-file", "", "server: accept node agents that show one of the join tokens in this file (one per line) at POST /v1/node/join, and give each its own etcd user and role (docs/security.md)")
	fs.StringVar(&f.etcdAdminUser, "etcd-admin-username", "", "server: etcd user with the root role, used only to create and delete nodes' etcd users and roles (with -node-join-token-file)")
	fs.StringVar(&f.etcdAdminPassword, "etcd-admin-password", "", "password of -etcd-admin-username (or NOMADIC_ETCD_ADMIN_PASSWORD)")
	fs.StringVar(&f.nodeCACert, "node-ca-cert", "", "server: the node CA certificate (PEM; nomadic node-ca makes one): joining node agents get a certificate signed by it, and servers call node agents over mutual TLS")
	fs.StringVar(&f.nodeCAKey, "node-ca-key", "", "server: key of -node-ca-cert (PEM)")
	fs.BoolVar(&f.rotateCreds, "rotate-etcd-password", false, "client with -join-token-file: exchange the node's etcd password (and certificate) for new ones at start")
	fs.StringVar(&f.joinTokenFile, "join-token-file", "", "client: join the cluster with the join token in this file: the node agent gets its own etcd user (kept in its data dir) instead of using -etcd-username; needs -servers")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if f.dev {
		f.server, f.client, f.enableRawExec = true, true, true
		if f.nomadHTTPAddr == "" {
			f.nomadHTTPAddr = "127.0.0.1:4656"
		}
	}
	if f.nomadHTTPAddr == "off" {
		f.nomadHTTPAddr = ""
	}
	if !f.server && !f.client {
		return nil, errors.New("say what to run: -dev, -server, -client, or -server -client")
	}
	if f.etcdPassword == "" {
		f.etcdPassword = os.Getenv("NOMADIC_ETCD_PASSWORD")
	}
	if f.etcdAdminPassword == "" {
		f.etcdAdminPassword = os.Getenv("NOMADIC_ETCD_ADMIN_PASSWORD")
	}
	if (f.nodeCACert == "") != (f.nodeCAKey == "") {
		return nil, errors.New("-node-ca-cert and -node-ca-key go together")
	}
	if f.joinTokenFile != "" && f.server {
		return nil, errors.New("-join-token-file is for a client alone: a server's node agent uses the server's etcd credentials")
	}
	if f.rotateCreds && f.joinTokenFile == "" {
		return nil, errors.New("-rotate-etcd-password needs -join-token-file")
	}
	if f.joinTokenFile != "" && f.servers == "" {
		return nil, errors.New("-join-token-file needs -servers (the servers' API addresses to join through)")
	}
	if f.name == "" {
		f.name, _ = os.Hostname()
	}
	return &f, nil
}

// apiSecurity loads the API's TLS configuration and tokens, if asked for.
func (f *agentFlags) apiSecurity() (*tls.Config, []string, error) {
	if !f.server {
		return nil, nil, nil
	}
	var apiTLS *tls.Config
	var tokens []string
	var err error
	switch {
	case f.httpTLSCert != "" || f.httpTLSKey != "":
		if f.httpTLSCert == "" || f.httpTLSKey == "" {
			return nil, nil, errors.New("-http-tls-cert and -http-tls-key go together")
		}
		if apiTLS, err = httpapi.TLSConfig(f.httpTLSCert, f.httpTLSKey, f.httpClientCA); err != nil {
			return nil, nil, err
		}
	case f.httpClientCA != "":
		return nil, nil, errors.New("-http-tls-client-ca needs -http-tls-cert and -http-tls-key")
	}
	if f.httpTokenFile != "" {
		if tokens, err = httpapi.ReadTokens(f.httpTokenFile); err != nil {
			return nil, nil, err
		}
	}
	return apiTLS, tokens, nil
}

// prepareDataDir creates the data directory; dev mode makes a temporary
// one, which the returned function removes.
func (f *agentFlags) prepareDataDir() (func(), error) {
	cleanup := func() {}
	if f.dataDir == "" {
		if !f.dev {
			return nil, errors.New("-data-dir is required outside dev mode")
		}
		dir, err := os.MkdirTemp("", "nomadic-dev-")
		if err != nil {
			return nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		f.dataDir = dir
	}
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		cleanup()
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	return cleanup, nil
}

// agent is one running nomadic agent: its store and the pieces it runs.
type agent struct {
	f        *agentFlags
	st       *store.Store
	embedded *etcdembed.Server
	closers  []func()
	errc     chan error
	wg       sync.WaitGroup
	// nomadAPI is the Nomad API this process serves, if any.
	nomadAPI *nomadapi.Server
	// stopping is closed as the APIs shut down (nil: no server).
	stopping chan struct{}
	// vars is the variable service of this process's server, if it has a
	// keyring; a node agent in the same process reads variables from it.
	vars *variables.Service

	cli       *clientv3.Client
	endpoints []string
	// creds are a joined node agent's credentials (nodejoin.go).
	creds *api.NodeJoinResponse
	// joiner serves POST /v1/node/join, when the server accepts join
	// tokens; nodeTLS is what the server calls node agents with.
	joiner  http.Handler
	nodeTLS *tls.Config
	// relay serves node agents' status writes on a server (in front of
	// the API tokens: a node shows its own password).
	relay *nodes.StatusRelay
}

func (a *agent) onClose(fn func()) { a.closers = append(a.closers, fn) }

// close undoes what the agent opened, newest first.
func (a *agent) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// openStore connects to etcd — the one given, or an embedded one it
// starts — and records the embedded member for force-leave.
func (a *agent) openStore(ctx context.Context) error {
	f := a.f
	endpoints := splitList(f.etcdEndpoints)
	if len(endpoints) == 0 {
		if !f.server {
			return errors.New("a client needs -etcd-endpoints (the servers' etcd)")
		}
		embedded, err := etcdembed.Start(etcdembed.Config{
			Name: f.name, DataDir: filepath.Join(f.dataDir, "etcd"),
			ClientAddr: f.etcdClientAddr, PeerAddr: f.etcdPeerAddr, QuotaBytes: f.etcdQuota, Join: f.etcdJoin,
		})
		if err != nil {
			return err
		}
		a.onClose(embedded.Close)
		a.embedded = embedded
		endpoints = []string{embedded.Endpoint}
		slog.Info("embedded etcd started", "endpoint", embedded.Endpoint, "dir", filepath.Join(f.dataDir, "etcd"))
	}
	if f.joinTokenFile != "" {
		if err := a.joinCluster(ctx); err != nil {
			return err
		}
	}
	var cli *clientv3.Client
	if a.embedded != nil && f.etcdInProcess && f.etcdUser == "" && f.etcdCert == "" {
		// The server's own traffic — its cache's watch of every change,
		// plan commits — goes to its member directly; nodes and other
		// servers still come over the network.
		cli = a.embedded.Client()
		slog.Debug("talking to the embedded etcd in process")
	} else {
		var err error
		if cli, err = newEtcdClient(f, endpoints); err != nil {
			return err
		}
	}
	a.onClose(func() { cli.Close() })
	a.cli, a.endpoints = cli, endpoints
	a.st = store.New(cli, f.etcdPrefix)
	if a.embedded != nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.st.RecordEtcdMember(rctx, f.name, a.embedded.MemberID); err != nil {
			return fmt.Errorf("recording the embedded etcd member: %w", err)
		}
	}
	return nil
}

// serve serves the handler that handlerFor makes for the address it
// listens on (over TLS when apiTLS is set, behind the tokens when there
// are any) until shut down; it returns the server, for a graceful
// shutdown, and the address.
func (a *agent) serve(what, addr string, handlerFor func(addr string) http.Handler, apiTLS *tls.Config, tokens []string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s cannot listen on %s: %w", what, addr, err)
	}
	handler := handlerFor(ln.Addr().String())
	if tokens != nil && !a.f.acl {
		handler = httpapi.RequireTokens(handler, tokens)
	}
	if (a.joiner != nil || a.relay != nil) && what == "HTTP API" {
		mux := http.NewServeMux()
		if a.joiner != nil {
			// The join token authenticates a join, not the API's
			// tokens. POST only: GET /v1/node/join is still the node
			// named "join".
			mux.Handle("POST /v1/node/join", a.joiner)
		}
		if a.relay != nil {
			// A node authenticates with its own password.
			mux.Handle("PUT "+nodes.RelayPath, a.relay)
		}
		mux.Handle("/", handler)
		handler = mux
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: apiTLS}
	scheme := "http"
	if apiTLS != nil {
		scheme = "https"
		ln = tls.NewListener(ln, apiTLS)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.errc <- fmt.Errorf("%s: %w", what, err)
		}
	}()
	slog.Info(what+" listening", "addr", scheme+"://"+ln.Addr().String(), "tokens", len(tokens) > 0,
		"client_certificates", apiTLS != nil && apiTLS.ClientCAs != nil)
	return srv, ln.Addr().String(), nil
}

// gate is the API's guard the flags ask for: the rate limit, and with
// -acl the token resolver (the -http-token-file tokens are management
// tokens then) and the ACL endpoints' service.
func (f *agentFlags) gate(st *store.Store, tokens []string, now func() time.Time) (*access.Gate, *access.Service, error) {
	g := &access.Gate{Objects: st}
	perSecond, err := access.ParseRate(f.apiRate)
	if err != nil {
		return nil, nil, fmt.Errorf("-api-rate: %w", err)
	}
	if perSecond > 0 {
		g.Limit = access.NewLimiter(perSecond, f.apiBurst)
	}
	if !f.acl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if b, err := st.ACLBootstrapped(ctx); err == nil {
			slog.Warn("this cluster's ACLs were bootstrapped but this server runs without -acl: its API lets anyone do anything; start it with -acl",
				"bootstrapped", b.Time)
		}
		return g, nil, nil
	}
	g.ACL = &access.Resolver{Store: st, Static: tokens, Now: now}
	slog.Info("ACLs enforced", "token_file_tokens_are_management", len(tokens))
	return g, &access.Service{Store: st, Resolver: g.ACL, Now: now}, nil
}

// startServer serves the HTTP APIs and runs the server's controllers
// until ctx ends; it returns the API servers, for a graceful shutdown.
func (a *agent) startServer(ctx context.Context, apiTLS *tls.Config, tokens []string) ([]*http.Server, error) {
	f := a.f
	vars, singletons, err := a.startKeyring(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.startJoiner(); err != nil {
		return nil, err
	}
	a.relay = &nodes.StatusRelay{Store: a.st, Open: !f.acl && len(tokens) == 0, Timeout: f.etcdRequest, Known: a.st.KnowsNode}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.relay.Run(ctx)
	}()
	now := time.Now
	if off := f.clockOffset; off != 0 {
		now = func() time.Time { return time.Now().Add(off) }
		slog.Warn("this server runs on a clock that is off on purpose", "offset", off)
	}
	gate, aclSvc, err := f.gate(a.st, tokens, now)
	if err != nil {
		return nil, err
	}
	// Closed as the servers shut down (which waits for requests to end):
	// streams and blocking queries end then rather than being cut after
	// its timeout.
	a.stopping = make(chan struct{})
	apiSrv := &httpapi.Server{Store: a.st, Name: f.name, Version: version.Version, RequestTimeout: f.etcdRequest, Vars: vars, Now: now,
		Gate: gate, ACL: aclSvc, NodeTLS: a.nodeTLS, Stopping: a.stopping, SnapshotDir: f.dataDir,
		Secured: f.acl || len(tokens) > 0, EmbeddedEtcd: a.embedded != nil}
	httpSrv, addr, err := a.serve("HTTP API", f.httpAddr, func(string) http.Handler { return apiSrv.Handler() }, apiTLS, tokens)
	if err != nil {
		return nil, err
	}
	servers := []*http.Server{httpSrv}
	if f.nomadHTTPAddr != "" {
		_, uiPort, _ := net.SplitHostPort(addr)
		nomadSrv := &nomadapi.Server{Store: a.st, Name: f.name, Datacenter: f.datacenter, Version: version.Version,
			RequestTimeout: f.etcdRequest, Vars: vars, Now: now, Gate: gate, ACL: aclSvc, NodeTLS: a.nodeTLS, Logs: logHub,
			UIPort: uiPort, Stopping: a.stopping, SnapshotDir: f.dataDir, Secured: f.acl || len(tokens) > 0, EmbeddedEtcd: a.embedded != nil}
		srv, _, err := a.serve("Nomad API", f.nomadHTTPAddr, func(addr string) http.Handler {
			nomadSrv.Addr = addr
			return nomadSrv.Handler()
		}, apiTLS, tokens)
		if err != nil {
			return nil, err
		}

		a.nomadAPI = nomadSrv
		servers = append(servers, srv)
	}
	srv := &controllers.Server{Store: a.st, Cfg: controllers.ServerConfig{
		Name: f.name, HTTPAddr: addr, Version: version.Version,
		SessionTTL: f.serverTTL, Workers: f.workers,
		GCInterval: f.gcInterval, GCAllocAge: f.gcAllocAge, GCNodeAge: f.gcNodeAge, LivenessResync: 30 * time.Second, NoCache: f.noCache,
		EtcdQuotaBytes: f.etcdQuota, PassTimeout: 4 * f.etcdRequest,
	}, Singletons: singletons, Now: now}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		srv.Run(ctx)
	}()
	return servers, nil
}

// statusRelay is how the node agent hands its statuses to the servers:
// none in a process that runs a server too (its one node has nothing to
// batch with), nor with -status-relay=false.
func (a *agent) statusRelay() (nodeagent.StatusRelay, error) {
	if a.f.server || !a.f.statusRelay {
		return nil, nil
	}
	var opts []client.Option
	if a.f.serverCA != "" {
		opts = append(opts, client.WithTLSFiles(a.f.serverCA, "", ""))
	}
	hc, err := client.New("", opts...).HTTP()
	if err != nil {
		return nil, fmt.Errorf("-server-ca: %w", err)
	}
	rc := &nodes.RelayClient{HTTP: hc, Addrs: nodeagent.StoreServers(a.st)}
	if a.f.serverCA != "" {
		// The servers register host:port; with a CA for their API it
		// is served with TLS.
		rc.Scheme = "https"
	}
	if addrs := splitList(a.f.servers); len(addrs) > 0 {
		rc.Addrs = func(context.Context) []string { return addrs }
	}
	if a.creds != nil {
		rc.Password = a.creds.EtcdPassword
	}
	return rc, nil
}

// startClient runs the node agent and its log server until ctx ends; the
// returned channel is closed once the agent stopped.
func (a *agent) startClient(ctx context.Context) (<-chan struct{}, error) {
	f := a.f
	ctr := &containerd.Driver{Address: f.containerd}
	raw := &rawexec.Driver{Enabled: f.enableRawExec}
	if f.dev {
		// A dev agent's state is temporary: its tasks must die with it,
		// however it ends (a closed terminal, a killed pipe, kill -9).
		if exe, err := os.Executable(); err == nil {
			raw.Guard = []string{exe, "task-guard", "--"}
		}
	}
	drivers := []driver.Driver{raw, ctr, &containerd.ExecDriver{Driver: ctr},
		&containerd.ExecDriver{Driver: ctr, As: containerd.Exec2Name},
		&containerd.DockerDriver{Driver: ctr, AllowPrivileged: f.dockerPrivileged},
		&containerd.DockerDriver{Driver: ctr, As: containerd.PodmanName, AllowPrivileged: f.dockerPrivileged}}
	if f.enableMock {
		drivers = append(drivers, &mock.Driver{})
	}
	meta, err := parseMeta(f.nodeMeta)
	if err != nil {
		return nil, err
	}
	agentTLS, err := a.agentTLS()
	if err != nil {
		return nil, err
	}
	agentLn, err := net.Listen("tcp", f.clientHTTP)
	if err != nil {
		return nil, fmt.Errorf("node agent cannot listen on %s: %w", f.clientHTTP, err)
	}
	var nodeID string
	if a.creds != nil {
		nodeID = a.creds.NodeID
	}
	relay, err := a.statusRelay()
	if err != nil {
		agentLn.Close()
		return nil, err
	}
	na, err := nodeagent.New(a.st, nodeagent.Config{
		NodeID: nodeID,
		Name:   f.nodeName, Datacenter: f.datacenter, NodeClass: f.nodeClass, Meta: meta,
		DataDir: filepath.Join(f.dataDir, "client"),
		TTL:     f.nodeTTL, Drivers: drivers,
		StopTasksOnShutdown: f.dev,
		HTTPAddr:            agentLn.Addr().String(),
		HTTPTLS:             agentTLS != nil,
		Variables:           a.clientVariables(),
		StatusRelay:         relay,
		Logs:                logHub,
	})
	if err != nil {
		agentLn.Close()
		return nil, err
	}
	agentSrv := &http.Server{Handler: na.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: agentTLS}
	if agentTLS != nil {
		// Only servers, with a certificate of the node CA, get in.
		agentLn = tls.NewListener(agentLn, agentTLS)
	}
	go func() { _ = agentSrv.Serve(agentLn) }()
	a.onClose(func() { agentSrv.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		na.Run(ctx)
	}()
	slog.Info("node agent started", "node", na.NodeID())
	if a.nomadAPI != nil {
		a.nomadAPI.SetLocalNode(na.NodeID())
	}
	return done, nil
}

func runAgent(args []string) error {
	f, err := parseAgentFlags(args)
	if f == nil {
		return err
	}
	setupLogging(f.logLevel)
	if f.maxCount < 1 {
		return errors.New("-max-count must be at least 1")
	}
	api.MaxCount = f.maxCount
	if f.debugAddr != "" {
		dbg, err := serveDebug(f.debugAddr)
		if err != nil {
			return err
		}
		defer dbg.Close()
	}
	apiTLS, tokens, err := f.apiSecurity()
	if err != nil {
		return err
	}
	// Ctrl-C, SIGTERM and a closed terminal (SIGHUP) all shut down the
	// same way; a broken pipe on the log output (`| tee` interrupted) must
	// not kill the agent before it stopped its tasks.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cleanup, err := f.prepareDataDir()
	if err != nil {
		return err
	}
	defer cleanup()

	a := &agent{f: f, errc: make(chan error, 4)}
	defer a.close()
	if err := a.openStore(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var httpSrvs []*http.Server
	if f.server {
		if httpSrvs, err = a.startServer(runCtx, apiTLS, tokens); err != nil {
			return err
		}
	}
	var agentDone <-chan struct{}
	if f.client {
		if agentDone, err = a.startClient(runCtx); err != nil {
			return err
		}
	}
	if f.dev {
		nomadLine := ""
		if f.nomadHTTPAddr != "" {
			nomadLine = fmt.Sprintf("Nomad's CLI and tools work too:\n  export NOMAD_ADDR=http://%s\n", f.nomadHTTPAddr)
		}
		aclLine := ""
		if f.acl {
			aclLine = "ACLs are on: first  nctl acl bootstrap  and  export NCTL_TOKEN=<its Secret ID>  (NOMAD_TOKEN for Nomad's CLI)\n"
		}
		fmt.Fprintf(os.Stderr, "\nnomadic dev agent is running. Try:\n  nctl job init && nctl apply -f example.hcl && nctl get allocs\n%s%sPress Ctrl-C to stop it (its tasks stop too).\n\n", aclLine, nomadLine)
	}

	var embeddedErr <-chan error
	if a.embedded != nil {
		embeddedErr = a.embedded.Err()
	}
	var runErr error
	select {
	case <-ctx.Done():
		slog.Info("shutting down")
	case runErr = <-a.errc:
	case err := <-embeddedErr:
		runErr = fmt.Errorf("embedded etcd: %w", err)
	}
	// The APIs shut down together, and their streams and blocking
	// queries end once their listeners are closed (a blocking query that
	// answered at once on a listener still open would be asked again at
	// once).
	var closeStopping sync.Once
	var shutdowns sync.WaitGroup
	for _, srv := range httpSrvs {
		if a.stopping != nil {
			srv.RegisterOnShutdown(func() { closeStopping.Do(func() { close(a.stopping) }) })
		}
		shutdowns.Add(1)
		go func() {
			defer shutdowns.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	shutdowns.Wait()
	cancel()
	if agentDone != nil {
		<-agentDone
	}
	a.wg.Wait()
	return runErr
}

// defaultContainerd is the system containerd's socket when there is one.
func defaultContainerd() string {
	const sock = "/run/containerd/containerd.sock"
	if _, err := os.Stat(sock); err == nil {
		return sock
	}
	return ""
}

func parseMeta(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-meta %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveDebug serves Go's profiler on addr.
func serveDebug(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	dbg := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = dbg.Serve(ln) }()
	return dbg, nil
}
