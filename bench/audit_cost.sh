#!/usr/bin/env bash
# What auditing 1% of hits costs the hits: `strata serve` (L1 only) in front of
# strata_bench_origin (1 KiB bodies), wrk on 1000 URLs that are all hits, with the rule's audit
# fraction 0 and 0.01 (audit.rate: --audit-rate, by default high enough to admit every sampled
# hit), three rounds each,
# alternating so that drift hits both alike. Reports req/s and p99 per round and the ratio of the
# medians. Servers on CPU 0, wrk on CPU 1. Everything runs on 127.0.0.1 and stops on its own.
# Not a CI test.
#
#   bench/audit_cost.sh [--build DIR] [--duration S] [--fraction F] [--audit-rate N]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
duration=8
fraction=0.01
audit_rate=100000
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --fraction) fraction=$2; shift 2 ;;
    --audit-rate) audit_rate=$2; shift 2 ;;
    *) echo "audit_cost: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "audit_cost: wrk is missing; run scripts/setup.sh" >&2; exit 2; }
for binary in strata strata_bench_origin; do
  found=$(find "$build" -maxdepth 2 -name "$binary" -type f -perm -u+x | head -1)
  [[ -n "$found" ]] || { echo "audit_cost: $binary not built under $build" >&2; exit 2; }
  declare "bin_${binary}=$found"
done

bench_name=audit_cost
source "$root/bench/lib.sh"

taskset -c 0 "$bin_strata_bench_origin" --port 0 --delay-ms 0 --body-bytes 1024 >"$work/origin.log" 2>&1 &
pids+=($!)
origin_port=$(port_from_log "$work/origin.log" 'listening on [0-9]+')
cat >"$work/urls.lua" <<'LUA'
local counter = 0
function init(args) counter = math.random(1000) end
function request()
  counter = counter + 1
  return wrk.format("GET", "/api/items/" .. (counter % 1000))
end
LUA

declare -A rps p99
run_mode() {  # name fraction round
  local name=$1 share=$2 round=$3 port
  port=$(free_port)
  cat >"$work/strata-$name.toml" <<TOML
listen = "127.0.0.1:$port"
origin = "http://127.0.0.1:$origin_port"
threads = 1
[audit]
rate = $audit_rate
concurrency = 64
[[rules]]
path = "/api/items/{id}"
ttl = "600s"
audit = $share
TOML
  REDIS_URL="" taskset -c 0 "$bin_strata" serve --config "$work/strata-$name.toml" >"$work/strata-$name.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_port "$port" "strata-$name"
  taskset -c 1 wrk -t1 -c64 -d2s -s "$work/urls.lua" "http://127.0.0.1:$port" >/dev/null 2>&1  # fill
  local out
  out=$(taskset -c 1 wrk -t1 -c64 -d"${duration}s" --latency -s "$work/urls.lua" "http://127.0.0.1:$port" 2>&1)
  rps[$name.$round]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99[$name.$round]=$(echo "$out" | awk '$1 == "99%" {print $2}')
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
for round in 1 2 3; do
  run_mode off 0 "$round"
  run_mode audited "$fraction" "$round"
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
echo "Hits with and without auditing $(awk -v f="$fraction" 'BEGIN {print f * 100}')% of them (audit.rate $audit_rate): wrk -t1 -c64 -d${duration}s, 1000 URLs, 1 KiB; gateway and origin on CPU 0, wrk on CPU 1"
printf '| %-10s | %-28s | %-28s |\n' audit "req/s (rounds 1, 2, 3)" "p99 (rounds 1, 2, 3)"
printf '| %s | %s | %s |\n' ---------- ---------------------------- ----------------------------
for name in off audited; do
  printf '| %-10s | %-28s | %-28s |\n' "$name" "${rps[$name.1]}, ${rps[$name.2]}, ${rps[$name.3]}" \
    "${p99[$name.1]}, ${p99[$name.2]}, ${p99[$name.3]}"
done
off=$(median "${rps[off.1]}" "${rps[off.2]}" "${rps[off.3]}")
on=$(median "${rps[audited.1]}" "${rps[audited.2]}" "${rps[audited.3]}")
awk -v a="$on" -v b="$off" 'BEGIN {printf "median req/s, audited / off: %.3fx\n", a / b}'
