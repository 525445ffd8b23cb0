package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate in dir, as PEM files: ca.pem, server.pem, server-key.pem,
// client.pem, client-key.pem.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, name := range []string{"server", "client"} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+"-key.pem", "EC PRIVATE KEY", kb)
	}
}

func health(addr string) int {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/v1/agent/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServerOnATLSEtcdSurvivesItsOutage runs a server against an etcd
// that requires client certificates, stops etcd (the server reports it
// unreachable) and starts it again (the server recovers without a
// restart).
func TestServerOnATLSEtcdSurvivesItsOutage(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	certs := t.TempDir()
	writeCerts(t, certs)
	clientURL, peerURL := "https://"+freeAddr(t), "http://"+freeAddr(t)
	dataDir := t.TempDir()
	etcdArgs := []string{"--name", "tls", "--data-dir", dataDir,
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "tls=" + peerURL,
		"--cert-file", filepath.Join(certs, "server.pem"), "--key-file", filepath.Join(certs, "server-key.pem"),
		"--client-cert-auth", "--trusted-ca-file", filepath.Join(certs, "ca.pem")}
	etcd := start(t, etcdBin, etcdArgs...)
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "tls-server", "-etcd-endpoints", clientURL,
		"-etcd-cacert", filepath.Join(certs, "ca.pem"), "-etcd-cert", filepath.Join(certs, "client.pem"),
		"-etcd-key", filepath.Join(certs, "client-key.pem"), "-http-addr", addr, "-data-dir", t.TempDir())
	eventually(t, 30*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "server", "members")
		return code == 0 && strings.Contains(out, "tls-server"), out + errOut
	})

	// etcd goes away: the server says so.
	etcd.stop(t, syscall.SIGTERM, 10*time.Second)
	eventually(t, 30*time.Second, func() (bool, string) {
		code := health(addr)
		return code == http.StatusServiceUnavailable, "health answered " + http.StatusText(code)
	})
	// etcd comes back on the same data: the server works again, unrestarted.
	start(t, etcdBin, etcdArgs...)
	eventually(t, 60*time.Second, func() (bool, string) {
		code := health(addr)
		return code == http.StatusOK, "health answered " + http.StatusText(code)
	})
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "server", "members")
		return code == 0 && strings.Contains(out, "tls-server"), out + errOut
	})
}

// TestServerWithEtcdUserAndPassword runs a server against an etcd with
// authentication on: the right password works, a wrong one is reported.
func TestServerWithEtcdUserAndPassword(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (make test installs Debian's etcd-server): ", err)
	}
	clientURL, peerURL := "http://"+freeAddr(t), "http://"+freeAddr(t)
	start(t, etcdBin, "--name", "auth", "--data-dir", t.TempDir(),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "auth="+peerURL)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "s3cret"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		for attempt := 0; ; attempt++ {
			err := step()
			if err == nil {
				break
			}
			if attempt > 50 {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "auth-server", "-etcd-endpoints", clientURL,
		"-etcd-username", "root", "-etcd-password", "s3cret", "-http-addr", addr, "-data-dir", t.TempDir())
	eventually(t, 30*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "server", "members")
		return code == 0 && strings.Contains(out, "auth-server"), out + errOut
	})
	// A wrong password is a clear error at start.
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	out, err := exec.CommandContext(wctx, filepath.Join(binDir, "nomadic"), "agent", "-server", "-name", "bad", "-etcd-endpoints", clientURL,
		"-etcd-username", "root", "-etcd-password", "wrong", "-http-addr", freeAddr(t), "-data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "authentication failed") {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
}
