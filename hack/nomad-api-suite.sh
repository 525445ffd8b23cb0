#!/usr/bin/env bash
# Runs the tests of Nomad's own Go api package (github.com/hashicorp/nomad/api,
# MPL-2.0, the version go.mod names) against nomadic: its test harness starts
# `nomad agent -config FILE [-dev]` for each test, so a shim named nomad on
# PATH starts a nomadic agent instead (-dev, or -server with a keyring file)
# whose Nomad API listens on the port FILE gives. Prints each test's result
# and the counts. What fails is listed, with why, in docs/nomad-compat.md.
#
#   hack/nomad-api-suite.sh [go test -run pattern]     (KEEP=1 keeps the work directory and its log)
#
# Builds bin/ first (make build). A test is bounded by the harness (10 s to
# start an agent) and the whole run by a timeout (15 minutes). The harness
# stops each agent it started (SIGINT, then SIGKILL), but not those of a
# test that failed while starting one: the shim records every agent's PID,
# and any still running at the end is stopped here (SIGINT, then SIGKILL).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pattern=${1:-'TestJobs_|TestAllocations_|TestEvaluations_|TestNodes_|TestDeployments_|TestStatus_|TestAgent_|TestNamespaces_|TestVariables_|TestOperator_|TestSearch|TestEvent|TestServices|TestNodePools|TestRegions'}
[ -n "${NO_BUILD:-}" ] || make build >/dev/null
version=$(go list -m -f '{{.Version}}' github.com/hashicorp/nomad/api)
src=$(go env GOMODCACHE)/github.com/hashicorp/nomad/api@$version
[ -d "$src" ] || go mod download github.com/hashicorp/nomad/api
work=$(mktemp -d /tmp/nomad-api-suite.XXXXXX)
stop_left() {
  local pids=()
  [ -f "$work/pids" ] && mapfile -t pids < "$work/pids"
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap 'stop_left; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cp -r "$src" "$work/api"
chmod -R u+w "$work/api"
mkdir "$work/bin"
cat > "$work/bin/nomad" <<SHIM
#!/usr/bin/env python3
# nomad, as Nomad's api test harness calls it: -version, or agent -config F [-dev].
import json, os, socket, subprocess, sys
args = sys.argv[1:]
if args[:1] in (["-version"], ["version"]):
    print("Nomad v1.11.0 (nomadic's test shim)")
    sys.exit(0)
if args[:1] != ["agent"]:
    sys.exit("nomad shim: only agent and -version")
cfg = json.load(open(args[args.index("-config") + 1]))
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
ports = cfg["ports"]
data = os.path.join(cfg.get("data_dir", "/tmp"), "nomadic")
os.makedirs(data, exist_ok=True)
mode = "-dev" if "-dev" in args else "-server"
argv = ["$root/bin/nomadic", "agent", mode, "-log-level", "warn", "-data-dir", data,
        "-nomad-http-addr", "127.0.0.1:%d" % ports["http"], "-http-addr", "127.0.0.1:%d" % ports["rpc"],
        "-etcd-client-addr", "127.0.0.1:%d" % ports["serf"], "-etcd-peer-addr", "127.0.0.1:%d" % free()]
if mode == "-dev":
    argv.append("-enable-mock-driver")
else:
    kf = os.path.join(data, "keyring.json")
    if not os.path.exists(kf):
        subprocess.run(["$root/bin/nctl", "operator", "keyring", "generate", "-f", kf], check=True, stdout=subprocess.DEVNULL)
    argv += ["-keyring-file", kf]
if cfg.get("acl", {}).get("enabled"):
    argv.append("-acl")
with open("$work/pids", "a") as f:  # the same process once it execs nomadic
    f.write("%d\n" % os.getpid())
os.execv(argv[0], argv)
SHIM
chmod +x "$work/bin/nomad"
cd "$work/api"
set +e
PATH="$work/bin:$PATH" GOFLAGS=-mod=mod timeout 15m go test -count=1 -v -run "$pattern" . > "$work/log" 2>&1
set -e
grep -E '^--- (PASS|FAIL|SKIP)' "$work/log" | sort -k3
echo "passed $(grep -c '^--- PASS' "$work/log"), failed $(grep -c '^--- FAIL' "$work/log"), skipped $(grep -c '^--- SKIP' "$work/log") (Nomad api $version)"
