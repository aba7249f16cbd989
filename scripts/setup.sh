#!/usr/bin/env bash
# Installs every Debian package Strata needs to build, test and benchmark.
# Idempotent: safe to run on every build; apt-get skips what is already installed.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkgconf git
  # Boost 1.81 exactly (Asio, Beast, JSON, URL); CMake is pinned to this version
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  # libraries
  libhiredis-dev libssl-dev libzstd-dev zlib1g-dev libbrotli-dev libxxhash-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  redis-server redis-tools redis-sentinel openssl curl
  # fuzzing: libFuzzer targets built with clang (scripts/fuzz.sh)
  clang-15 libfuzzer-15-dev
  # the gateway benchmark's load generator and references (bench/gateway_vs_nginx.sh); nginx is
  # also an origin in the gateway's tests, and so is an Express app (Debian's node modules)
  wrk nginx-light varnish
  nodejs node-express node-compression
  # the Debian packages: built with CPack, checked with lintian, the unit with systemd-analyze,
  # the man page with man (scripts/package.sh, tests/package/run.sh)
  dpkg-dev lintian systemd man-db
  # promtool, which checks and unit-tests the alerting rules under deploy/ (tests/deploy/check.sh)
  prometheus
  # headless Chromium, which opens the admin dashboard as a person would (CTest label "browser")
  chromium fonts-dejavu-core
  # the seeds' own stack, for the seeds' claims benchmark (bench/seeds_claims.cpp)
  python3 python3-flask python3-flask-caching python3-redis gunicorn
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

echo "setup: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# The Debian redis-server package starts a system instance on port 6379; tests start their own
# servers on free ports and never use it, so leave whatever the package did alone.
echo "setup: done"
