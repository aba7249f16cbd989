#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang 15 with ASan + UBSan) and runs each from its
# committed seed corpus (fuzz/corpus/<target>) for a bounded time, as many at once as there are
# cores. A crash, leak or timeout fails the run; the input that caused it is kept in
# build/fuzz/findings/<target>/ (turn it into a regression test and a seed). Inputs that found
# new coverage accumulate in build/fuzz/corpus/<target>/, never in the repository.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS_PER_TARGET must be a whole number, not '$seconds'" >&2; exit 2; }
targets=("$@")
if ((${#targets[@]} == 0)); then
  for directory in fuzz/corpus/*/; do targets+=("$(basename "$directory")"); done
fi
for target in "${targets[@]}"; do
  [[ -d "fuzz/corpus/$target" ]] || { echo "fuzz: no target '$target' (see fuzz/corpus/)" >&2; exit 2; }
done

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

run_one() {  # target
  local target=$1
  local work="build/fuzz/corpus/$target" findings="build/fuzz/findings/$target"
  mkdir -p "$work" "$findings"
  local status=0
  "build/fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$work" "fuzz/corpus/$target" >"build/fuzz/$target.log" 2>&1 || status=$?
  local runs corpus
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "build/fuzz/$target.log")
  corpus=$(find "$work" -type f | wc -l)
  printf '%-24s %12s %8s %s\n' "$target" "${runs:-?}" "$corpus" "$( ((status == 0)) && echo ok || echo "FAILED (exit $status, see build/fuzz/$target.log)")"
  return "$status"
}

echo "== libFuzzer: ${#targets[@]} targets, ${seconds} s each, ASan + UBSan"
printf '%-24s %12s %8s %s\n' target executions corpus result
failed=0
jobs=$(nproc)
pids=()
for target in "${targets[@]}"; do
  run_one "$target" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if ((failed)); then
  echo "fuzz: a target failed; its crashing input is under build/fuzz/findings/" >&2
  exit 1
fi
