#!/usr/bin/env bash
# What blame costs the I/O next to a victim: ext4 on a loop device backed by
# /dev/shm (no disk underneath, so per-request overhead shows); a victim
# (sw_victim_helper, named etcd: 4 KiB write + fdatasync in a loop) keeps
# windows open on it while fio does 4 KiB random direct reads of another
# file on the same filesystem. fio's IOPS without an agent, with the agent
# and --blame-hook=off, and with blame on (the default victim, comm=etcd),
# in one run, as ratios. Not a test; run as root:
#
#   tests/bench/blame_overhead.sh [build-dir] [seconds-per-run] [rounds]
set -euo pipefail
build=${1:-build}
secs=${2:-10}
rounds=${3:-3}
agent=$build/agent/stallwatch
victim=$build/tests/sw_victim_helper
for tool in fio mkfs.ext4 "$agent" "$victim"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

img=$(mktemp /dev/shm/stallwatch-bench.XXXXXX)
mnt=$(mktemp -d)
truncate -s 1G "$img"
mkfs.ext4 -q -F "$img"
dev=$(losetup --find --show "$img")
mount "$dev" "$mnt"
cleanup() {
  pkill -f "stallwatch-bench-agent" 2>/dev/null || true
  [[ -n "${victim_pid:-}" ]] && kill "$victim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  umount "$mnt" 2>/dev/null || true
  losetup -d "$dev" 2>/dev/null || true
  rm -rf "$img" "$mnt"
}
trap cleanup EXIT
dd if=/dev/zero of="$mnt/data" bs=1M count=512 status=none
sync

"$victim" "$mnt/wal" --calls 100000000 --delay-ms 0 --interval-us 1000 >/dev/null &
victim_pid=$!

iops() {
  fio --name=randread --filename="$mnt/data" --rw=randread --bs=4k --direct=1 --ioengine=psync \
      --runtime="$secs" --time_based --numjobs=1 --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

with_agent() {  # args for the agent; prints fio's IOPS while it runs
  bash -c "exec -a stallwatch-bench-agent $agent run --web.listen-address=127.0.0.1:0 --events-file=/dev/null $*" \
    2>/dev/null &
  local pid=$!
  sleep 2
  iops
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

declare -A sum=([none]=0 [off]=0 [on]=0)
for ((r = 1; r <= rounds; r++)); do
  sum[none]=$((sum[none] + $(iops)))
  sum[off]=$((sum[off] + $(with_agent --blame-hook=off)))
  sum[on]=$((sum[on] + $(with_agent)))
done

none=$((sum[none] / rounds))
off=$((sum[off] / rounds))
on=$((sum[on] / rounds))
ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }
echo "4 KiB random read IOPS on ext4 on $(basename "$dev") (/dev/shm) next to an etcd-like victim, mean of $rounds x ${secs}s:"
echo "  no agent:             $none"
echo "  agent, blame off:     $off  (ratio $(ratio "$off" "$none"))"
echo "  agent, blame on:      $on  (ratio $(ratio "$on" "$none"), vs blame off $(ratio "$on" "$off"))"
