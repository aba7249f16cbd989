#!/usr/bin/env bash
# The README's demo (scripts/demo.sh) starts, serves a HIT, and stops cleanly when told to.
#   tests/demo_test.sh <build dir>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
export STRATA_DEMO_PORT=$((10000 + RANDOM % 20000))
export STRATA_DEMO_API_PORT=$((STRATA_DEMO_PORT + 1))
"$root/scripts/demo.sh" --build "$build" >"$out" 2>&1 &
demo=$!
for _ in $(seq 1 900); do
  grep -q "demo: ready" "$out" && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done
cat "$out"
grep -q "demo: ready" "$out" || { echo "FAIL: the demo did not get ready"; kill -9 "$demo" 2>/dev/null; exit 1; }
grep -qE "/api/v2/jobs/42 +-> 200 HIT" "$out" || { echo "FAIL: no HIT in the walkthrough"; kill -INT "$demo"; exit 1; }
grep -qE "/api/analytics/dashboard +-> 200 HIT" "$out" || { echo "FAIL: the dashboard was not served from the cache"; kill -INT "$demo"; exit 1; }
# Every line the demo suggests works as printed (a `--watch` line is run for one refresh).
suggested=0
while IFS= read -r line; do
  command=${line#  }
  [[ $command == *"--watch 2"* ]] && command="$command --count 1"
  suggested=$((suggested + 1))
  if ! result=$(bash -c "$command" 2>/dev/null); then
    echo "FAIL: a suggested line failed: $line"; echo "$result"; kill -TERM "$demo"; exit 1
  fi
  if [[ $command == "curl -i"* ]] && ! head -1 <<<"$result" | grep -qE '^HTTP/1\.1 2[0-9][0-9]'; then
    echo "FAIL: a suggested line did not succeed: $line"; echo "$result" | head -5; kill -TERM "$demo"; exit 1
  fi
done < <(grep -E '^  (curl|STRATA_ADMIN_TOKEN|STRATA_URL)' "$out")
# The dashboard line: the page answers, and its data answers the token it carries.
dashboard=$(grep -oE 'http://[^ ]*/dashboard#token=[^ ]+' "$out" | head -1)
page=${dashboard%%#*}
token=${dashboard#*#token=}
[[ -n $dashboard ]] || { echo "FAIL: no dashboard line"; kill -TERM "$demo"; exit 1; }
curl -fsS "$page" | grep -q '<title>Strata gateway</title>' || { echo "FAIL: $page is not the dashboard"; kill -TERM "$demo"; exit 1; }
curl -fsS -H "Authorization: Bearer $token" "$page/data" | grep -q '"traffic"' || {
  echo "FAIL: the dashboard's data does not answer the token the demo printed"; kill -TERM "$demo"; exit 1; }
((suggested >= 9)) || { echo "FAIL: only $suggested suggested lines found"; kill -TERM "$demo"; exit 1; }
echo "all $suggested suggested lines work"
# SIGTERM stands in for Ctrl-C: a non-interactive shell starts background jobs with SIGINT
# ignored, and the demo handles both the same way.
kill -TERM "$demo"
status=0
for _ in $(seq 1 200); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then echo "FAIL: the demo did not stop within 20 s"; kill -9 "$demo"; exit 1; fi
wait "$demo" || status=$?
[[ $status -eq 0 ]] || { echo "FAIL: the demo exited with $status"; exit 1; }
for port in "$STRATA_DEMO_PORT" "$STRATA_DEMO_API_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "FAIL: something still listens on $port"; exit 1; fi
done
echo "demo test: ok"
