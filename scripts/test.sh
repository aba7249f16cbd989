#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite:
#   1. ThreadSanitizer build: the concurrency tests (CTest label "concurrency").
#   2. ASan + UBSan debug build: every test, every benchmark once on tiny inputs (label
#      "bench", so they never rot) and the demo.
#   3. libFuzzer (clang 15, ASan + UBSan): every target in fuzz/ for a minute from its seeds.
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

echo "== libFuzzer: every target, time-boxed"
scripts/fuzz.sh 60
