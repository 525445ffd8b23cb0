#!/usr/bin/env bash
# C1M: one server with its embedded etcd (default settings, 2 GiB quota)
# and `nomadic sim` with NODES hollow nodes on this machine; JOBS jobs of
# COUNT allocations each are submitted, and the run is timed from the
# first submission to every allocation reported running by its node.
#
#   hack/c1m.sh [NODES JOBS COUNT] [extra server flags]     (default 5000 1000 1000)
#   SIM_FLAGS="-debug-addr 127.0.0.1:6062" hack/c1m.sh ...   (extra flags of the sim)
#   SERVER_DEBUG=1 ...                         (Go's profiler on server i at 127.0.0.1:606<i>, from 1)
#   SIM_FLAGS=-status-relay=false ...         (nodes write their statuses to etcd themselves,
#                                                not through the servers' status relay)
#   hack/c1m.sh 5000 300 1000 -log-level info                  (the server's plan conflicts logged too)
#   ETCD_MEMBERS=3 SERVERS=2 hack/c1m.sh ...   (a 3-member cluster of Debian's etcd, separate
#                                                processes, and 2 servers on it)
#   ETCD_FLAGS="--enable-pprof" ...           (extra flags of those etcd members)
#   ETCD_BIN=/path/to/etcd ...                 (another etcd than Debian's for the members)
#   ETCD_USAGE=1 ...                           (what etcd holds at the end, by kind of key)
#   CEILING=0 ...                              (skip etcd's batched ceiling, measured first)
#   NO_BUILD=1 ...                             (run bin/ as it is, to compare builds)
#   DATA_DIR=/var/tmp ...                      (data there instead of /dev/shm: disk, not memory)
#   GOGC_CONTROL=200 ...                       (Go's GC target of the servers and etcd members, not the sim)
#
# When the check at the end fails, or KEEP_LOGS=1, the server's and the
# sim's logs are kept in a /tmp/c1m-logs.* directory (printed).
# Prints placements/s (overall and per 10 s), time to all running,
# evaluation latency p50/p99, the RSS of the server (with etcd) and of the
# simulator, etcd's database size (as the run left it, then after
# compaction and defragmentation), and a check of the result: every job at
# its count, no allocation slot running twice, no node over its capacity.
# Builds bin/ (make build). Data on tmpfs when there is one. Every loop is
# bounded; it stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-5000}
jobs=${2:-1000}
count=${3:-1000}
[ $# -ge 3 ] && shift 3 || shift $#
total=$((jobs * count))
members=${ETCD_MEMBERS:-1}
nservers=${SERVERS:-1}
if [ "$members" != 1 ] && [ "$members" != 3 ]; then echo "ETCD_MEMBERS is 1 (embedded) or 3" >&2; exit 2; fi
if [ "$members" = 1 ] && [ "$nservers" != 1 ]; then echo "SERVERS > 1 needs ETCD_MEMBERS=3" >&2; exit 2; fi
[ -n "${NO_BUILD:-}" ] || make build >/dev/null
if [ "${CEILING:-1}" != 0 ]; then
  # etcd's batched ceiling on this machine, before the run: an embedded
  # etcd taking transactions of 128 allocation-sized puts (pkg/store
  # BenchmarkEtcdPut).
  echo "etcd's batched ceiling: $(go test -run '^$' -bench 'EtcdPut/batched' -benchtime 300x ./pkg/store 2>&1 |
    awk '/keys\/s/ { for (i = 1; i <= NF; i++) if ($i == "keys/s") v = $(i - 1); n = $1; sub(/^BenchmarkEtcdPut\//, "", n); printf "%s%s %.0f keys/s", sep, n, v; sep = ", " }')"
