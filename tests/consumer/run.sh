#!/usr/bin/env bash
# Installs a built Strata into a temporary prefix and builds a service outside the tree against
# it, twice: with find_package(strata) (tests/consumer/CMakeLists.txt) and with pkg-config. Both
# must run. Then every installed header is compiled with only the installed include directory,
# so a public header that includes an internal one fails here.
#
#   tests/consumer/run.sh BUILD_DIR [EXTRA_CXX_FLAGS]
set -euo pipefail
build=$(cd "$1" && pwd)
flags=${2:-}
source_dir=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d /tmp/strata-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT

echo "== cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$prefix/install.log"
if find "$prefix/include" -path '*/src/*' | grep -q .; then
  echo "consumer: internal headers were installed" >&2
  exit 1
fi

echo "== find_package(strata) from a project outside the tree"
cmake -S "$source_dir" -B "$prefix/consumer-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_BUILD_TYPE=Release >"$prefix/configure.log" ||
  { cat "$prefix/configure.log" >&2; exit 1; }
cmake --build "$prefix/consumer-build" >"$prefix/build.log" || { cat "$prefix/build.log" >&2; exit 1; }
"$prefix/consumer-build/my_service"

echo "== pkg-config --cflags --libs strata"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists --print-errors "strata >= 0.2"
# shellcheck disable=SC2046,SC2086  # word splitting is what pkg-config's output needs
# A prefix outside the loader's path needs its libdir named at run time (shared builds).
g++ $flags "$source_dir/main.cpp" -o "$prefix/my_service_pc" $(pkg-config --cflags --libs strata) \
  -Wl,-rpath,"$(pkg-config --variable=libdir strata)"
"$prefix/my_service_pc"

echo "== the installed executable"
"$prefix/bin/strata" --version

echo "== every installed header on its own include path"
headers=$(cd "$prefix/include" && find strata -name '*.hpp' | sort)
for header in $headers; do echo "#include <$header>"; done >"$prefix/all_headers.cpp"
g++ -std=c++20 -fsyntax-only -I"$prefix/include" $(pkg-config --cflags strata) "$prefix/all_headers.cpp"
echo "consumer: ok ($(echo "$headers" | wc -w) headers)"
