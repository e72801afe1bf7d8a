#!/usr/bin/env bash
# Builds the agent as one static executable (glibc and libstdc++ inside) for
# nodes with an older glibc than Debian 12's: incident capture by hand on
# Ubuntu 22.04, Amazon Linux 2023 or RHEL 8. It serves plain HTTP only.
# The shared-only libraries come from scripts/static-deps.sh, cached in
# /var/cache/stallwatch-static.
#
#   scripts/static.sh [build-dir]     (default build-static; prints the binary's path)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-static}
prefix=$(scripts/static-deps.sh /var/cache/stallwatch-static/prefix)
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DSTALLWATCH_TESTS=OFF -DSTALLWATCH_STATIC_PREFIX="$prefix" >/dev/null
cmake --build "$out" -j"$(nproc)" --target stallwatch >/dev/null
strip "$out/agent/stallwatch"
echo "$out/agent/stallwatch"
