#!/usr/bin/env bash
# Cache-hit serving, side by side in one run with the same wrk settings and URL set:
#   the origin alone (a fixed delay per request, like a database query), nginx proxy_cache,
#   Varnish, Strata with L1 hits, and Strata with L1 off (every hit from Redis).
# Prints req/s and p50/p99 latency, with ratios to nginx. Everything runs on 127.0.0.1 and stops
# on its own.
#
# By default (--pinned) the servers get CPU 0 with one worker each and wrk gets CPU 1, so that
# the load generator never steals the server's core: on a 2-core machine sharing both cores
# makes p99 a coin toss. --shared runs servers with 2 workers on all cores instead.
#
# A second table puts the same caches in front of a compressing origin (nginx serving JSON with
# `gzip on; gzip_vary on`, every response `Vary: Accept-Encoding`) and measures hits for gzip
# clients and for clients that send no Accept-Encoding, each cache configured as its
# documentation recommends for such origins (nginx keys on Accept-Encoding; Varnish stores gzip
# and gunzips for others, its default; Strata negotiates).
#
#   bench/gateway_vs_nginx.sh [--quick] [--pinned | --shared] [--build DIR] [--duration S]
#                             [--connections N] [--keys N] [--delay-ms MS] [--body-bytes N]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
duration=10
connections=64
wrk_threads=2
pinned=1
keys=1000
delay_ms=20
body_bytes=1024
while (($#)); do
  case "$1" in
    --quick) duration=1; connections=8; keys=50; shift ;;
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --pinned) pinned=1; shift ;;
    --shared) pinned=0; shift ;;
    --keys) keys=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --body-bytes) body_bytes=$2; shift 2 ;;
    *) echo "gateway_vs_nginx: unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in wrk nginx varnishd redis-server; do
  command -v "$tool" >/dev/null || { echo "gateway_vs_nginx: $tool is missing; run scripts/setup.sh" >&2; exit 2; }
done
for binary in strata strata_bench_origin; do
  found=$(find "$build" -maxdepth 2 -name "$binary" -type f -perm -u+x | head -1)
  [[ -n "$found" ]] || { echo "gateway_vs_nginx: $binary not built under $build" >&2; exit 2; }
  declare "bin_${binary}=$found"
done

if ((pinned)) && (($(nproc) < 2)); then pinned=0; fi
if ((pinned)); then
  server_workers=1
  wrk_threads=1
  on_server=(taskset -c 0)
  on_load=(taskset -c 1)
  placement="servers on CPU 0 (1 worker each), wrk on CPU 1"
else
  server_workers=2
  on_server=()
  on_load=()
  placement="servers (2 workers each) and wrk share $(nproc) cores"
fi

bench_name=gateway_vs_nginx
source "$root/bench/lib.sh"

"${on_load[@]}" "$bin_strata_bench_origin" --port 0 --delay-ms "$delay_ms" --body-bytes "$body_bytes" >"$work/origin.log" 2>&1 &
pids+=($!)
origin_port=$(port_from_log "$work/origin.log" 'listening on [0-9]+')

redis_port=$(free_port)
"${on_server[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port" redis

strata_config() {  # $1: l1 true|false
  cat <<TOML
listen = "127.0.0.1:0"
origin = "http://127.0.0.1:$origin_port"
threads = $server_workers
[cache]
l1 = $1
redis_url = "redis://127.0.0.1:$redis_port"
[[rules]]
path = "/api/items/{id}"
ttl = "300s"
TOML
}
strata_config true >"$work/strata-l1.toml"
strata_config false >"$work/strata-l2.toml"
"${on_server[@]}" "$bin_strata" serve --config "$work/strata-l1.toml" >"$work/strata-l1.log" 2>&1 &
pids+=($!)
strata_l1_port=$(port_from_log "$work/strata-l1.log" 'listening on http://127.0.0.1:[0-9]+')
"${on_server[@]}" "$bin_strata" serve --config "$work/strata-l2.toml" >"$work/strata-l2.log" 2>&1 &
pids+=($!)
strata_l2_port=$(port_from_log "$work/strata-l2.log" 'listening on http://127.0.0.1:[0-9]+')

