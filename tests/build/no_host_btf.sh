#!/usr/bin/env bash
# The BPF objects build from the checked-in vmlinux.h alone: configure and
# compile them in a mount namespace where the build host's kernel BTF is
# hidden, and check that they come out byte for byte as the main build's.
# Usage: no_host_btf.sh SOURCE_DIR MAIN_BUILD_DIR
set -euo pipefail
src=$1
main=$2
tree=$(mktemp -d /tmp/sw-nobtf.XXXXXX)
trap 'rm -rf "$tree"' EXIT

if grep -q '^STALLWATCH_BTF:FILEPATH=.' "$main/CMakeCache.txt"; then
  echo "main build was configured with -DSTALLWATCH_BTF; nothing to compare with" >&2
  exit 1
fi

unshare -m --propagation private bash -euo pipefail -c '
  mount -t tmpfs -o size=1m none /sys/kernel/btf
  if [[ -e /sys/kernel/btf/vmlinux ]]; then echo "could not hide the kernel BTF" >&2; exit 1; fi
  cmake -S "$1" -B "$2" -DSTALLWATCH_TESTS=OFF >/dev/null
  cmake --build "$2" -j2 --target fsync_skel_gen blkio_skel_gen cgroup_skel_gen blame_skel_gen probe_skel_gen >/dev/null
' _ "$src" "$tree"

status=0
for obj in fsync blkio cgroup blame probe; do
  if cmp -s "$tree/bpf/$obj.bpf.o" "$main/bpf/$obj.bpf.o"; then
    echo "$obj.bpf.o: built without host BTF, identical to the main build"
  else
    echo "$obj.bpf.o: differs from the main build" >&2
    status=1
  fi
done
exit $status
