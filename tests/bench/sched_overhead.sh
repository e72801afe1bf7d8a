#!/usr/bin/env bash
# What the blame engine's scheduler hooks cost every context switch on the
# node: stress-ng's switch stressor (pairs of processes handing a token
# through a pipe) counts context switches per second without an agent, with
# the agent and --blame-hook=off, with blame on and no victim syncing, and
# with blame on while a victim (sw_victim_helper, named etcd: 4 KiB write +
# fdatasync on ext4 over a /dev/shm loop device) syncs on the same CPUs, so
# that its waits make the run rings record slices. Rounds interleave the
# four; ratios are of means. Not a test; run as root:
#
#   tests/bench/sched_overhead.sh [build-dir] [seconds-per-run] [rounds]
set -euo pipefail
build=${1:-build}
secs=${2:-5}
rounds=${3:-5}
agent=$build/agent/stallwatch
victim=$build/tests/sw_victim_helper
for tool in stress-ng mkfs.ext4 "$agent" "$victim"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

img=$(mktemp /dev/shm/stallwatch-bench.XXXXXX)
mnt=$(mktemp -d)
truncate -s 256M "$img"
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

switches() {  # context switches per second of one switch stressor pair per CPU
  stress-ng --switch "$(nproc)" -t "$secs" --metrics-brief 2>&1 |
    awk '$4 == "switch" && NF == 10 { v = $(NF-1) } END { printf "%d", v }'
}

with_agent() {  # args for the agent; prints the switch rate while it runs
  bash -c "exec -a stallwatch-bench-agent $agent run --web.listen-address=127.0.0.1:0 --events-file=/dev/null $*" \
    2>/dev/null &
  local pid=$!
  sleep 3
  switches
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

with_victim() {  # a victim syncing every 200 us next to the stressors
  "$victim" "$mnt/wal" --calls 100000000 --delay-ms 0 --interval-us 200 >/dev/null &
  victim_pid=$!
  with_agent "$@"
  kill "$victim_pid"; wait "$victim_pid" 2>/dev/null || true
  victim_pid=
}

declare -A sum=([none]=0 [off]=0 [on]=0 [victim]=0)
for ((r = 1; r <= rounds; r++)); do
  sum[none]=$((sum[none] + $(switches)))
  sum[off]=$((sum[off] + $(with_agent --blame-hook=off)))
  sum[on]=$((sum[on] + $(with_agent)))
  sum[victim]=$((sum[victim] + $(with_victim)))
done

ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }
none=$((sum[none] / rounds)); off=$((sum[off] / rounds)); on=$((sum[on] / rounds)); vic=$((sum[victim] / rounds))
echo "switch stressor bogo ops per second (a token through a pipe: two context switches each; stress-ng --switch $(nproc)), mean of $rounds x ${secs}s:"
echo "  no agent:                          $none"
echo "  agent, blame off:                  $off  (ratio $(ratio "$off" "$none"))"
echo "  agent, blame on, no victim:        $on  (ratio $(ratio "$on" "$none"))"
echo "  agent, blame on, victim syncing:   $vic  (ratio $(ratio "$vic" "$none"))"
