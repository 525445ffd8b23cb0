package acl

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("test.hcl", src)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestParseErrorsSayFileLineAndColumn(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"an unknown policy", "namespace \"default\" {\n  policy = \"admin\"\n}", `p.hcl:2:12: invalid policy: "admin" is not one of deny, read, write, scale`},
		{"an unknown capability", "namespace \"default\" {\n  capabilities = [\"read-job\", \"fly\"]\n}", `p.hcl:2:18: invalid capabilities: "fly" is not a capability here`},
		{"an unknown block", "nodes {\n  policy = \"read\"\n}", `p.hcl:1:1: Unsupported block type`},
		{"a syntax error", "namespace \"default\" {\n  policy = \n}", `p.hcl:2:`},
		{"a bad namespace glob", "namespace \"a/b\" {\n  policy = \"read\"\n}", `p.hcl:1:1: invalid namespace name`},
		{"a bad node policy", "node {\n  policy = \"scale\"\n}", `p.hcl:2:12: invalid policy`},
		{"a bad variable capability", "namespace \"x\" {\n variables {\n  path \"a/*\" { capabilities = [\"eat\"] }\n }\n}", `p.hcl:3:31: invalid capabilities`},
		{"a policy that is not a string", "agent {\n  policy = 3\n}", `p.hcl:2:12: invalid policy: policy must be a string`},
		{"bad JSON", `{"namespace": {"default": {"policy": "nope"}}}`, `p.hcl:1:38: invalid policy`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.hcl", c.src)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

const readOnly = `
namespace "default" {
  policy = "read"
}
node {
  policy = "read"
}
`

const mixed = `
namespace "*" {
  policy = "read"
}
namespace "prod-*" {
  policy = "deny"
}
namespace "prod-web" {
  policy       = "read"
  capabilities = ["submit-job", "read-logs"]
}
namespace "dev" {
  policy = "write"
  variables {
    path "*" { capabilities = ["read", "list"] }
    path "secret/*" { capabilities = ["deny"] }
    path "app/*" { capabilities = ["write", "read"] }
  }
}
namespace "ops" {
  policy = "scale"
}
agent {
  policy = "write"
}
operator {
  policy = "read"
}
host_volume "data-*" {
  policy = "read"
}
`

func TestACLAnswers(t *testing.T) {
	ro := Compile(mustParse(t, readOnly))
	mx := Compile(mustParse(t, mixed))
	merged := Compile(mustParse(t, readOnly), mustParse(t, `namespace "default" { capabilities = ["submit-job"] }
node { policy = "write" }`))
	denied := Compile(mustParse(t, readOnly), mustParse(t, `namespace "default" { policy = "deny" }
node { policy = "deny" }`))
	jsonPol, err := Parse("p.json", `{"namespace": {"default": {"policy": "write"}}, "agent": {"policy": "read"}}`)
	if err != nil {
		t.Fatal(err)
	}
	js := Compile(jsonPol)
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"a read policy lists jobs", ro.AllowNamespaceOp("default", CapListJobs), true},
		{"a read policy reads jobs", ro.AllowNamespaceOp("default", CapReadJob), true},
		{"a read policy does not submit jobs", ro.AllowNamespaceOp("default", CapSubmitJob), false},
		{"a read policy does not read logs", ro.AllowNamespaceOp("default", CapReadLogs), false},
		{"a read policy on default grants nothing elsewhere", ro.AllowNamespaceOp("other", CapReadJob), false},
		{"a read policy on default does not cover all namespaces", ro.AllowNamespaceOp("*", CapListJobs), false},
		{"a node read policy reads nodes", ro.AllowNodeRead(), true},
		{"a node read policy does not write nodes", ro.AllowNodeWrite(), false},
		{"no agent block: no agent read", ro.AllowAgentRead(), false},
		{"a read policy reads variables", ro.AllowVariableOp("default", "a/b", VarRead), true},
		{"a read policy does not write variables", ro.AllowVariableOp("default", "a/b", VarWrite), false},
		{"a * glob covers any namespace", mx.AllowNamespaceOp("staging", CapReadJob), true},
		{"a * glob covers all namespaces", mx.AllowNamespaceOp("*", CapListJobs), true},
		{"a longer glob wins over *", mx.AllowNamespaceOp("prod-db", CapReadJob), false},
		{"an exact name wins over globs", mx.AllowNamespaceOp("prod-web", CapReadJob), true},
		{"an exact name adds capabilities", mx.AllowNamespaceOp("prod-web", CapSubmitJob), true},
		{"an exact name grants only what it says", mx.AllowNamespaceOp("prod-web", CapAllocExec), false},
		{"write grants alloc-exec", mx.AllowNamespaceOp("dev", CapAllocExec), true},
		{"write grants dispatch", mx.AllowNamespaceOp("dev", CapDispatchJob), true},
		{"scale grants scale-job", mx.AllowNamespaceOp("ops", CapScaleJob), true},
		{"scale does not grant read-job", mx.AllowNamespaceOp("ops", CapReadJob), false},
		{"the variables block rules variables", mx.AllowVariableOp("dev", "x", VarWrite), false},
		{"a variable path glob grants", mx.AllowVariableOp("dev", "app/web", VarWrite), true},
		{"a variable path deny", mx.AllowVariableOp("dev", "secret/db", VarRead), false},
		{"the catch-all variable path reads", mx.AllowVariableOp("dev", "other", VarRead), true},
		{"agent write reads the agent", mx.AllowAgentRead(), true},
		{"operator read does not write", mx.AllowOperatorWrite(), false},
		{"operator read reads", mx.AllowOperatorRead(), true},
		{"host volume globs", mx.AllowHostVolumeOp("data-1", CapHostVolumeRead), true},
		{"host volume read does not write", mx.AllowHostVolumeOp("data-1", CapHostVolumeWrite), false},
		{"merged policies add capabilities", merged.AllowNamespaceOp("default", CapSubmitJob), true},
		{"merged coarse policies take the broadest", merged.AllowNodeWrite(), true},
		{"deny in any policy wins", denied.AllowNamespaceOp("default", CapReadJob), false},
		{"a coarse deny wins", denied.AllowNodeRead(), false},
		{"a denied namespace is not listed", denied.AllowNamespace("default"), false},
		{"JSON policies parse", js.AllowNamespaceOp("default", CapSubmitJob), true},
		{"JSON coarse policies parse", js.AllowAgentRead() && !js.AllowAgentWrite(), true},
		{"management may do anything", Management.AllowNamespaceOp("any", CapSubmitJob) && Management.AllowOperatorWrite(), true},
		{"management is management", Management.IsManagement(), true},
		{"deny may do nothing", Deny.AllowNamespaceOp("default", CapListJobs) || Deny.AllowNodeRead(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything", true},
		{"prod-*", "prod-web", true},
		{"prod-*", "dev", false},
		{"*-web", "prod-web", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxc", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(readOnly)
	f.Add(mixed)
	f.Add(`{"namespace": {"default": {"policy": "write"}}}`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("f.hcl", src)
		if err == nil {
			Compile(p).AllowNamespaceOp("default", CapReadJob)
		}
	})
}
