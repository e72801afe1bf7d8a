#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the agent and its
# tests, then the unit, kernel and integration tests against it (as root).
# Any report stops the process, so it fails its test. Not part of the CI
# run: the build alone takes about 10 minutes on 2 cores.
#   scripts/sanitize.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTALLWATCH_SANITIZE=ON
cmake --build "$dir" -j"$(nproc)" --target stallwatch stallwatch_unit_tests stallwatch_kernel_tests \
  stallwatch_integration_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$dir/tests/stallwatch_unit_tests"
"$dir/tests/stallwatch_kernel_tests"
# The churn test's 1 MiB RSS bound would measure ASan's quarantine, not the agent.
"$dir/tests/stallwatch_integration_tests" --gtest_filter=-Identity.ChurnOfTwoThousandCgroupsReturnsToBaseline
