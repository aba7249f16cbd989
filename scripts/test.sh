#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite:
#   1. ThreadSanitizer build: the concurrency tests (CTest label "concurrency").
#   2. ASan + UBSan debug build: every test, every benchmark once on tiny inputs (label
#      "bench", so they never rot) and the demo.
#   3. The library built as shared libraries, installed into a temporary prefix and used by a
#      project outside the tree (the static build is checked the same way in step 2).
#   4. libFuzzer (clang 15, ASan + UBSan): every target in fuzz/ for a minute from its seeds.
#   5. The Debian packages: built, checked by lintian, installed, served through, purged
#      (tests/package/run.sh; it needs root or sudo, as installing any package does).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

jobs=$(nproc)

echo "== ThreadSanitizer: concurrency tests"
cmake --preset tsan
cmake --build --preset tsan --target concurrency_tests -j "$jobs"
ctest --preset tsan -j "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: everything"
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

echo "== Shared libraries: installed and used from outside the tree"
cmake --preset shared
cmake --build --preset shared -j "$jobs"
tests/consumer/run.sh build/shared

echo "== libFuzzer: every target, time-boxed"
scripts/fuzz.sh 60

echo "== Debian packages: build, lintian, install, serve, purge"
tests/package/run.sh
