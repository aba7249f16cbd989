#!/usr/bin/env bash
# RFC 9111 behaviour checked by an independent suite: cache-tests.fyi (npm http-cache-tests).
# Installs the suite from the npm registry into the build tree, runs its origin on loopback,
# puts `strata serve` in front of it (unmatched_routes = "rfc9111", no rules: the origin's
# headers decide everything), runs the suite's client and prints a tally next to the results the
# suite ships for nginx, Varnish and Squid.
#
#   tests/conformance/cache_tests.sh [build dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
suite_version=0.4.5
work="$build/cache-tests"
mkdir -p "$work"
if [[ ! -d "$work/node_modules/http-cache-tests" ]]; then
  (cd "$work" && npm install --no-audit --no-fund --silent "http-cache-tests@$suite_version")
fi
suite="$work/node_modules/http-cache-tests"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "cache_tests: nothing listens on $1" >&2
  exit 1
}

origin_port=$((10000 + RANDOM % 20000))
(cd "$suite" && npm_config_port=$origin_port npm_config_protocol=http npm_config_pidfile="$work/server.pid" \
  exec node server/server.mjs) >"$work/origin.log" 2>&1 &
pids+=($!)
wait_port "$origin_port"

printf 'listen = "127.0.0.1:0"\norigin = "http://127.0.0.1:%s"\nunmatched_routes = "rfc9111"\n' "$origin_port" >"$work/strata.toml"
"$build/strata" serve --config "$work/strata.toml" >"$work/strata.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  strata_port=$(grep -oE 'listening on http://127.0.0.1:[0-9]+' "$work/strata.log" | grep -oE '[0-9]+$' || true)
  [[ -n "$strata_port" ]] && break
  sleep 0.05
done
[[ -n "${strata_port:-}" ]] || { cat "$work/strata.log" >&2; exit 1; }

(cd "$suite" && npm_config_base="http://127.0.0.1:$strata_port" npm_package_config_id='' \
  node --no-warnings cli.mjs) >"$work/results.json"
node "$root/tests/conformance/summarize.mjs" "$suite" "$work/results.json"
