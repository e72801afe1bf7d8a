#!/usr/bin/env bash
# The static binary (incident capture on nodes whose glibc is older than
# Debian 12's 2.36: Ubuntu 22.04, Amazon Linux 2023, RHEL 8) runs `doctor`
# and `capture` inside a Debian 11 root filesystem (glibc 2.31) made with
# mmdebstrap, where the packaged binary cannot start: the capture counts a
# host workload's fsyncs exactly.
#
#   check_static.sh BUILD_DIR     (root; builds BUILD_DIR/static)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "$1")
cache=/var/cache/stallwatch-image
work=$(mktemp -d /tmp/stallwatch-static.XXXXXX)
root=$work/root
cg2=$(findmnt -n -o TARGET -t cgroup2 | awk 'NR == 1')
cgroup=$cg2/stallwatch-static.$$
cleanup() {
  [[ -n ${capture_pid:-} ]] && kill "$capture_pid" 2>/dev/null && wait "$capture_pid" 2>/dev/null
  rmdir "$cgroup" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

start=$(date +%s)
scripts/static.sh "$build/static" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "static build"; }
bin=$build/static/agent/stallwatch
echo "static binary built in $(($(date +%s) - start)) s: $(stat -c %s "$bin") bytes; $(file -b "$bin" | cut -d, -f1-4)"
[[ $(ldd "$bin" 2>&1) == *"not a dynamic executable"* ]] || fail "the binary is dynamically linked"

mkdir -p "$cache" "$root"
if [[ ! -s $cache/bullseye.tar ]]; then
  mmdebstrap --variant=minbase --format=tar bullseye "$cache/bullseye.tar.part" http://deb.debian.org/debian >/dev/null 2>&1
  mv "$cache/bullseye.tar.part" "$cache/bullseye.tar"
fi
tar -C "$root" -xf "$cache/bullseye.tar"
cp "$bin" "$root/stallwatch-static"
# The portable bundle (Debian 12's shared libraries beside the binary) for comparison.
scripts/portable.sh "$build" "$work/portable.tar.gz" >/dev/null
tar -C "$root" -xzf "$work/portable.tar.gz"
chroot "$root" ldd --version >"$work/ldd.txt"  # not piped into head: an early exit would fail ldd (pipefail)
glibc=$(awk 'NR == 1 {print $NF}' "$work/ldd.txt")
echo "Debian $(cat "$root/etc/debian_version"), glibc $glibc"
[[ $glibc == 2.31 ]] || fail "expected glibc 2.31 in the Debian 11 root, got $glibc"

# Inside: the host's /proc, /sys (cgroups, BTF, tracefs) and /dev, as on a node.
inside() {
  unshare -m --propagation private sh -c "
    mount -t proc proc '$root/proc' && mount --rbind /sys '$root/sys' && mount --rbind /dev '$root/dev' &&
    exec chroot '$root' $*"
}
if inside /stallwatch/stallwatch version >"$work/portable.log" 2>&1; then fail "the portable bundle started under glibc 2.31"; fi
echo "the portable bundle there: $(grep -o "GLIBC_[0-9.]*' not found" "$work/portable.log" | sort -V | tail -1)"

inside /stallwatch-static doctor >"$work/doctor.log" 2>&1 || { cat "$work/doctor.log"; fail "doctor"; }
grep '^verdict' "$work/doctor.log"
grep -q '^verdict *ok' "$work/doctor.log" || fail "doctor's verdict"

inside /stallwatch-static capture --duration=8s --out=/capture --no-progress >"$work/capture.log" 2>&1 &
capture_pid=$!
for _ in $(seq 100); do [[ -s $root/capture/host.json ]] && break; sleep 0.1; done
[[ -s $root/capture/host.json ]] || { cat "$work/capture.log"; fail "capture never started recording"; }
mkdir -p "$cgroup" "$work/data"
sh -c "echo \$\$ > $cgroup/cgroup.procs && exec $build/tests/sw_fsync_helper $work/data --fsync 300 --fdatasync 200" >/dev/null
wait "$capture_pid" || { cat "$work/capture.log"; fail "capture exited $?"; }
capture_pid=
count() {
  awk -v a="cgroup=\"/stallwatch-static.$$\"" -v b="op=\"$1\"" \
    'index($0, "stallwatch_fsync_duration_seconds_count{") == 1 && index($0, a) && index($0, b) { v = $NF } END { print v + 0 }' \
    "$root/capture/metrics-end.prom"
}
echo "capture under glibc 2.31: fsync $(count fsync)/300, fdatasync $(count fdatasync)/200, $(du -k "$root/capture/report.html" | cut -f1) KB report"
[[ $(count fsync) == 300 && $(count fdatasync) == 200 ]] || fail "the capture's counts"
[[ -s $root/capture/report.html && -s $root/capture/summary.json ]] || fail "the bundle lacks its report or summary"
echo "PASS"
