#!/usr/bin/env bash
# The monitoring files under deploy/ are right: the alerting rules load (promtool check rules),
# each alert fires on the series it is for and not on a healthy instance (promtool test rules),
# and every metric the rules and the Grafana dashboard query exists in a running gateway's
# /metrics, so a renamed metric fails here rather than leaving a panel blank.
#
#   tests/deploy/check.sh STRATA_BINARY
set -euo pipefail
strata=$1
deploy=$(cd "$(dirname "$0")/../../deploy" && pwd)
command -v promtool >/dev/null || { echo "deploy check: promtool is missing; run scripts/setup.sh" >&2; exit 1; }

(cd "$deploy/prometheus" && promtool check rules strata-alerts.yml && promtool test rules strata-alerts.test.yml)

work=$(mktemp -d /tmp/strata-deploy.XXXXXX)
gateway_pid=""
cleanup() {
  [[ -n $gateway_pid ]] && kill "$gateway_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
token=deploy-check-token
cat >"$work/strata.toml" <<TOML
listen = "127.0.0.1:0"
origin = "http://127.0.0.1:9"
[admin]
token_sha256 = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
TOML
"$strata" serve --config "$work/strata.toml" >"$work/serve.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
port=$(grep -oE 'listening on http://127.0.0.1:[0-9]+' "$work/serve.log" | grep -oE '[0-9]+$') ||
  { cat "$work/serve.log" >&2; echo "deploy check: the gateway did not start" >&2; exit 1; }
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" >"$work/metrics" ||
  { echo "deploy check: /metrics did not answer" >&2; exit 1; }

names=$( (grep -h 'expr' "$deploy/prometheus/strata-alerts.yml"; sed -n '/expr: |/,/^ *[a-z_]*:/p' "$deploy/prometheus/strata-alerts.yml";
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [print(t["expr"]) for p in d["panels"] for t in p["targets"]]' \
    "$deploy/grafana/strata-dashboard.json") | grep -oE '\bstrata_[a-z0-9_]+' | sort -u)
missing=()
for name in $names; do
  base=$name
  for suffix in _bucket _sum _count; do
    if [[ $name == *$suffix ]] && grep -q "^# TYPE ${name%"$suffix"} histogram" "$work/metrics"; then base=${name%"$suffix"}; fi
  done
  grep -q "^# TYPE $base " "$work/metrics" || missing+=("$name")
done
if ((${#missing[@]})); then
  echo "deploy check: queried but not in /metrics: ${missing[*]}" >&2
  exit 1
fi
echo "deploy check: ok ($(wc -w <<<"$names") metrics, all exported)"
