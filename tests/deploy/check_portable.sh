#!/usr/bin/env bash
# The copy-to-a-node bundle runs where Debian's spdlog, fmt, prometheus-cpp,
# libmicrohttpd and the rest are missing: in a private mount namespace the system's copies
# are hidden, and the bundle's binary must still start.
#
#   check_portable.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/portable.sh "$build" "$work/bundle.tar.gz"
tar -C "$work" -xzf "$work/bundle.tar.gz"
hide=""
for lib in $(ls "$work/stallwatch/lib"); do
  hide+="mount --bind /dev/null \$(readlink -f /usr/lib/x86_64-linux-gnu/$lib); "
done
unshare -m sh -c "set -e; $hide
  if $build/agent/stallwatch version >/dev/null 2>&1; then echo 'FAIL: the system libraries were not hidden'; exit 1; fi
  $work/stallwatch/stallwatch version
  $work/stallwatch/stallwatch capture --help | grep -q -- --trigger"
echo "portable bundle runs without the system's copies"
