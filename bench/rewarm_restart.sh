#!/usr/bin/env bash
# How long a restarted gateway takes to serve as well as before, with and without re-warming its
# hot set. The example API (SQLite, its own cache off) behind `strata serve` (L1 only, the demo's
# rules, the hot set in a file), polled as seed 004's clients poll job progress: Zipf(1.0) over
# 5000 jobs at 1000 requests/s (bench/polling_client.py). After --before seconds the gateway is
# stopped (SIGTERM: it drains and writes its hot set) and started again; the client keeps
# polling; the new gateway re-warms at --rewarm-rate (2000/s) 16 at once. Reported per mode: the hit ratio before the restart, the time from the first answer
# after it until a 250 ms window reaches 90% of that ratio, the hit ratio over the first 1 and 5
# seconds, and the origin requests in the first 5 seconds (client misses plus re-warming).
# Everything runs on 127.0.0.1 and stops on its own. Not a CI test.
#
#   bench/rewarm_restart.sh [--build DIR] [--before S] [--after S] [--rate N] [--rewarm-rate N]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
before=20
after=20
rate=1000
rewarm_rate=2000
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --rewarm-rate) rewarm_rate=$2; shift 2 ;;
    *) echo "rewarm_restart: unknown argument $1" >&2; exit 2 ;;
  esac
done
for binary in strata strata-example-api; do
  [[ -x "$build/$binary" ]] || { echo "rewarm_restart: $build/$binary is not built" >&2; exit 2; }
done

bench_name=rewarm_restart
source "$root/bench/lib.sh"

start_example_api
token=rewarm-admin-token

start_gateway() {  # mode log
  local rewarm=$1 log=$2
  demo_gateway_config "$gateway_port" >"$work/strata.toml"
  cat >>"$work/strata.toml" <<TOML
[warming]
hot_set_file = "$work/hot-set.json"
rewarm_on_start = $rewarm
rewarm_rate = $rewarm_rate
rewarm_concurrency = 16
TOML
  REDIS_URL="" "$build/strata" serve --config "$work/strata.toml" >"$log" 2>&1 &
  gateway_pid=$!
  pids+=($gateway_pid)
  wait_port "$gateway_port" "$(basename "$log" .log)"
}

printf '| %-12s | %-15s | %-22s | %-15s | %-15s | %-25s |\n' mode "hit ratio before" "time to 90% of it" \
  "first 1 s" "first 5 s" "origin requests, first 5 s"
printf '| %s | %s | %s | %s | %s | %s |\n' ------------ --------------- ---------------------- --------------- --------------- -------------------------
for mode in cold rewarmed; do
  rm -f "$work/hot-set.json"
  gateway_port=$(free_port)
  rewarm=false
  [[ $mode == rewarmed ]] && rewarm=true
  start_gateway "$rewarm" "$work/first.log"
  python3 "$root/bench/polling_client.py" --port "$gateway_port" --rate "$rate" --seconds $((before + after + 5)) \
    --out "$work/$mode.csv" &
  client=$!
  sleep "$before"
  restart_at=$(python3 -c 'import time; print(time.monotonic())')
  kill -TERM "$gateway_pid"
  wait "$gateway_pid" 2>/dev/null || true
  start_gateway "$rewarm" "$work/second.log"
  wait "$client"
  kill -TERM "$gateway_pid"
  wait "$gateway_pid" 2>/dev/null || true
  rewarm_origin=$(grep -oE '[0-9]+ from the origin' "$work/second.log" | grep -oE '^[0-9]+' || echo 0)
  python3 - "$work/$mode.csv" "$before" "$mode" "${rewarm_origin:-0}" <<'PY'
import sys
path, before, mode, rewarm_origin = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = sorted((float(t), outcome) for t, outcome in (line.strip().split(",") for line in open(path)))
served = lambda rows: [o for _, o in rows if o in ("HIT", "STALE", "MISS", "REVALIDATED")]
def ratio(rows):
    answers = served(rows)
    return sum(o in ("HIT", "STALE") for o in answers) / len(answers) if answers else 0.0
steady = ratio([r for r in rows if before / 2 <= r[0] < before])
# The restart: the first error after `before`; the new gateway's first answer after it.
down = next((t for t, o in rows if t >= before - 1 and o == "ERROR"), before)
back = next(t for t, o in rows if t > down and o != "ERROR")
reached = None
window = 0.25
t = back
while t < rows[-1][0]:
    part = [r for r in rows if t <= r[0] < t + window]
    if served(part) and ratio(part) >= 0.9 * steady:
        reached = t + window - back
        break
    t += window
first = lambda seconds: [r for r in rows if back <= r[0] < back + seconds]
misses = sum(o == "MISS" for _, o in first(5))
print("| %-12s | %14.1f%% | %22s | %14.1f%% | %14.1f%% | %25s |" % (
    mode, 100 * steady, "%.2f s" % reached if reached is not None else "not within the run",
    100 * ratio(first(1)), 100 * ratio(first(5)), "%d (%d misses + %d re-warming)" % (misses + rewarm_origin, misses, rewarm_origin)))
PY
done