nginx_port=$(free_port)
mkdir -p "$work/nginx/cache" "$work/nginx/logs"
user_line=""
if [[ $(id -u) -eq 0 ]]; then user_line="user root;"; fi
cat >"$work/nginx/nginx.conf" <<CONF
$user_line
worker_processes $server_workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=bench:64m max_size=1g inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_valid 200 300s;
      proxy_cache_lock on;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
"${on_server[@]}" nginx -p "$work/nginx/" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" >"$work/nginx.log" 2>&1 &
pids+=($!)
wait_port "$nginx_port" nginx

varnish_port=$(free_port)
"${on_server[@]}" varnishd -F -j none -n "$work/varnish" -a "127.0.0.1:$varnish_port" -b "127.0.0.1:$origin_port" \
  -s malloc,256m -p thread_pools="$server_workers" >"$work/varnish.log" 2>&1 &
pids+=($!)
wait_port "$varnish_port" varnish

# The compressing origin: stock nginx serving one JSON document per key, gzip on, gzip_vary on.
json_origin_port=$(free_port)
mkdir -p "$work/json-origin/logs" "$work/json-origin/root/api/items"
awk -v keys="$keys" -v bytes="$body_bytes" -v dir="$work/json-origin/root/api/items" 'BEGIN {
  for (k = 0; k < keys; k++) {
    doc = "["; i = 0
    while (length(doc) < bytes) { doc = doc sprintf("{\"id\":%d,\"item\":%d,\"title\":\"Item %d\",\"publisher\":\"Sega\"},", i, k, i); i++ }
    sub(/,$/, "]", doc)
    print doc > (dir "/" k); close(dir "/" k)
  }
}'
cat >"$work/json-origin/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $work/json-origin/nginx.pid;
error_log $work/json-origin/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  gzip on; gzip_vary on; gzip_min_length 1; gzip_types application/json;
  server {
    listen 127.0.0.1:$json_origin_port;
    root $work/json-origin/root;
    location / { add_header Cache-Control "public, max-age=300"; }
  }
}
CONF
"${on_load[@]}" nginx -p "$work/json-origin/" -e "$work/json-origin/logs/error.log" -c "$work/json-origin/nginx.conf" \
  >"$work/json-origin.log" 2>&1 &
pids+=($!)
wait_port "$json_origin_port" json-origin

printf 'listen = "127.0.0.1:0"\norigin = "http://127.0.0.1:%s"\nthreads = %s\n' "$json_origin_port" "$server_workers" \
  >"$work/strata-gzip.toml"
"${on_server[@]}" "$bin_strata" serve --config "$work/strata-gzip.toml" >"$work/strata-gzip.log" 2>&1 &
pids+=($!)
strata_gzip_port=$(port_from_log "$work/strata-gzip.log" 'listening on http://127.0.0.1:[0-9]+')

