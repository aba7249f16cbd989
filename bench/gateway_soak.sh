#!/usr/bin/env bash
# Memory under a flood of distinct URLs: `strata serve` (L1 only, a small L1 budget) in front of
# strata_bench_origin, with wrk requesting a new URL every time, mixed with hits on a small hot
# set. Samples the gateway's RSS and its own l1_bytes every few seconds and prints both against
# the configured budget. Everything runs on 127.0.0.1 and stops on its own. Not a CI test.
#
#   bench/gateway_soak.sh [--build DIR] [--duration S] [--l1-mib N] [--forms-mib N] [--body-bytes N]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
duration=120
l1_mib=64
forms_mib=32
body_bytes=1024
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --l1-mib) l1_mib=$2; shift 2 ;;
    --forms-mib) forms_mib=$2; shift 2 ;;
    --body-bytes) body_bytes=$2; shift 2 ;;
    *) echo "gateway_soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "gateway_soak: wrk is missing; run scripts/setup.sh" >&2; exit 2; }
for binary in strata strata_bench_origin; do
  found=$(find "$build" -maxdepth 2 -name "$binary" -type f -perm -u+x | head -1)
  [[ -n "$found" ]] || { echo "gateway_soak: $binary not built under $build" >&2; exit 2; }
  declare "bin_${binary}=$found"
done

bench_name=gateway_soak
source "$root/bench/lib.sh"

"$bin_strata_bench_origin" --port 0 --delay-ms 0 --body-bytes "$body_bytes" >"$work/origin.log" 2>&1 &
pids+=($!)
origin_port=$(port_from_log "$work/origin.log" 'listening on [0-9]+')
token=soak-admin-token
cat >"$work/strata.toml" <<TOML
listen = "127.0.0.1:0"
origin = "http://127.0.0.1:$origin_port"
[cache]
redis_url = ""
l1_capacity_mib = $l1_mib
[compression]
forms_cache_mib = $forms_mib
[admin]
token_sha256 = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
[[rules]]
path = "/api/items/{id}"
ttl = "600s"
TOML
REDIS_URL="" "$bin_strata" serve --config "$work/strata.toml" >"$work/strata.log" 2>&1 &
strata_pid=$!
pids+=($strata_pid)
port=$(port_from_log "$work/strata.log" 'listening on http://127.0.0.1:[0-9]+')

# Nine requests in ten name a URL never seen before; one in ten is one of 100 hot URLs.
cat >"$work/flood.lua" <<'LUA'
local counter = 0
local thread_id = 0
function setup(thread) thread:set("id", math.random(1, 1000000000)) end
function init(args) thread_id = id end
function request()
  counter = counter + 1
  if counter % 10 == 0 then
    return wrk.format("GET", "/api/items/hot-" .. (counter % 100))
  end
  return wrk.format("GET", "/api/items/" .. thread_id .. "-" .. counter)
end
LUA

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$strata_pid/status"; }
metric() {  # name: one value from /metrics
  curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}'
}
l1_mib_used() { awk -v b="$(metric strata_cache_l1_bytes)" 'BEGIN {printf "%.1f", b / 1048576}'; }

# The verdict's measure: what the process holds beyond its idle size, against the two budgets
# that bound it (L1 and the decoded forms).
base=$(rss_mib)
budget=$((l1_mib + forms_mib))
echo "Soak: unique-URL flood (90%) + 100 hot URLs, ${body_bytes}-byte bodies, L1 ${l1_mib} MiB + forms ${forms_mib} MiB, ${duration}s"
printf '%8s %10s %10s %10s %14s %10s %10s\n' seconds "RSS MiB" "L1 MiB" "forms MiB" "(RSS-base)/bgt" requests entries
printf '%8s %10s %10s %10s %14s %10s %10s\n' 0 "$base" "$(l1_mib_used)" 0 "-" 0 0
wrk -t2 -c32 -d"${duration}s" -s "$work/flood.lua" "http://127.0.0.1:$port" >"$work/wrk.txt" 2>&1 &
load=$!
pids+=($load)
step=$((duration / 10))
((step > 0)) || step=1
for ((t = step; t <= duration; t += step)); do
  sleep "$step"
  rss=$(rss_mib)
  printf '%8s %10s %10s %10s %14s %10s %10s\n' "$t" "$rss" "$(l1_mib_used)" \
    "$(awk -v b="$(metric strata_gateway_coding_forms_bytes)" 'BEGIN {printf "%.1f", b / 1048576}')" \
    "$(awk -v r="$rss" -v z="$base" -v b="$budget" 'BEGIN {printf "%.2fx", (r - z) / b}')" \
    "$(metric strata_gateway_requests_total)" "$(metric strata_cache_l1_entries)"
done
wait "$load" || true
