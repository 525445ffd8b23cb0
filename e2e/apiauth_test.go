package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAPIOverTLSWithTokens serves the API over mutual TLS with tokens and
// drives it through nctl: a context with the token and certificates
// works; a missing or wrong token, a missing client certificate, an
// untrusted server and a plain http:// address each fail with a message
// that says what to fix.
func TestAPIOverTLSWithTokens(t *testing.T) {
	dir := t.TempDir()
	writeCerts(t, dir)
	const token = "s3cret-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# operators\n"+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-http-addr", addr, "-nomad-http-addr", freeAddr(t),
		"-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir(),
		"-http-tls-cert", filepath.Join(dir, "server.pem"), "-http-tls-key", filepath.Join(dir, "server-key.pem"),
		"-http-tls-client-ca", filepath.Join(dir, "ca.pem"), "-http-token-file", tokens)
	url := "https://" + addr
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	cfg := filepath.Join(dir, "nctl.yaml")
	t.Setenv("NCTL_CONFIG", cfg)
	mustNctl(t, "", dir, "config", "set-context", "secure", "--addr", url, "--token", token,
		"--ca-cert", ca, "--client-cert", cert, "--client-key", key)
	mustNctl(t, "", dir, "config", "use-context", "secure")
	nctlCtx := func(args ...string) (string, string, int) { return nctl(t, "", dir, args...) }
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctlCtx("get", "nodes")
		return code == 0 && strings.Contains(out, "ready"), out + errOut
	})
	mustNctl(t, "", dir, "job", "init")
	if out, errOut, code := nctlCtx("apply", "-f", "example.hcl"); code != 0 || !strings.Contains(out, "is up") {
		t.Fatalf("apply through the secure context: exit %d: %s%s", code, out, errOut)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"--addr", url, "--ca-cert", ca, "--client-cert", cert, "--client-key", key}, "this API needs a token"},
		{"a wrong token", []string{"--addr", url, "--ca-cert", ca, "--client-cert", cert, "--client-key", key, "--token", "not-the-token-at-all"}, "not accepted"},
		{"no client certificate", []string{"--addr", url, "--ca-cert", ca, "--token", token}, "requires a client certificate"},
		{"an untrusted server", []string{"--addr", url, "--client-cert", cert, "--client-key", key, "--token", token}, "pass --ca-cert"},
		{"plain http", []string{"--addr", "http://" + addr, "--token", token}, "use an https:// address"},
	}
	for _, c := range cases {
		out, errOut, code := nctlCtx(append(c.args, "get", "jobs")...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q: %s%s", c.name, code, c.want, out, errOut)
		}
	}
	// The health check stays open for load balancers (TLS still applies).
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pem)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	for path, want := range map[string]int{"/v1/agent/health": 200, "/v1/jobs": 401} {
		resp, err := hc.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without a token: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
