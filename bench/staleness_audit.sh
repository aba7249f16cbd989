#!/usr/bin/env bash
# Does the staleness audit measure the stale ratio clients really see? The example API (SQLite,
# its own cache off) behind `strata serve` with the demo's rules, the job rule auditing 1% of its
# hits. Seed 004's clients poll job progress (bench/polling_client.py: Zipf(1.0) over 5000 jobs,
# 1000 requests/s) while render workers post progress to the 100 most polled jobs, 20 a second
# (bench/progress_writer.py), half of those jobs written behind the gateway's back (straight to
# the API), half through it (the rule invalidates them). The true stale ratio comes from the
# change log: a hit is stale when the progress it served is not the job's latest value when the
# request began (or one written while it was under way). Strata's own comes from GET /audit.
# Everything runs on 127.0.0.1 and stops on its own. Not a CI test.
#
#   bench/staleness_audit.sh [--build DIR] [--seconds S] [--audit FRACTION]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
seconds=60
fraction=0.01
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --audit) fraction=$2; shift 2 ;;
    *) echo "staleness_audit: unknown argument $1" >&2; exit 2 ;;
  esac
done
for binary in strata strata-example-api; do
  [[ -x "$build/$binary" ]] || { echo "staleness_audit: $build/$binary is not built" >&2; exit 2; }
done

bench_name=staleness_audit
source "$root/bench/lib.sh"

start_example_api
gateway_port=$(free_port)
token=demo-admin-token
demo_gateway_config "$gateway_port" |
  sed -e "s|^tags = \\[\"job:{id}\"\\]|tags = [\"job:{id}\"]\naudit = $fraction|" >"$work/strata.toml"
printf '[audit]\nrate = 200\nconcurrency = 4\n' >>"$work/strata.toml"
REDIS_URL="" "$build/strata" serve --config "$work/strata.toml" >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_port "$gateway_port" gateway

python3 "$root/bench/progress_writer.py" --gateway-port "$gateway_port" --api-port "$api_port" --seconds "$seconds" \
  --out "$work/writes.csv" &
writer=$!
python3 "$root/bench/polling_client.py" --port "$gateway_port" --rate 1000 --seconds "$seconds" --bodies \
  --out "$work/reads.csv"
wait "$writer"
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$gateway_port/api/cache/audit" >"$work/audit.json"

python3 - "$work/reads.csv" "$work/writes.csv" "$work/audit.json" "$fraction" <<'PY'
import bisect, collections, json, sys
reads_path, writes_path, audit_path, fraction = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
changes = collections.defaultdict(list)  # job -> [(time, value)]
for line in open(writes_path):
    at, job, value, _ = line.strip().split(",")
    changes[int(job)].append((float(at), value))
for history in changes.values():
    history.sort()
hits = stale = 0
for line in open(reads_path):
    _, outcome, job, started, ended, served = line.strip().split(",")
    if outcome not in ("HIT", "STALE"):
        continue
    hits += 1
    history = changes.get(int(job))
    if not history:
        continue  # never written: never stale
    times = [t for t, _ in history]
    current = bisect.bisect_right(times, float(started)) - 1
    allowed = {history[max(current, 0)][1]}
    allowed.update(v for t, v in history if float(started) <= t <= float(ended))
    if served not in allowed:
        stale += 1
rule = next(r for r in json.load(open(audit_path))["rules"] if r["name"] == "GET /api/v2/jobs/{id}")
audit = rule["audit"]
compared = audit["identical"] + audit["stale"]
print("| hits | truly stale | true stale ratio | audited (%g%%) | audited stale | audited stale ratio | suggested TTL |" % (fraction * 100))
print("| --- | --- | --- | --- | --- | --- | --- |")
ttl = audit["suggestion"]["ttl_seconds"]
print("| %d | %d | %.2f%% | %d | %d | %.2f%% | %s |" % (
    hits, stale, 100.0 * stale / max(hits, 1), compared, audit["stale"], 100.0 * audit["stale"] / max(compared, 1),
    "%d s" % ttl if ttl is not None else "none (%s)" % audit["suggestion"].get("note", "")))
PY
