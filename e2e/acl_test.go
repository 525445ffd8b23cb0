package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	napi "github.com/hashicorp/nomad/api"
	"github.com/nomadic-project/nomadic/pkg/api"
)

// TestACLsThroughNctlAndNomadsAPIClient runs a dev agent with -acl and
// drives it the way an operator does: bootstrap, policies and tokens
// through nctl; a read-only token lists jobs but is refused an apply with
// the reason shown; a namespace's token sees only its namespace; a
// token past its TTL is refused; the bootstrap is refused a second time;
// and Nomad's api package makes the same ACL calls.
func TestACLsThroughNctlAndNomadsAPIClient(t *testing.T) {
	addr, nomadAddr := freeAddr(t), freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-acl", "-enable-mock-driver",
		"-http-addr", addr, "-nomad-http-addr", nomadAddr, "-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t),
		"-data-dir", t.TempDir())
	dir := t.TempDir()
	eventually(t, 60*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/v1/agent/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if _, errOut, code := nctl(t, addr, dir, "get", "jobs"); code == 0 || !strings.Contains(errOut, "Permission denied") {
		t.Fatalf("a request without a token: exit %d: %s", code, errOut)
	}

	var boot api.ACLToken
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "acl", "bootstrap", "-o", "json")), &boot); err != nil {
		t.Fatal(err)
	}
	if boot.SecretID == "" || boot.Type != api.TokenManagement {
		t.Fatalf("bootstrap answered %+v", boot)
	}
	if _, errOut, code := nctl(t, addr, dir, "acl", "bootstrap"); code == 0 || !strings.Contains(errOut, "already done") {
		t.Fatalf("a second bootstrap: exit %d: %s", code, errOut)
	}
	mgmt := func(args ...string) string {
		t.Helper()
		return mustNctl(t, addr, dir, append([]string{"--token", boot.SecretID}, args...)...)
	}
	waitReadyNodesWithToken(t, addr, boot.SecretID)

	mgmt("apply", "--detach", "-f", mockJob(t, dir, "web", 1))
	teamJob := filepath.Join(dir, "team.hcl")
	if err := os.WriteFile(teamJob, []byte(`job "api" {
  namespace = "team-a"
  group "g" {
    task "t" {
      driver = "mock"
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mgmt("apply", "--detach", "-f", teamJob)

	write := func(name, rules string) string {
		p := filepath.Join(dir, name+".policy.hcl")
		if err := os.WriteFile(p, []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad", "namespace \"default\" {\n  policy = \"admin\"\n}\n")
	if _, errOut, code := nctl(t, addr, dir, "--token", boot.SecretID, "acl", "policy", "apply", "bad", bad); code == 0 || !strings.Contains(errOut, bad+":2:12") {
		t.Fatalf("a bad policy: exit %d: %s", code, errOut)
	}
	mgmt("acl", "policy", "apply", "readonly", write("readonly", `namespace "*" {
  policy = "read"
}
node {
  policy = "read"
}
`))
	mgmt("acl", "policy", "apply", "team-a", write("team-a", `namespace "team-a" {
  policy = "write"
}
`))
	if out := mgmt("acl", "policy", "list"); !strings.Contains(out, "readonly") || !strings.Contains(out, "team-a") {
		t.Fatalf("policy list: %s", out)
	}
	newToken := func(args ...string) api.ACLToken {
		t.Helper()
		var tok api.ACLToken
		if err := json.Unmarshal([]byte(mgmt(append([]string{"acl", "token", "create", "-o", "json"}, args...)...)), &tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ro := newToken("--name", "ro", "--policy", "readonly")
	team := newToken("--name", "team", "--policy", "team-a")
	short := newToken("--name", "short", "--policy", "readonly", "--ttl", "2s")

	as := func(tok string, args ...string) (string, string, int) {
		return nctl(t, addr, dir, append([]string{"--token", tok}, args...)...)
	}
	if out, errOut, code := as(ro.SecretID, "get", "jobs", "-n", "*"); code != 0 || !strings.Contains(out, "web") || !strings.Contains(out, "api") {
		t.Fatalf("the read-only token lists jobs: exit %d: %s%s", code, out, errOut)
	}
	out, errOut, code := as(ro.SecretID, "apply", "--detach", "-f", mockJob(t, dir, "web2", 1))
	if code == 0 || !strings.Contains(errOut, "Permission denied: token lacks capability submit-job on namespace default") {
		t.Fatalf("the read-only token applies: exit %d: %s%s", code, out, errOut)
	}
	if out, errOut, code := as(team.SecretID, "get", "jobs", "-n", "*", "-o", "json"); code != 0 {
		t.Fatalf("the team token lists jobs: exit %d: %s", code, errOut)
	} else {
		var jobs []api.Job
		if err := json.Unmarshal([]byte(out), &jobs); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if len(jobs) != 1 || jobs[0].Namespace != "team-a" {
			t.Fatalf("the team token sees %d jobs: %s", len(jobs), out)
		}
	}
	if _, errOut, code := as(team.SecretID, "get", "nodes"); code == 0 || !strings.Contains(errOut, "node:read") {
		t.Fatalf("the team token lists nodes: exit %d: %s", code, errOut)
	}
	// Exec: alloc-exec, and for a raw_exec task (run on the node itself)
	// alloc-node-exec, which a namespace's write policy does not give.
	shJob := filepath.Join(dir, "sh.hcl")
	if err := os.WriteFile(shJob, []byte(`job "sh" {
  namespace = "team-a"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mgmt("apply", "-f", shJob)
	var shAllocs []api.Allocation
	if err := json.Unmarshal([]byte(mgmt("get", "allocs", "-n", "team-a", "--job", "sh", "-o", "json")), &shAllocs); err != nil || len(shAllocs) != 1 {
		t.Fatalf("the sh job's allocations: %v %+v", err, shAllocs)
	}
	shAlloc := shAllocs[0].ID[:8]
	if _, errOut, code := as(ro.SecretID, "-n", "team-a", "alloc", "exec", shAlloc, "--", "true"); code == 0 || !strings.Contains(errOut, "alloc-exec") {
		t.Fatalf("a read-only token execs: exit %d: %s", code, errOut)
	}
	if _, errOut, code := as(team.SecretID, "-n", "team-a", "alloc", "exec", shAlloc, "--", "true"); code == 0 || !strings.Contains(errOut, "alloc-node-exec") {
		t.Fatalf("a namespace's write token execs in a raw_exec task: exit %d: %s", code, errOut)
	}
	if out, errOut, code := as(boot.SecretID, "-n", "team-a", "alloc", "exec", shAlloc, "--", "echo", "managed"); code != 0 || out != "managed\n" {
		t.Fatalf("a management token execs: exit %d: %q %s", code, out, errOut)
	}
	if out := mustNctl(t, addr, dir, "--token", ro.SecretID, "acl", "token", "self"); !strings.Contains(out, ro.AccessorID) || strings.Contains(out, ro.SecretID) {
		t.Fatalf("token self: %s", out)
	}
	if _, errOut, code := as(ro.SecretID, "acl", "token", "list"); code == 0 || !strings.Contains(errOut, "Permission denied") {
		t.Fatalf("a client token lists tokens: exit %d: %s", code, errOut)
	}
	if out := mgmt("acl", "token", "list"); strings.Contains(out, ro.SecretID) || !strings.Contains(out, ro.AccessorID) {
		t.Fatalf("token list: %s", out)
	}
	// A role, through nctl: its token has the role's policies, and a
	// change to the role changes the token.
	mgmt("acl", "role", "create", "--name", "readers", "--policy", "readonly")
	byRole := newToken("--name", "by-role", "--role", "readers")
	if out, errOut, code := as(byRole.SecretID, "get", "nodes"); code != 0 {
		t.Fatalf("a role's token lists nodes: exit %d: %s%s", code, out, errOut)
	}
	mgmt("acl", "role", "update", "readers", "--policy", "team-a")
	eventually(t, 10*time.Second, func() (bool, string) {
		_, errOut, code := as(byRole.SecretID, "get", "nodes")
		return code != 0 && strings.Contains(errOut, "node:read"), errOut
	})
	if out := mgmt("acl", "role", "list"); !strings.Contains(out, "readers") || !strings.Contains(out, "team-a") {
		t.Fatalf("role list: %s", out)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		_, errOut, code := as(short.SecretID, "get", "jobs")
		return code != 0 && strings.Contains(errOut, "ACL token expired"), errOut
	})
	mgmt("acl", "token", "update", ro.AccessorID, "--policy", "team-a")
	eventually(t, 10*time.Second, func() (bool, string) {
		_, errOut, code := as(ro.SecretID, "get", "nodes")
		return code != 0 && strings.Contains(errOut, "node:read"), errOut
	})
	mgmt("acl", "token", "delete", team.AccessorID)
	eventually(t, 10*time.Second, func() (bool, string) {
		_, errOut, code := as(team.SecretID, "get", "jobs", "-n", "team-a")
		return code != 0 && strings.Contains(errOut, "ACL token not found"), errOut
	})

	// Nomad's api package, on the Nomad API.
	anon, err := napi.NewClient(&napi.Config{Address: "http://" + nomadAddr})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.ACLTokens().Bootstrap(nil); err == nil || !strings.Contains(err.Error(), "already done") {
		t.Fatalf("Nomad client's second bootstrap: %v", err)
	}
	if _, _, err := anon.Jobs().List(nil); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("Nomad client without a token: %v", err)
	}
	nc, err := napi.NewClient(&napi.Config{Address: "http://" + nomadAddr, SecretID: boot.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.ACLPolicies().Upsert(&napi.ACLPolicy{Name: "nomad-ro", Description: "from the api package",
		Rules: `namespace "default" { policy = "read" }`}, nil); err != nil {
		t.Fatal(err)
	}
	policies, _, err := nc.ACLPolicies().List(nil)
	if err != nil || len(policies) != 3 {
		t.Fatalf("policies: %d, %v", len(policies), err)
	}
	pol, _, err := nc.ACLPolicies().Info("nomad-ro", nil)
	if err != nil || pol.Description != "from the api package" || pol.CreateIndex == 0 {
		t.Fatalf("policy info: %+v, %v", pol, err)
	}
	created, _, err := nc.ACLTokens().Create(&napi.ACLToken{Name: "nomad", Type: "client", Policies: []string{"nomad-ro"}, ExpirationTTL: time.Hour}, nil)
	if err != nil || created.SecretID == "" || created.ExpirationTime == nil {
		t.Fatalf("token create: %+v, %v", created, err)
	}
	nro, err := napi.NewClient(&napi.Config{Address: "http://" + nomadAddr, SecretID: created.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	self, _, err := nro.ACLTokens().Self(nil)
	if err != nil || self.AccessorID != created.AccessorID {
		t.Fatalf("self: %+v, %v", self, err)
	}
	jobs, _, err := nro.Jobs().List(nil)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "web" {
		t.Fatalf("jobs through the Nomad API with a default-read token: %d, %v", len(jobs), err)
	}
	job, _, err := nro.Jobs().Info("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nro.Jobs().Register(job, nil); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("register with a read token through the Nomad API: %v", err)
	}
	role, _, err := nc.ACLRoles().Create(&napi.ACLRole{Name: "nomad-readers", Policies: []*napi.ACLRolePolicyLink{{Name: "nomad-ro"}}}, nil)
	if err != nil || role.ID == "" {
		t.Fatalf("role create: %+v, %v", role, err)
	}
	if got, _, err := nc.ACLRoles().GetByName("nomad-readers", nil); err != nil || got.ID != role.ID || len(got.Policies) != 1 {
		t.Fatalf("role by name: %+v, %v", got, err)
	}
	roleTok, _, err := nc.ACLTokens().Create(&napi.ACLToken{Name: "by-role", Type: "client", Roles: []*napi.ACLTokenRoleLink{{Name: "nomad-readers"}}}, nil)
	if err != nil || len(roleTok.Roles) != 1 || roleTok.Roles[0].ID != role.ID {
		t.Fatalf("a token of a role: %+v, %v", roleTok, err)
	}
	nrole, err := napi.NewClient(&napi.Config{Address: "http://" + nomadAddr, SecretID: roleTok.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	if jobs, _, err := nrole.Jobs().List(nil); err != nil || len(jobs) != 1 {
		t.Fatalf("jobs with a role's token: %d, %v", len(jobs), err)
	}
	if roles, _, err := nc.ACLRoles().List(nil); err != nil || len(roles) != 2 {
		t.Fatalf("roles: %d, %v", len(roles), err)
	}
	if _, err := nc.ACLRoles().Delete(role.ID, nil); err != nil {
		t.Fatal(err)
	}
	tokens, _, err := nc.ACLTokens().List(nil)
	if err != nil || len(tokens) < 4 {
		t.Fatalf("token list: %d, %v", len(tokens), err)
	}
	created.Name = "renamed"
	if upd, _, err := nc.ACLTokens().Update(created, nil); err != nil || upd.Name != "renamed" {
		t.Fatalf("token update: %+v, %v", upd, err)
	}
	if info, _, err := nc.ACLTokens().Info(created.AccessorID, nil); err != nil || info.Name != "renamed" || info.SecretID != "" {
		t.Fatalf("token info: %+v, %v", info, err)
	}
	if _, err := nc.ACLTokens().Delete(created.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.ACLPolicies().Delete("nomad-ro", nil); err != nil {
		t.Fatal(err)
	}
}

func waitReadyNodesWithToken(t *testing.T, addr, token string) {
	t.Helper()
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, "", "--token", token, "get", "nodes")
		return code == 0 && strings.Contains(out, "ready"), out + errOut
	})
}

// TestACLBootstrapResetAndTokenFileTokens: with -acl, the tokens of
// -http-token-file are management tokens; an operator who lost every
// management token resets the bootstrap through etcd and bootstraps again,
// and the tokens made before stay.
func TestACLBootstrapResetAndTokenFileTokens(t *testing.T) {
	dir := t.TempDir()
	const fileToken = "file-token-0123456789abcdef"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(fileToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, etcdAddr := freeAddr(t), freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-acl", "-enable-mock-driver", "-http-token-file", tokens,
		"-http-addr", addr, "-nomad-http-addr", "off", "-etcd-client-addr", etcdAddr, "-etcd-peer-addr", freeAddr(t),
		"-data-dir", t.TempDir())
	waitReadyNodesWithToken(t, addr, fileToken)
	mustNctl(t, addr, dir, "--token", fileToken, "apply", "--detach", "-f", mockJob(t, dir, "web", 1))
	if out := mustNctl(t, addr, dir, "--token", fileToken, "acl", "token", "self"); !strings.Contains(out, "management") {
		t.Fatalf("a token file's token: %s", out)
	}
	first := mustNctl(t, addr, dir, "acl", "bootstrap")
	if !strings.Contains(first, "Secret ID") || !strings.Contains(first, "shown only now") {
		t.Fatalf("bootstrap: %s", first)
	}
	if _, errOut, code := nctl(t, addr, dir, "acl", "bootstrap"); code == 0 || !strings.Contains(errOut, "already done") {
		t.Fatalf("a second bootstrap: exit %d: %s", code, errOut)
	}
	out, err := exec.Command(filepath.Join(binDir, "nomadic"), "acl", "bootstrap-reset", "-etcd-endpoints", "http://"+etcdAddr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reset") {
		t.Fatalf("bootstrap-reset: %v: %s", err, out)
	}
	var second api.ACLToken
	if err := json.Unmarshal([]byte(mustNctl(t, addr, dir, "acl", "bootstrap", "-o", "json")), &second); err != nil {
		t.Fatal(err)
	}
	list := mustNctl(t, addr, dir, "--token", second.SecretID, "acl", "token", "list")
	if strings.Count(list, "Bootstrap Token") != 2 {
		t.Fatalf("after a reset both bootstrap tokens are listed:\n%s", list)
	}
}

// TestWebUIUnderACLs: the web UI of an agent with -acl asks for a token
// (the anonymous request is refused), and with a management token shows
// the live overview.
func TestWebUIUnderACLs(t *testing.T) {
	addr := freeAddr(t)
	start(t, filepath.Join(binDir, "nomadic"), "agent", "-dev", "-acl", "-http-addr", addr, "-nomad-http-addr", "off",
		"-etcd-client-addr", freeAddr(t), "-etcd-peer-addr", freeAddr(t), "-data-dir", t.TempDir())
	dir := t.TempDir()
	var boot api.ACLToken
	eventually(t, 60*time.Second, func() (bool, string) {
		out, errOut, code := nctl(t, addr, dir, "acl", "bootstrap", "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &boot) == nil, errOut
	})
	waitReadyNodesWithToken(t, addr, boot.SecretID)
	b := newBrowser(t)
	b.do(t, 30*time.Second, "opening the UI", chromedp.Navigate("http://"+addr+"/"))
	b.waitJS(t, 20*time.Second, "the token prompt", `document.getElementById('token-dialog').open`)
	b.exec(t, `document.getElementById('token-input').value = `+js(boot.SecretID)+`; document.getElementById('token-form').requestSubmit()`)
	b.waitJS(t, 20*time.Second, "the overview after signing in",
		`!document.getElementById('token-dialog').open && document.querySelector('main').dataset.route === '' && nomadic.live.state === 'live'`)
}
