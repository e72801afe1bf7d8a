#!/usr/bin/env bash
# What the block programs cost: 4 KiB random reads with fio on a loop device
# backed by /dev/shm (no disk underneath, so per-request overhead shows),
# without an agent, with `stallwatch run` (its flight recorder on, the
# default, and off), and with libbpf-tools' biolatency, in one run, as IOPS
# and ratios. Not a test; run as root:
#
#   tests/bench/block_overhead.sh [build-dir] [seconds-per-run] [rounds]
set -euo pipefail
build=${1:-build}
secs=${2:-10}
rounds=${3:-3}
agent=$build/agent/stallwatch
for tool in fio /usr/sbin/biolatency "$agent"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install fio libbpf-tools)" >&2; exit 1; }
done

img=$(mktemp /dev/shm/stallwatch-bench.XXXXXX)
state=$(mktemp -d /tmp/stallwatch-bench-state.XXXXXX)
truncate -s 1G "$img"
dev=$(losetup --find --show "$img")
cleanup() {
  pkill -f "stallwatch-bench-agent" 2>/dev/null || true
  [[ -n "${bio_pid:-}" ]] && kill "$bio_pid" 2>/dev/null || true
  losetup -d "$dev" 2>/dev/null || true
  rm -f "$img"
  rm -rf "$state"
}
trap cleanup EXIT
dd if=/dev/zero of="$dev" bs=1M count=1024 status=none

iops() {
  fio --name=randread --filename="$dev" --rw=randread --bs=4k --direct=1 --ioengine=psync \
      --runtime="$secs" --time_based --numjobs=1 --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

declare -A sum=([none]=0 [stallwatch]=0 [norecorder]=0 [biolatency]=0)
with_agent() {  # $1: extra flags
  bash -c "exec -a stallwatch-bench-agent $agent run --web.listen-address=127.0.0.1:0 --state-dir=$state $1" \
    >/dev/null 2>&1 &
  agent_pid=$!
  sleep 2
  iops
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
}
for ((r = 1; r <= rounds; r++)); do
  sum[none]=$((sum[none] + $(iops)))
  sum[stallwatch]=$((sum[stallwatch] + $(with_agent "")))
  sum[norecorder]=$((sum[norecorder] + $(with_agent --recorder-max-size=0)))

  /usr/sbin/biolatency -d "$(basename "$dev")" 3600 1 >/dev/null 2>&1 &
  bio_pid=$!
  sleep 2
  sum[biolatency]=$((sum[biolatency] + $(iops)))
  kill -INT "$bio_pid"; wait "$bio_pid" 2>/dev/null || true
  bio_pid=
done

none=$((sum[none] / rounds))
sw=$((sum[stallwatch] / rounds))
nr=$((sum[norecorder] / rounds))
bl=$((sum[biolatency] / rounds))
echo "4 KiB random read IOPS on $(basename "$dev") (/dev/shm), mean of $rounds x ${secs}s:"
echo "  no agent:    $none"
echo "  stallwatch:  $sw  (ratio $(python3 -c "print(f'{$sw/$none:.3f}')"))"
echo "  recorder off: $nr  (ratio $(python3 -c "print(f'{$nr/$none:.3f}')"); recorder on/off $(python3 -c "print(f'{$sw/$nr:.3f}')"))"
echo "  biolatency:  $bl  (ratio $(python3 -c "print(f'{$bl/$none:.3f}')"))"
