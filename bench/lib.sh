# Shared by the shell benchmarks (source it after setting `bench_name`): a scratch directory
# and the processes to stop on exit, free loopback ports, and waiting for a server to listen.
# Everything stays on 127.0.0.1.

work=$(mktemp -d "/tmp/strata-${bench_name}.XXXXXX")
pids=()
# Extra clean-up a script needs before its processes are stopped (e.g. SIGCONT a stopped one).
before_cleanup() { :; }
cleanup() {
  before_cleanup
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local port
  while :; do
    port=$((10000 + RANDOM % 20000))  # below the ephemeral range (32768+), where outgoing connections live
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}
# Waits (bounded) until something accepts connections on the port; shows $work/<name>.log if not.
wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$bench_name: $name did not start listening on $port; its log:" >&2
  cat "$work/$name.log" >&2 || true
  exit 1
}
# A port printed by a process on its first line ("... listening on ... :PORT ...").
port_from_log() {
  local log=$1 pattern=$2
  for _ in $(seq 1 200); do
    local port
    port=$(grep -oE "$pattern" "$log" 2>/dev/null | grep -oE '[0-9]+$' | head -1 || true)
    if [[ -n "$port" ]]; then echo "$port"; return; fi
    sleep 0.05
  done
  echo "$bench_name: no port in $log" >&2
  cat "$log" >&2
  exit 1
}
# The example API (SQLite, its own cache off) on a free port, stopped on exit: sets `api_port`.
# Needs `build` and `root`.
start_example_api() {
  api_port=$(free_port)
  "$build/strata-example-api" --port "$api_port" --database "$work/example.db" --cache false >"$work/api.log" 2>&1 &
  pids+=($!)
  wait_port "$api_port" api
}
# The demo's gateway configuration (examples/gateway/demo.toml) listening on port $1 in front of
# the example API, on standard output.
demo_gateway_config() {
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$1\"|" -e "s|^origin = .*|origin = \"http://127.0.0.1:$api_port\"|" \
    "$root/examples/gateway/demo.toml"
}
