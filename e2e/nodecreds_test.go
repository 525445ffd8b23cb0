package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/api"
	"github.com/nomadic-project/nomadic/pkg/client"
	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// authEtcd starts Debian's etcd and turns its authentication on, with a
// root user and a user for the servers whose role reaches the cluster
// prefix only, as docs/operations.md tells operators to. It returns the
// endpoint and a root client.
func authEtcd(t *testing.T, prefix, serverPassword string) (string, *clientv3.Client) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	clientAddr, peerAddr := freeAddr(t), freeAddr(t)
	start(t, etcdBin, "--name", "auth", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+clientAddr, "--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr, "--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "auth=http://"+peerAddr)
	endpoint := "http://" + clientAddr
	setup, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(t, 20*time.Second, func() (bool, string) {
		_, err := setup.Get(ctx, "probe")
		return err == nil, fmt.Sprint(err)
	})
	steps := []func() error{
		func() error { _, err := setup.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := setup.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := setup.RoleAdd(ctx, "nomadic-server"); return err },
		func() error {
			_, err := setup.RoleGrantPermission(ctx, "nomadic-server", prefix+"/", clientv3.GetPrefixRangeEnd(prefix+"/"),
				clientv3.PermissionType(authpb.READWRITE))
			return err
		},
		func() error { _, err := setup.UserAdd(ctx, "nomadic-server", serverPassword); return err },
		func() error { _, err := setup.UserGrantRole(ctx, "nomadic-server", "nomadic-server"); return err },
		func() error { _, err := setup.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("etcd auth setup step %d: %v", i, err)
		}
	}
	return endpoint, etcdClient(t, endpoint, "root", "rootpw")
}

