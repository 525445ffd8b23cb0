package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// devAgentWithEtcd is devAgentWithNomadAPI that also says where its
// embedded etcd answers, for tests that read what is stored.
func devAgentWithEtcd(t *testing.T) (addr, nomadAddr, etcdAddr string) {
	addr, nomadAddr, etcdAddr = freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev",
		"-http-addr", addr, "-nomad-http-addr", nomadAddr, "-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t),
		"-data-dir", t.TempDir())
	waitReadyNodes(t, addr, 1)
	return addr, nomadAddr, etcdAddr
}

func TestVariablesThroughNctlAreEncryptedInEtcd(t *testing.T) {
	addr, _, etcdAddr := devAgentWithEtcd(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("-----BEGIN KEY-----\nabc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "more.json"), []byte(`{"items": {"region": "eu-west"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustNctl(t, addr, dir, "var", "put", "nomad/jobs/web", "password=correct-horse-battery", "tls_key=@tls.key", "@more.json")

	out := mustNctl(t, addr, "", "var", "get", "nomad/jobs/web", "-o", "json")
	var v api.Variable
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("var get -o json: %v\n%s", err, out)
	}
	if v.Items["password"] != "correct-horse-battery" || v.Items["tls_key"] != "-----BEGIN KEY-----\nabc\n" || v.Items["region"] != "eu-west" {
		t.Fatalf("items read back: %v", v.Items)
	}
	if got := mustNctl(t, addr, "", "var", "get", "--item", "password", "nomad/jobs/web"); got != "correct-horse-battery\n" {
		t.Fatalf("var get --item: %q", got)
	}
	if list := mustNctl(t, addr, "", "var", "list", "nomad/"); !strings.Contains(list, "nomad/jobs/web") || strings.Contains(list, "correct-horse") {
		t.Fatalf("var list: %s", list)
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdAddr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/nomadic/variables/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("reading the raw keys: %v (%d keys)", err, len(resp.Kvs))
	}
	for _, secret := range []string{"correct-horse-battery", "BEGIN KEY", "eu-west", "password"} {
		if strings.Contains(string(resp.Kvs[0].Value), secret) {
			t.Fatalf("%q is readable in etcd: %s", secret, resp.Kvs[0].Value)
		}
	}

	_, errOut, code := nctl(t, addr, "", "var", "put", "--check-index", "1", "nomad/jobs/web", "password=x")
	if code == 0 || !strings.Contains(errOut, "check-and-set conflict") {
		t.Fatalf("a stale check-index: exit %d: %s", code, errOut)
	}
	mustNctl(t, addr, "", "var", "put", "--check-index", jsonNum(v.ModifyIndex), "nomad/jobs/web", "password=rotated")

	mustNctl(t, addr, "", "operator", "keyring", "rotate")
	eventually(t, 20*time.Second, func() (bool, string) {
		out := mustNctl(t, addr, "", "operator", "keyring", "list", "-o", "json")
		var keys []api.RootKeyMeta
		_ = json.Unmarshal([]byte(out), &keys)
		return len(keys) == 2 && keys[1].State == api.RootKeyActive && keys[1].Variables == 1, out
	})
	if got := mustNctl(t, addr, "", "var", "get", "--item", "password", "nomad/jobs/web"); got != "rotated\n" {
		t.Fatalf("after the rotation: %q", got)
	}
	mustNctl(t, addr, "", "var", "purge", "nomad/jobs/web")
	if _, _, code := nctl(t, addr, "", "var", "get", "nomad/jobs/web"); code == 0 {
		t.Fatal("a purged variable is still read")
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestNomadsGoClientWritesVariablesWithCheckAndSetAndLocks(t *testing.T) {
	_, nomadAddr, _ := devAgentWithEtcd(t)
	c := nomadClient(t, nomadAddr)
	vars := c.Variables()
	created, _, err := vars.CheckedCreate(&napi.Variable{Path: "nomad/jobs/api", Items: napi.VariableItems{"token": "t1"}}, nil)
	if err != nil {
		t.Fatalf("checked create: %v", err)
	}
	_, _, err = vars.CheckedCreate(&napi.Variable{Path: "nomad/jobs/api", Items: napi.VariableItems{"token": "t2"}}, nil)
	var conflict napi.ErrCASConflict
	if !errors.As(err, &conflict) || conflict.Conflict.Items["token"] != "t1" {
		t.Fatalf("second checked create: %v", err)
	}
	stale := *created
	stale.ModifyIndex = 1
	stale.Items = napi.VariableItems{"token": "t3"}
	if _, _, err := vars.CheckedUpdate(&stale, nil); !errors.As(err, &conflict) {
		t.Fatalf("stale checked update: %v", err)
	}
	created.Items = napi.VariableItems{"token": "t4"}
	if _, _, err := vars.CheckedUpdate(created, nil); err != nil {
		t.Fatalf("checked update: %v", err)
	}
	got, _, err := vars.Read("nomad/jobs/api", nil)
	if err != nil || got.Items["token"] != "t4" {
		t.Fatalf("read: %v %v", got, err)
	}
	list, _, err := vars.PrefixList("nomad/jobs", nil)
	if err != nil || len(list) != 1 || list[0].Path != "nomad/jobs/api" {
		t.Fatalf("list: %v %v", list, err)
	}

	lock, _, err := vars.AcquireLock(&napi.Variable{Path: "locks/leader", Lock: &napi.VariableLock{TTL: "10s", LockDelay: "1s"}}, nil)
	if err != nil || lock.LockID() == "" {
		t.Fatalf("acquire: %v %v", lock, err)
	}
	if _, _, err := vars.AcquireLock(&napi.Variable{Path: "locks/leader", Lock: &napi.VariableLock{TTL: "10s"}}, nil); err == nil {
		t.Fatal("a held lock was acquired again")
	}
	if _, _, err := vars.RenewLock(lock, nil); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if _, _, err := vars.ReleaseLock(lock, nil); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := vars.Delete("nomad/jobs/api", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := vars.Read("nomad/jobs/api", nil); !errors.Is(err, napi.ErrVariablePathNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
}
