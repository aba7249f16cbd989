#!/usr/bin/env bash
# What a Redis fault costs the gateway's clients: `strata serve` with L1 off (every hit meets
# Redis) and stale_if_error set, in front of an origin that answers in about 1 ms, under wrk
# (-c20, --timeout 2s). Each scenario is one run with a fault injected part-way through:
#   none      no fault (the reference row)
#   stop      redis-server SIGSTOPped for 5 s, then SIGCONTed (a stalled Redis: no RST, no reply)
#   kill      redis-server SIGKILLed, restarted 4 s later on the same port (empty)
# Prints requests, errors (non-2xx answers, socket errors, requests over 2 s), p50, p99 and max
# latency. Everything runs on 127.0.0.1 and stops on its own.
#
#   bench/redis_faults.sh [--build DIR] [--duration S] [--connections N] [--config-extra TOML]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
duration=12
connections=20
keys=200
extra=""
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --config-extra) extra=$2; shift 2 ;;
    *) echo "redis_faults: unknown argument $1" >&2; exit 2 ;;
  esac
done
((duration >= 10)) || { echo "redis_faults: --duration must be at least 10 (the faults last 5 s)" >&2; exit 2; }
for tool in wrk redis-server; do
  command -v "$tool" >/dev/null || { echo "redis_faults: $tool is missing; run scripts/setup.sh" >&2; exit 2; }
done
for binary in strata strata_bench_origin; do
  found=$(find "$build" -maxdepth 2 -name "$binary" -type f -perm -u+x | head -1)
  [[ -n "$found" ]] || { echo "redis_faults: $binary not built under $build" >&2; exit 2; }
  declare "bin_${binary}=$found"
done

bench_name=redis_faults
source "$root/bench/lib.sh"
redis_pid=""
before_cleanup() {  # a stopped redis-server cannot die of SIGTERM
  if [[ -n "$redis_pid" ]]; then
    kill -CONT "$redis_pid" 2>/dev/null || true
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}

"$bin_strata_bench_origin" --port 0 --delay-ms 1 --body-bytes 1024 >"$work/origin.log" 2>&1 &
pids+=($!)
origin_port=$(port_from_log "$work/origin.log" 'listening on [0-9]+')

redis_port=$(free_port)
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  wait_port "$redis_port" redis
}
start_redis

cat >"$work/strata.toml" <<TOML
listen = "127.0.0.1:0"
origin = "http://127.0.0.1:$origin_port"
[cache]
l1 = false
redis_url = "redis://127.0.0.1:$redis_port"
[[rules]]
path = "/api/items/{id}"
ttl = "300s"
stale_if_error = "600s"
$extra
TOML
"$bin_strata" serve --config "$work/strata.toml" >"$work/strata.log" 2>&1 &
pids+=($!)
strata_port=$(port_from_log "$work/strata.log" 'listening on http://127.0.0.1:[0-9]+')

cat >"$work/urls.lua" <<'LUA'
local keys = 200
local counter = 0
function init(args) keys = tonumber(args[1]) or keys end
function request()
  counter = counter + 1
  return wrk.format("GET", "/api/items/" .. (counter % keys))
end
LUA

to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.1f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.1f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.1f", v * 1000 }
    else printf "nan" }'
}

run() {  # scenario
  local scenario=$1
  wrk -t1 -c"$connections" -d2s -s "$work/urls.lua" "http://127.0.0.1:$strata_port" -- "$keys" >/dev/null 2>&1
  wrk -t1 -c"$connections" -d"${duration}s" --timeout 2s --latency -s "$work/urls.lua" \
    "http://127.0.0.1:$strata_port" -- "$keys" >"$work/wrk-$scenario.txt" 2>&1 &
  local load=$!
  sleep 3
  case "$scenario" in
    stop) kill -STOP "$redis_pid"; sleep 5; kill -CONT "$redis_pid" ;;
    kill) kill -KILL "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; sleep 4; start_redis ;;
  esac
  wait "$load"
  local out requests errors=0
  out=$(cat "$work/wrk-$scenario.txt")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  local non2xx socket
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  socket=$(echo "$out" | awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}')
  errors=$(( ${non2xx:-0} + ${socket:-0} ))
  printf '%-10s %10s %8s %10s %10s %10s\n' "$scenario" "$requests" "$errors" \
    "$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")" \
    "$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")" \
    "$(to_ms "$(echo "$out" | awk '$1 == "Latency" {print $4}')")"
}

echo "Redis faults under load: wrk -t1 -c$connections -d${duration}s --timeout 2s, $keys URLs, L1 off, stale_if_error 600s, 127.0.0.1"
printf '%-10s %10s %8s %10s %10s %10s\n' fault requests errors "p50 ms" "p99 ms" "max ms"
for scenario in none stop kill; do run "$scenario"; done