nginx_gzip_port=$(free_port)
mkdir -p "$work/nginx-gzip/cache" "$work/nginx-gzip/logs"
cat >"$work/nginx-gzip/nginx.conf" <<CONF
$user_line
worker_processes $server_workers;
daemon off;
pid $work/nginx-gzip/nginx.pid;
error_log $work/nginx-gzip/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path $work/nginx-gzip/cache levels=1:2 keys_zone=gzipbench:64m max_size=1g inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:$json_origin_port; keepalive 64; }
  # One cached variant per normalised Accept-Encoding (nginx stores Vary variants, but every
  # distinct header value would otherwise be its own).
  map \$http_accept_encoding \$normalised_encoding { ~*gzip gzip; default ""; }
  server {
    listen 127.0.0.1:$nginx_gzip_port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Accept-Encoding \$normalised_encoding;
      proxy_cache gzipbench;
      proxy_cache_key "\$request_uri \$normalised_encoding";
      proxy_cache_lock on;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
"${on_server[@]}" nginx -p "$work/nginx-gzip/" -e "$work/nginx-gzip/logs/error.log" -c "$work/nginx-gzip/nginx.conf" \
  >"$work/nginx-gzip.log" 2>&1 &
pids+=($!)
wait_port "$nginx_gzip_port" nginx-gzip

varnish_gzip_port=$(free_port)
"${on_server[@]}" varnishd -F -j none -n "$work/varnish-gzip" -a "127.0.0.1:$varnish_gzip_port" \
  -b "127.0.0.1:$json_origin_port" -s malloc,256m -p thread_pools="$server_workers" >"$work/varnish-gzip.log" 2>&1 &
pids+=($!)
wait_port "$varnish_gzip_port" varnish-gzip

cat >"$work/urls.lua" <<'LUA'
local keys = 1000
local counter = 0
function init(args)
  keys = tonumber(args[1]) or keys
  counter = math.random(keys)
end
function request()
  counter = counter + 1
  return wrk.format("GET", "/api/items/" .. (counter % keys), headers)
end
LUA
# The same URLs with Accept-Encoding: gzip.
sed 's/^function request()/headers = { ["Accept-Encoding"] = "gzip" }\nfunction request()/' "$work/urls.lua" >"$work/urls-gzip.lua"

# wrk's latency figure in ms ("812.00us", "1.23ms", "2.00s").
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "nan" }'
}

declare -A rps p50 p99
measure() {  # name port [script]
  local name=$1 port=$2 script=${3:-$work/urls.lua}
  # Warm-up: one pass fills the cache (misses cost the origin's delay), then the measured run.
  "${on_load[@]}" wrk -t"$wrk_threads" -c"$connections" -d"$(( duration > 2 ? 2 : 1 ))s" -s "$script" \
    "http://127.0.0.1:$port" -- "$keys" >/dev/null 2>&1 || true
  local out
  out=$("${on_load[@]}" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency -s "$script" \
    "http://127.0.0.1:$port" -- "$keys" 2>&1)
  echo "$out" >"$work/wrk-$name.txt"
  if echo "$out" | grep -q "Non-2xx"; then
    echo "gateway_vs_nginx: $name answered non-2xx responses:" >&2
    echo "$out" >&2
    exit 1
  fi
  rps[$name]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50[$name]=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99[$name]=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
}

# A hit must really be a hit: check each cache answers from itself before measuring.
check_hit() {  # name port header-regex [extra header line]
  local name=$1 port=$2 pattern=$3 extra=${4:-}
  [[ -n "$extra" ]] && extra="$extra"$'\r\n'
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /api/items/1 HTTP/1.1\r\nHost: bench\r\n%sConnection: close\r\n\r\n' "$extra" >&3
  cat <&3 >/dev/null
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /api/items/1 HTTP/1.1\r\nHost: bench\r\n%sConnection: close\r\n\r\n' "$extra" >&3
  local answer
  answer=$(tr -d '\000' <&3)
  exec 3>&-
  last_answer=$answer
  if ! grep -qiE "$pattern" <<<"$answer"; then
    echo "gateway_vs_nginx: $name did not serve a cache hit; its answer:" >&2
    echo "$answer" >&2
    exit 1
  fi
}
check_hit nginx "$nginx_port" '^X-Cache: HIT'
check_hit varnish "$varnish_port" '^Age: [0-9]+'
check_hit strata-l1 "$strata_l1_port" '^X-Cache: HIT'
check_hit strata-l2 "$strata_l2_port" 'Cache-Status: strata; hit; detail=l2'

