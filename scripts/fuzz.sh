#!/usr/bin/env bash
# Runs the identity parsers' libFuzzer target (cgroup paths, pod log
# directory names, OCI annotations) for longer than CI's 30 s, from the
# fixture corpus plus what earlier runs found. Any crash, leak or undefined
# behaviour stops it with the input saved under the build directory.
#   scripts/fuzz.sh [build dir] [seconds, default 600]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secs=${2:-600}
bin=$build/tests/workload_parser_fuzz
[[ -x $bin ]] || { echo "fuzz.sh: $bin not built (needs libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p "$build/tests/fuzz-corpus"
"$bin" -max_total_time="$secs" -max_len=4200 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix="$build/tests/fuzz-" "$build/tests/fuzz-corpus" tests/fuzz/corpus
