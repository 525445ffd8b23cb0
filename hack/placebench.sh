#!/usr/bin/env bash
# End-to-end placement benchmark: one server with its embedded etcd and
# `nomadic sim` with NODES simulated nodes (mock driver) on this machine;
# submits JOBS jobs of COUNT allocations each and times it from the first
# `nctl apply` to every allocation reported running by its node: the
# simulator's count of running statuses written to etcd, polled every
# 50 ms (listing every allocation through the API that often would load
# the server it measures); the API's count is checked once at the end.
#
#   hack/placebench.sh NODES JOBS COUNT [extra server flags, e.g. -eval-from-etcd]
#
# Builds bin/ first (make build). Data lives on tmpfs (/dev/shm) when there
# is one. Every loop is bounded; it stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:?NODES}
jobs=${2:?JOBS}
count=${3:?COUNT}
shift 3
total=$((jobs * count))
base=/dev/shm
[ -d "$base" ] || base=/tmp
dir=$(mktemp -d "$base/placebench.XXXXXX")
port=$((20000 + RANDOM % 20000))
api=127.0.0.1:$port
etcd=127.0.0.1:$((port + 1))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

bin/nomadic agent -server -data-dir "$dir/server" -http-addr "$api" -etcd-client-addr "$etcd" \
  -etcd-peer-addr 127.0.0.1:$((port + 2)) -log-level warn "$@" >"$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do bin/nctl --addr "$api" server members >/dev/null 2>&1 && break; sleep 0.2; done
stats=127.0.0.1:$((port + 3))
bin/nomadic sim -nodes "$nodes" -etcd-endpoints "http://$etcd" -data-dir "$dir/sim" -stats-addr "$stats" >"$dir/sim.log" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 1 300); do
  ready=$(bin/nctl --addr "$api" get nodes -o name 2>/dev/null | wc -l)
  [ "$ready" -ge "$nodes" ] && break
  sleep 0.5
done
echo "nodes registered: $ready"
mkdir -p "$dir/jobs"
for j in $(seq 1 "$jobs"); do
  cat >"$dir/jobs/bench$j.hcl" <<HCL
job "bench$j" {
  group "g" {
    count = $count
    task "t" {
      driver = "mock"
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
HCL
done
start=$(date +%s.%N)
bin/nctl --addr "$api" apply --detach -f "$dir/jobs" >/dev/null
running=0
for _ in $(seq 1 6000); do
  # Placements only: every status written is a running one.
  running=$(curl -s "http://$stats/stats" | sed -n 's/.*"status_writes":\([0-9]*\).*/\1/p')
  running=${running:-0}
  [ "$running" -ge "$total" ] && break
  sleep 0.05
done
end=$(date +%s.%N)
listed=$(bin/nctl --addr "$api" get allocs --status running -o name 2>/dev/null | wc -l)
[ "$listed" -ge "$total" ] || echo "the API lists $listed running allocations of $total" >&2
awk -v s="$start" -v e="$end" -v n="$nodes" -v j="$jobs" -v r="$running" -v c="$total" -v f="${*:-none}" \
  'BEGIN { d = e - s; printf "nodes %d, %d jobs: allocations running %d of %d in %.2f s: %.0f placements/s (server flags: %s)\n", n, j, r, c, d, r / d, f }'