names=(origin nginx varnish strata-l1 strata-l2)
declare -A labels=(
  [origin]="origin alone (${delay_ms} ms per request)"
  [nginx]="nginx proxy_cache"
  [varnish]="Varnish"
  [strata-l1]="Strata, L1 hits"
  [strata-l2]="Strata, L1 off (Redis hits)"
)
declare -A ports=([origin]=$origin_port [nginx]=$nginx_port [varnish]=$varnish_port
                  [strata-l1]=$strata_l1_port [strata-l2]=$strata_l2_port)
for name in "${names[@]}"; do measure "$name" "${ports[$name]}"; done

echo
echo "Cache hits over HTTP: wrk -t$wrk_threads -c$connections -d${duration}s, $keys URLs, ${body_bytes}-byte bodies, 127.0.0.1; $placement"
printf '%-36s %12s %10s %10s %12s %12s\n' "server" "req/s" "p50 ms" "p99 ms" "req/s÷nginx" "p99÷nginx"
for name in "${names[@]}"; do
  awk -v label="${labels[$name]}" -v r="${rps[$name]}" -v a="${p50[$name]}" -v b="${p99[$name]}" \
      -v nr="${rps[nginx]}" -v nb="${p99[nginx]}" 'BEGIN {
    printf "%-36s %12.0f %10.3f %10.3f %11.2fx %11.2fx\n", label, r, a, b, r / nr, b / nb }'
done

# Behind the compressing origin: gzip clients, then identity clients.
for client in gzip identity; do
  header=""
  [[ $client == gzip ]] && header="Accept-Encoding: gzip"
  check_hit "nginx-gzip ($client)" "$nginx_gzip_port" '^X-Cache: HIT' "$header"
  check_hit "varnish-gzip ($client)" "$varnish_gzip_port" '^Age: [0-9]+' "$header"
  check_hit "strata-gzip ($client)" "$strata_gzip_port" '^X-Cache: HIT' "$header"
  # Every client gets a coding it accepts: gzip when asked for, none otherwise.
  for cache in nginx-gzip varnish-gzip strata-gzip; do
    port_var="${cache//-/_}_port"
    if [[ $client == gzip ]]; then
      check_hit "$cache ($client coding)" "${!port_var}" '^Content-Encoding: gzip' "$header"
    else
      check_hit "$cache ($client coding)" "${!port_var}" '^HTTP/1.1 200' ""
      if grep -qi '^Content-Encoding' <<<"$last_answer"; then
        echo "gateway_vs_nginx: $cache sent a coding to a client that accepts none:" >&2
        echo "$last_answer" >&2
        exit 1
      fi
    fi
  done
  script="$work/urls.lua"
  [[ $client == gzip ]] && script="$work/urls-gzip.lua"
  for cache in nginx-gzip varnish-gzip strata-gzip; do
    port_var="${cache//-/_}_port"
    measure "$cache-$client" "${!port_var}" "$script"
  done
done
echo
echo "Hits behind a compressing origin (nginx, gzip_vary on, ${body_bytes}-byte JSON): same wrk settings"
printf '%-36s %12s %10s %10s %12s %12s\n' "server, client" "req/s" "p50 ms" "p99 ms" "req/s÷nginx" "p99÷nginx"
for client in gzip identity; do
  declare -A gzip_labels=([nginx-gzip]="nginx proxy_cache" [varnish-gzip]="Varnish" [strata-gzip]="Strata")
  for cache in nginx-gzip varnish-gzip strata-gzip; do
    name="$cache-$client"
    awk -v label="${gzip_labels[$cache]}, $client clients" -v r="${rps[$name]}" -v a="${p50[$name]}" -v b="${p99[$name]}" \
        -v nr="${rps[nginx-gzip-$client]}" -v nb="${p99[nginx-gzip-$client]}" 'BEGIN {
      printf "%-36s %12.0f %10.3f %10.3f %11.2fx %11.2fx\n", label, r, a, b, r / nr, b / nb }'
  done
done