func etcdClient(t *testing.T, endpoint, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second,
		Username: user, Password: password, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client for %s: %v", user, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func readCreds(t *testing.T, dataDir string) *api.NodeJoinResponse {
	t.Helper()
	path := filepath.Join(dataDir, "client", "node-credentials.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c api.NodeJoinResponse
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestNodesHoldOnlyTheirOwnKeysOnAnAuthEnabledEtcd runs a server whose
// etcd role covers the cluster prefix only and two node agents that join
// with a join token, on Debian's etcd with authentication on. Each node
// gets its own etcd user; with it (used here directly, as a thief would)
// etcd itself refuses reading the other node's allocations, writing its
// status or record, and reading or writing a job. The server schedules
// onto the nodes and reads task logs from them over mutual TLS; the node
// agents refuse a caller without a client certificate; purging a node
// deletes its etcd user.
func TestNodesHoldOnlyTheirOwnKeysOnAnAuthEnabledEtcd(t *testing.T) {
	const prefix = "/e2eauth"
	endpoint, root := authEtcd(t, prefix, "serverpw")
	dir := t.TempDir()
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if out, err := exec.Command(filepath.Join(binDir, "nomadic"), "node-ca", "-cert", caCert, "-key", caKey).CombinedOutput(); err != nil {
		t.Fatalf("nomadic node-ca: %v\n%s", err, out)
	}
	tokenFile := filepath.Join(dir, "join-token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-join-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server that would manage node users without root says so at start.
	noRoot := exec.Command(filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "no-root",
		"-etcd-endpoints", endpoint, "-etcd-prefix", prefix, "-etcd-username", "nomadic-server", "-etcd-password", "serverpw",
		"-node-join-token-file", tokenFile, "-http-addr", freeAddr(t), "-data-dir", t.TempDir())
	if out, err := noRoot.CombinedOutput(); err == nil || !strings.Contains(string(out), "takes etcd's root role") {
		t.Fatalf("a server with join tokens and no root: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	server := start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "server-1",
		"-etcd-endpoints", endpoint, "-etcd-prefix", prefix, "-etcd-username", "nomadic-server", "-etcd-password", "serverpw",
		"-etcd-admin-username", "root", "-etcd-admin-password", "rootpw",
		"-node-join-token-file", tokenFile, "-node-ca-cert", caCert, "-node-ca-key", caKey,
		"-http-addr", addr, "-data-dir", t.TempDir(), "-gc-interval", "1s")
	eventually(t, 30*time.Second, func() (bool, string) {
		_, errOut, code := nctl(t, addr, "", "get", "nodes")
		return code == 0, errOut
	})

	// A wrong join token gets nothing.
	badFile := filepath.Join(dir, "bad-token")
	if err := os.WriteFile(badFile, []byte("guess\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badDir := t.TempDir()
	out, err := exec.Command(filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec",
		"-etcd-endpoints", endpoint, "-etcd-prefix", prefix, "-join-token-file", badFile, "-servers", "http://"+addr,
		"-data-dir", badDir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "join token") {
		t.Fatalf("a client with a wrong join token: %v\n%s", err, out)
	}

	clientDirs := []string{t.TempDir(), t.TempDir()}
	clients := make([]*proc, 2)
	for i, d := range clientDirs {
		clients[i] = start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec",
			"-node-name", fmt.Sprintf("client-%d", i+1), "-etcd-endpoints", endpoint, "-etcd-prefix", prefix,
			"-join-token-file", tokenFile, "-servers", "http://"+addr, "-data-dir", d, "-node-ttl", "4s")
	}
	waitReadyNodes(t, addr, 2)
	c1, c2 := readCreds(t, clientDirs[0]), readCreds(t, clientDirs[1])
	if c1.EtcdUsername == c2.EtcdUsername || c1.EtcdPassword == "" || c1.Cert == "" {
		t.Fatalf("credentials: %+v %+v", c1.EtcdUsername, c2.EtcdUsername)
	}

	// The server schedules onto the nodes; the nodes read their job copies
	// and write their statuses under their own roles.
	job := `job "least" {
  group "g" {
    count = 2
    spread {
      attribute = "${node.unique.id}"
    }
    network {
      port "http" {}
    }
    service {
      name = "least-web"
      port = "http"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello-from-the-node; exec sleep 120"]
      }
      template {
        data        = "{{ range nomadService \"least-web\" }}{{ .Port }} {{ end }}"
        destination = "local/peers.txt"
        change_mode = "noop"
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "least.hcl"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "apply", "-f", "least.hcl")
	running := waitRunning(t, addr, "least", 2)
	t.Cleanup(func() {
		for _, pid := range taskPIDs(running) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	var onNode2 *api.Allocation
	for _, a := range running {
		if a.NodeID == c2.NodeID {
			onNode2 = a
		}
	}
	if onNode2 == nil {
		t.Fatalf("no allocation on node 2 (%s): %d allocations", c2.NodeID, len(running))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The nodes registered their instances under their own trees, the
	// leader indexed them, and the nodes' templates read the index.
	eventually(t, 20*time.Second, func() (bool, string) {
		regs, err := client.New("http://"+addr).Service(ctx, "default", "least-web", false)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range running {
			b, _ := os.ReadFile(filepath.Join(allocDir(a, clientDirs), "t", "local", "peers.txt"))
			if len(strings.Fields(string(b))) != 2 {
				return false, fmt.Sprintf("%d instances indexed; alloc %s's template: %q", len(regs), a.ID[:8], b)
			}
		}
		return len(regs) == 2, fmt.Sprintf("%d instances indexed", len(regs))
	})

	// Node 1's credentials, used directly.
	thief := etcdClient(t, endpoint, c1.EtcdUsername, c1.EtcdPassword)
	denied := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, rpctypes.ErrPermissionDenied) {
			t.Errorf("%s with node 1's credentials: got %v, want etcd's permission denied", what, err)
		}
	}
	if _, err := thief.Get(ctx, prefix+"/allocs/"+c1.NodeID+"/", clientv3.WithPrefix()); err != nil {
		t.Fatalf("node 1 reading its own allocations: %v", err)
	}
	_, err = thief.Get(ctx, prefix+"/allocs/"+c2.NodeID+"/", clientv3.WithPrefix())
	denied("reading node 2's allocations", err)
	_, err = thief.Get(ctx, prefix+"/allocs/", clientv3.WithPrefix())
	denied("listing every allocation", err)
	_, err = thief.Put(ctx, prefix+"/allocstatus/"+c2.NodeID+"/"+onNode2.ID, `{"client_status":"failed"}`)
	denied("writing node 2's allocation status", err)
	_, err = thief.Put(ctx, prefix+"/nodes/"+c2.NodeID, `{}`)
	denied("writing node 2's record", err)
	_, err = thief.Put(ctx, prefix+"/nodeservices/"+c2.NodeID+"/default/web/x", `{}`)
	denied("registering a service as node 2", err)
	_, err = thief.Get(ctx, prefix+"/jobs/default/least")
	denied("reading a job", err)
	_, err = thief.Put(ctx, prefix+"/jobs/default/least", `{}`)
	denied("writing a job", err)
	_, err = thief.Get(ctx, prefix+"/jobversions/", clientv3.WithPrefix())
	denied("reading job versions", err)
	_, err = thief.Put(ctx, prefix+"/evals/default/least/x", `{}`)
	denied("creating an evaluation", err)
	_, err = thief.UserList(ctx)
	denied("listing etcd users", err)
	_, err = thief.Get(ctx, prefix+"/nodeauth/", clientv3.WithPrefix())
	denied("reading the nodes' password hashes", err)

	// The nodes handed their statuses to the server's relay, which takes
	// a node's statuses only with that node's password.
	relay := func(node, password string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/node/"+node+"/allocation-statuses",
			strings.NewReader(`{"statuses":{"`+onNode2.ID+`":{"client_status":"failed"}}}`))
		req.SetBasicAuth("node", password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := relay(c2.NodeID, c1.EtcdPassword); code != http.StatusForbidden {
		t.Errorf("relaying node 2's status with node 1's password: %d, want 403", code)
	}
	if code := relay(c2.NodeID, ""); code != http.StatusForbidden {
		t.Errorf("relaying node 2's status without a password: %d, want 403", code)
	}
	if code := relay("no-such-node", c1.EtcdPassword); code != http.StatusServiceUnavailable {
		t.Errorf("relaying for a node the server does not know: %d, want 503", code)
	}
	if got := metricValue(t, addr, "nomadic_server_relayed_statuses_total"); got < 2 {
		t.Errorf("the server relayed %v statuses, want the nodes' (at least 2)", got)
	}

	// The node agents serve only callers with a server's certificate of
	// the node CA; the servers read the logs through that.
	var node2 *api.Node
	eventually(t, 10*time.Second, func() (bool, string) {
		n, err := client.New("http://"+addr).Node(ctx, c2.NodeID)
		node2 = n
		return err == nil && n.HTTPTLS, fmt.Sprintf("node 2: %v", err)
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(c2.CACert))
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: pool},
		"node 1's certificate":  {RootCAs: pool, Certificates: []tls.Certificate{mustPair(t, c1.Cert, c1.Key)}},
	} {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := hc.Get("https://" + node2.HTTPAddr + "/v1/client/logs/" + onNode2.ID + "/t")
		if err == nil {
			resp.Body.Close()
			t.Errorf("node agent answered a caller with %s: %s", name, resp.Status)
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := hc.Get("http://" + node2.HTTPAddr + "/v1/client/logs/" + onNode2.ID + "/t"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("node agent answered plain HTTP: %s %s", resp.Status, b)
		}
	}
	eventually(t, 15*time.Second, func() (bool, string) {
		rc, err := client.New("http://"+addr).Logs(ctx, onNode2.ID, "t", false, false, 0)
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		return strings.Contains(string(b), "hello-from-the-node"), string(b)
	})

	// Node 1 rotates its password: restarted within its TTL it gets a new
	// one, the old one is refused, and its task keeps running.
	clients[0].stop(t, syscall.SIGTERM, 20*time.Second)
	clients[0] = start(t, filepath.Join(binDir, "nomadic"), "agent", "-client", "-enable-raw-exec",
		"-node-name", "client-1", "-etcd-endpoints", endpoint, "-etcd-prefix", prefix,
		"-join-token-file", tokenFile, "-rotate-etcd-password", "-servers", "http://"+addr, "-data-dir", clientDirs[0], "-node-ttl", "4s")
	eventually(t, 20*time.Second, func() (bool, string) {
		c := readCreds(t, clientDirs[0])
		return c.EtcdPassword != c1.EtcdPassword, "credentials not rotated yet"
	})
	rotated := readCreds(t, clientDirs[0])
	if rotated.NodeID != c1.NodeID || rotated.EtcdUsername != c1.EtcdUsername {
		t.Fatalf("rotation changed the node: %s %s", rotated.NodeID, rotated.EtcdUsername)
	}
	if _, err := root.Authenticate(ctx, c1.EtcdUsername, c1.EtcdPassword); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("node 1's old password after rotation: %v", err)
	}
	waitReadyNodes(t, addr, 2)

	// Node 2 goes away and is purged: its etcd user and role go with it.
	clients[1].stop(t, syscall.SIGKILL, 20*time.Second)
	for _, pid := range taskPIDs([]*api.Allocation{onNode2}) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		n, err := client.New("http://"+addr).Node(ctx, c2.NodeID)
		return err == nil && n.Status == api.NodeStatusDown, fmt.Sprintf("node 2: %v", err)
	})
	if _, err := root.UserGet(ctx, c2.EtcdUsername); err != nil {
		t.Fatalf("node 2's user before the purge: %v", err)
	}
	mustNctl(t, addr, dir, "node", "purge", c2.NodeID)
	if _, err := root.UserGet(ctx, c2.EtcdUsername); !errors.Is(err, rpctypes.ErrUserNotFound) {
		t.Fatalf("node 2's etcd user after the purge: %v, want not found", err)
	}
	if _, err := root.RoleGet(ctx, c2.EtcdUsername); !errors.Is(err, rpctypes.ErrRoleNotFound) {
		t.Fatalf("node 2's etcd role after the purge: %v, want not found", err)
	}
	// The server goes on: node 1 keeps its allocation, and the purged
	// node's is replaced on node 1.
	eventually(t, 30*time.Second, func() (bool, string) {
		list := allocs(t, addr, "least")
		n := 0
		for _, a := range list {
			if a.NodeID == c1.NodeID && a.ClientStatusOf() == api.AllocClientRunning {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%d running on node 1", n)
	})
	// What servers do outside keys works with the prefix-only role:
	// compaction (every server takes turns) and the database size.
	srv := etcdClient(t, endpoint, "nomadic-server", "serverpw")
	cur, err := srv.Get(ctx, prefix+"/compact")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Compact(ctx, cur.Header.Revision-1); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("compacting with the servers' role: %v", err)
	}
	if _, err := srv.Status(ctx, endpoint); err != nil {
		t.Errorf("etcd status with the servers' role: %v", err)
	}
	// Nothing the server or node 1 did was refused: the roles cover what
	// they do.
	for name, p := range map[string]*proc{"server": server, "node 1": clients[0]} {
		if out := p.out.String(); strings.Contains(out, "permission denied") {
			t.Errorf("%s was refused something by etcd:\n%s", name, out)
		}
	}
}

// allocDir is where an allocation's directory is, on whichever of the
// clients' data dirs holds it.
func allocDir(a *api.Allocation, dataDirs []string) string {
	for _, d := range dataDirs {
		p := filepath.Join(d, "client", "alloc", a.ID)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func mustPair(t *testing.T, cert, key string) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// metricValue reads one series without labels from an agent's /metrics.
func metricValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			return f
		}
	}
	t.Fatalf("%s does not serve %s", addr, name)
	return 0
}
