// Package testutil starts the real parts that tests run against: an
// embedded etcd on private ports in a temporary directory.
package testutil

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nomadic-project/nomadic/pkg/etcdembed"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Etcd starts an embedded etcd for the test and returns a client of it.
// Both are closed when the test ends.
func Etcd(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, _ := EtcdWithEndpoint(t)
	return cli
}

// EtcdWithEndpoint is Etcd that also returns the client URL, for tests
// that connect to it some other way (through a proxy, say).
func EtcdWithEndpoint(t testing.TB) (*clientv3.Client, string) {
	t.Helper()
	var srv *etcdembed.Server
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		srv, err = etcdembed.Start(etcdembed.Config{
			Name:       "test",
			DataDir:    filepath.Join(t.TempDir(), fmt.Sprintf("etcd%d", attempt)),
			ClientAddr: FreeAddr(t),
			PeerAddr:   FreeAddr(t),
		})
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		srv.Close()
		t.Fatalf("connecting to etcd: %v", err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
	})
	return cli, srv.Endpoint
}

// Eventually calls cond every interval until it returns true or timeout
// passes, then fails the test with the last message cond gave.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
