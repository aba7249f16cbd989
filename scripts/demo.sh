#!/usr/bin/env bash
# The one-command demo: the example API (the seeds' applications over SQLite, its own cache off)
# and `strata serve` in front of it, on the embedded default (Redis when REDIS_URL is set).
# Shows a MISS turning into a HIT and an invalidation, prints curl lines to try, and runs until
# Ctrl-C, then stops both.
#
#   scripts/demo.sh [--build DIR]     ports: STRATA_DEMO_PORT (8080), STRATA_DEMO_API_PORT (5000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
[[ "${1:-}" == "--build" ]] && build=$2
gateway_port=${STRATA_DEMO_PORT:-8080}
api_port=${STRATA_DEMO_API_PORT:-5000}
for binary in strata strata-example-api; do
  [[ -x "$build/$binary" ]] || { echo "demo: $build/$binary is not built; run: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "demo: curl is missing; run scripts/setup.sh" >&2; exit 2; }
for port in "$gateway_port" "$api_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is taken; choose others with STRATA_DEMO_PORT / STRATA_DEMO_API_PORT" >&2
    exit 2
  fi
done

data="$build/demo"
mkdir -p "$data"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

wait_port() {
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "demo: $2 did not start; its log:" >&2
  cat "$data/$2.log" >&2
  exit 1
}

echo "demo: starting the example API (first start creates $data/strata-example.db, a few seconds)"
"$build/strata-example-api" --port "$api_port" --database "$data/strata-example.db" --cache false >"$data/api.log" 2>&1 &
pids+=($!)
wait_port "$api_port" api
"$build/strata" serve --config "$root/examples/gateway/demo.toml" --listen "127.0.0.1:$gateway_port" \
  --origin "http://127.0.0.1:$api_port" >"$data/gateway.log" 2>&1 &
pids+=($!)
wait_port "$gateway_port" gateway

gateway="http://127.0.0.1:$gateway_port"
echo "demo: example API  http://127.0.0.1:$api_port  (SQLite, no cache of its own)"
echo "demo: strata serve $gateway  ($(grep -oE 'L1 only[^;]*|L1 \+ Redis' "$data/gateway.log" | head -1))"
echo
show() {  # method path [body]: one request through the gateway, its X-Cache and time
  local method=$1 path=$2 body=${3:-}
  local args=(-s -o /dev/null -w '%{http_code} %header{x-cache} %{time_total}\n' -X "$method")
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' -d "$body")
  read -r code cache seconds < <(curl "${args[@]}" "$gateway$path")
  printf '  %-6s %-44s -> %s %-6s %6.1f ms\n' "$method" "$path" "$code" "$cache" "$(awk -v s="$seconds" 'BEGIN { print s * 1000 }')"
}
echo "A job polled by clients (seed 004):"
show GET /api/v2/jobs/42
show GET /api/v2/jobs/42
show POST /api/v2/jobs/42/progress '{"current_stage":"encoding","scenes_completed":3,"scenes_total":5}'
show GET /api/v2/jobs/42
show GET /api/v2/jobs/42
echo "The analytics dashboard, aggregated over every analytics row (seed 003):"
show GET /api/analytics/dashboard
show GET /api/analytics/dashboard
# A completed transcription and its owner (the generated data assigns owners at random; only the
# owner sees it, and only completed ones are cached): transcription 11's owner, or the next one's.
transcription="" owner=""
for id in $(seq 11 30); do
  probe=()
  for user in $(seq 1 500); do
    probe+=(-s -H "X-User-Id: $user" -w '\n' "http://127.0.0.1:$api_port/api/transcriptions/$id" --next)
  done
  owner=$(curl "${probe[@]}" 2>/dev/null | grep '"status":"completed"' | grep -oE '"user_id":[0-9]+' | head -1 | cut -d: -f2 || true)
  if [[ -n $owner ]]; then
    transcription=$id
    break
  fi
done
echo
echo "Try it (Ctrl-C stops both):"
echo "  curl -i $gateway/api/v2/jobs/7"
echo "  curl -i '$gateway/api/library/paged?page=2&per_page=10&sort_by=title&order=asc'"
[[ -n $transcription ]] && echo "  curl -i -H 'X-User-Id: $owner' $gateway/api/transcriptions/$transcription"
echo "  curl -i -X POST -H 'Content-Type: application/json' -d '{\"title\":\"New\",\"publisher\":\"Sega\",\"release_year\":2026,\"size_mb\":10}' $gateway/api/library"
echo "  curl -H 'Authorization: Bearer demo-admin-token' $gateway/metrics"
printf '/api/v2/jobs/%s\n' $(seq 1 20) >"$data/warm.txt"
echo "Operate it:"
echo "  STRATA_ADMIN_TOKEN=demo-admin-token $build/strata stats --gateway $gateway --watch 2"
echo "  STRATA_ADMIN_TOKEN=demo-admin-token $build/strata inspect --gateway $gateway /api/v2/jobs/7"
echo "  STRATA_ADMIN_TOKEN=demo-admin-token $build/strata invalidate --gateway $gateway --tag job:7"
echo "  STRATA_URL=$gateway $build/strata warm --file $data/warm.txt --concurrency 4"
echo "The live dashboard, in a browser:"
echo "  $gateway/api/cache/dashboard#token=demo-admin-token"
echo "demo: ready"
while :; do sleep 1; done