fi
base=${DATA_DIR:-/dev/shm}
[ -d "$base" ] || base=/tmp
dir=$(mktemp -d "$base/c1m.XXXXXX")
port=$((20000 + RANDOM % 20000))
api=127.0.0.1:$port
etcd=127.0.0.1:$((port + 1))
stats=127.0.0.1:$((port + 3))
pids=()
servers=() # server PIDs
apis=()    # their API addresses
etcds=()   # PIDs of external etcd members
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "${keep:-}" ]; then
    mkdir -p "$keep" && cp "$dir"/*.log "$keep/" 2>/dev/null || true
    echo "server and sim logs kept in $keep"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP_LOGS:-}" ] && keep=$(mktemp -d /tmp/c1m-logs.XXXXXX)

# CPU seconds and RSS (MiB) of one or more processes, summed.
cpu() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{ printf "%.0f", ($14 + $15) / 100 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
rss() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }

endpoints=http://$etcd
if [ "$members" = 3 ]; then
  # Debian's etcd, three members on loopback, default settings but the
  # quota written out (2 GiB, etcd's default).
  bin_etcd=${ETCD_BIN:-$(command -v etcd)} || { echo "ETCD_MEMBERS=3 needs etcd (apt-get install etcd-server)" >&2; exit 2; }
  initial=""
  for i in 0 1 2; do initial="$initial${initial:+,}m$i=http://127.0.0.1:$((port + 10 + 2 * i + 1))"; done
  endpoints=""
  for i in 0 1 2; do
    c=127.0.0.1:$((port + 10 + 2 * i))
    p=127.0.0.1:$((port + 10 + 2 * i + 1))
    endpoints="$endpoints${endpoints:+,}http://$c"
    env ${GOGC_CONTROL:+GOGC=$GOGC_CONTROL} "$bin_etcd" --name "m$i" --data-dir "$dir/etcd$i" --listen-client-urls "http://$c" --advertise-client-urls "http://$c" \
      --listen-peer-urls "http://$p" --initial-advertise-peer-urls "http://$p" --initial-cluster "$initial" \
      --initial-cluster-state new --initial-cluster-token "c1m-$port" --quota-backend-bytes 2147483648 ${ETCD_FLAGS:-} \
      >"$dir/etcd$i.log" 2>&1 &
    etcds+=($!)
    pids+=($!)
  done
  etcd=127.0.0.1:$((port + 10))
  for _ in $(seq 1 100); do curl -s "http://$etcd/health" | grep -q '"health":"true"' && break; sleep 0.2; done
  for i in $(seq 1 "$nservers"); do
    a=127.0.0.1:$((port + 20 + i))
    env ${GOGC_CONTROL:+GOGC=$GOGC_CONTROL} bin/nomadic agent -server -name "c1m-$i" -data-dir "$dir/server$i" -http-addr "$a" -etcd-endpoints "$endpoints" \
      -log-level warn -gc-interval 1h ${SERVER_DEBUG:+-debug-addr 127.0.0.1:$((6060 + i))} "$@" >"$dir/server$i.log" 2>&1 &
    servers+=($!)
    pids+=($!)
    apis+=("$a")
  done
  api=${apis[0]}
else
  env ${GOGC_CONTROL:+GOGC=$GOGC_CONTROL} bin/nomadic agent -server -name c1m -data-dir "$dir/server" -http-addr "$api" -etcd-client-addr "$etcd" \
    -etcd-peer-addr 127.0.0.1:$((port + 2)) -log-level warn -gc-interval 1h ${SERVER_DEBUG:+-debug-addr 127.0.0.1:6061} "$@" >"$dir/server.log" 2>&1 &
  servers+=($!)
  pids+=($!)
  apis+=("$api")
fi
for a in "${apis[@]}"; do
  for _ in $(seq 1 100); do bin/nctl --addr "$a" server members >/dev/null 2>&1 && break; sleep 0.2; done
done
bin/nomadic sim -nodes "$nodes" -start-rate 1000 -etcd-endpoints "$endpoints" -data-dir "$dir/sim" \
  -stats-addr "$stats" ${SIM_FLAGS:-} >"$dir/sim.log" 2>&1 &
sim=$!
pids+=($sim)
ready=0
for _ in $(seq 1 600); do
  ready=$(curl -s "http://$api/v1/nodes" | grep -o '"status": *"ready"' | wc -l || true)
  [ "$ready" -ge "$nodes" ] && break
  sleep 0.5
done
echo "nodes ready: $ready of $nodes"

mkdir -p "$dir/jobs"
for j in $(seq 1 "$jobs"); do
  cat >"$dir/jobs/c1m$j.hcl" <<HCL
job "c1m$j" {
  group "g" {
    count = $count
    task "t" {
      driver = "mock"
      resources {
        cpu    = 20
        memory = 10
      }
    }
  }
}
HCL
done
start=$(date +%s.%N)
bin/nctl --addr "$api" apply --detach -f "$dir/jobs" >/dev/null &
submit=$!
running=0
last=0
lastt=$start
for _ in $(seq 1 7200); do
  # Reported running: the sim runs an allocation when it sees it and
  # counts it written once the status write was acknowledged (through
  # the relay or etcd). C1M only places, one running status each: the
  # smaller of the two is what its nodes have reported.
  stats_now=$(curl -s "http://$stats/stats")
  running=$(echo "$stats_now" | sed -n 's/.*"running":\([0-9]*\).*/\1/p')
  written=$(echo "$stats_now" | sed -n 's/.*"status_writes":\([0-9]*\).*/\1/p')
  running=$(( ${running:-0} < ${written:-0} ? ${running:-0} : ${written:-0} ))
  now=$(date +%s.%N)
  if awk -v n="$now" -v l="$lastt" 'BEGIN { exit !(n - l >= 10) }'; then
    awk -v n="$now" -v s="$start" -v r="$running" -v l="$last" -v lt="$lastt" -v srv="$(rss "${servers[@]}" "${etcds[@]}")" -v sm="$(rss $sim)" \
      'BEGIN { printf "%6.1f s: %8d running, %6.0f/s in the last interval; server+etcd %d MiB, sim %d MiB\n", n - s, r, (r - l) / (n - lt), srv, sm }'
    last=$running
    lastt=$now
  fi
  [ "$running" -ge "$total" ] && break
  sleep 0.5
