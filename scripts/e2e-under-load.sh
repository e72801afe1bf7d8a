#!/usr/bin/env bash
# The e2e label (the VM matrix apart: it is CPU-bound QEMU) N times in a row
# while stress-ng keeps both CPUs busy and calls sync() in a loop: a test
# that fails here once in ten runs would block landings. Stops at the first
# failing round; a line per round goes to stdout, each round's ctest output
# to DIR/roundK.log. As root, with nothing else running agents.
#   scripts/e2e-under-load.sh [build dir [rounds [log dir]]]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} rounds=${2:-5} logs=${3:-$build/e2e-under-load}
command -v stress-ng > /dev/null || { echo "e2e-under-load: stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }
mkdir -p "$logs"
stress-ng --cpu 2 --io 1 --quiet &
load=$!
trap 'kill $load 2> /dev/null; wait $load 2> /dev/null' EXIT
passed=0
for ((r = 1; r <= rounds; r++)); do
  start=$(date +%s)
  ctest --test-dir "$build" -L e2e -E KernelVmMatrix --output-on-failure > "$logs/round$r.log" 2>&1
  rc=$?
  echo "round $r: $( ((rc == 0)) && echo pass || echo FAIL) in $(($(date +%s) - start)) s;" \
    "$(grep -E 'tests passed' "$logs/round$r.log")"
  ((rc == 0)) || { grep -E '^\s+[0-9]+ - .*\(Failed\)' "$logs/round$r.log"; break; }
  passed=$((passed + 1))
done
echo "$passed of $rounds rounds passed in a row"
((passed == rounds))