done
end=$(date +%s.%N)
wait "$submit" || true
awk -v s="$start" -v e="$end" -v n="$nodes" -v j="$jobs" -v r="$running" -v c="$total" -v f="${*:-none}" \
  'BEGIN { d = e - s; printf "C1M: nodes %d, %d jobs x %d: %d of %d running in %.1f s: %.0f placements/s (server flags: %s)\n", n, j, c / j, r, c, d, r / d, f }'
echo "layout: $nservers server(s) on $([ "$members" = 3 ] && echo "3 etcd members (etcd $("${bin_etcd:-etcd}" --version 2>/dev/null | awk 'NR == 1 { print $3 }'), separate processes)" || echo "the embedded etcd")"

# Quantiles (upper bucket bounds) of the server's histograms: evaluation
# latency (creation to end, queueing included: a burst of 1,000 jobs
# queues behind the workers) and one scheduling pass (snapshot, plan,
# commit).
quantiles() {
  for a in "${apis[@]}"; do curl -s "http://$a/metrics"; done | awk -v m="$1" -v what="$2" '
    index($0, m "_bucket") == 1 {
      # Summed over the servers, bucket by bucket (the same buckets, in order).
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      if (!(le in at)) { at[le] = ++k; b[k] = le }
      n[at[le]] += $2
    }
    END {
      tot = n[k]; if (tot == 0) { print what ": none"; exit }
      for (i = 1; i <= k; i++) { if (!p50 && n[i] >= tot * 0.5) p50 = b[i]; if (!p99 && n[i] >= tot * 0.99) p99 = b[i] }
      printf "%s: p50 <= %s s, p99 <= %s s (%d)\n", what, p50, p99, tot
    }'
}
quantiles nomadic_server_evaluation_latency_seconds "evaluation latency"
quantiles nomadic_server_scheduling_seconds "scheduling pass"
echo "cpu: server+etcd $(cpu "${servers[@]}" "${etcds[@]}") s, sim $(cpu $sim) s (user + system, from the start of each process)"
echo "memory: server+etcd $(rss "${servers[@]}" "${etcds[@]}") MiB, sim $(rss $sim) MiB ($(curl -s "http://$stats/stats"))"
if [ "$members" = 3 ]; then
  echo "  by process: servers $(for p in "${servers[@]}"; do echo -n "$(rss $p) MiB/$(cpu $p) s "; done)etcd members $(for p in "${etcds[@]}"; do echo -n "$(rss $p) MiB/$(cpu $p) s "; done)"
fi
checked=$(curl -s "http://$stats/check?count=$count")
echo "check: $checked"
case "$checked" in
*'"duplicate_slots":0,'*'"jobs_not_at_count":0,'*'"nodes_over_capacity":0,'*) ;;
*) keep=${keep:-$(mktemp -d /tmp/c1m-logs.XXXXXX)} ;;
esac
echo "etcd raft proposals committed: $(curl -s "http://$etcd/metrics" | awk '$1 == "etcd_server_proposals_committed_total" { printf "%.0f", $2 }')"
echo "etcd mvcc: $(curl -s "http://$etcd/metrics" | awk '
  $1 == "etcd_mvcc_put_total" { p = $2 } $1 == "etcd_mvcc_range_total" { r = $2 }
  $1 == "etcd_mvcc_txn_total" { t = $2 } $1 == "etcd_mvcc_delete_total" { d = $2 }
  $1 == "etcd_debugging_mvcc_current_revision" { v = $2 }
  END { printf "%.0f puts, %.0f deletes, %.0f ranges, %.0f txns, revision %.0f", p, d, r, t, v }')"
echo "etcd database as left: $(curl -s "http://$etcd/metrics" | awk '$1 == "etcd_mvcc_db_total_size_in_bytes" { printf "%.0f MiB", $2 / 1048576 }')"
if [ -n "${ETCD_USAGE:-}" ]; then
  echo "etcd keys by kind:"
  go run ./hack/etcdusage -endpoints "$endpoints" | sed 's/^/  /'
fi
lost_in_run=$(grep -c 'lease lost\|session lost' "$dir/sim.log" || true)
echo "etcd after maintenance: $(bin/nomadic etcd-maintain -etcd-endpoints "$endpoints")"
echo "etcd quota: $(cat "$dir"/server*.log "$dir/sim.log" | grep -c -i 'nospace\|database space exceeded' || true) log lines of a NOSPACE alarm, $(cat "$dir"/server*.log | grep -c 'near its quota' || true) warnings of the database near its quota; lease losses in the sim: $lost_in_run during the run, $(grep -c 'lease lost\|session lost' "$dir/sim.log" || true) with the maintenance"
