#!/usr/bin/env bash
# The block path at a high request rate: fio 4 KiB random reads (2 jobs x
# depth 16, libaio) on a raw loop device over /dev/shm, without a tracer,
# with the agent and with libbpf-tools' biolatency, rounds interleaved;
# IOPS, and the kernel's own run time of each block program per request
# (kernel.bpf_stats_enabled), the figure that does not move with the
# machine's noise. Not a test; run as root on an otherwise idle machine:
#
#   tests/bench/block_cost.sh [build-dir] [seconds] [rounds]
set -euo pipefail
build=${1:-build}
secs=${2:-5}
rounds=${3:-2}
agent=$build/agent/stallwatch
for tool in "$agent" fio bpftool curl /usr/sbin/biolatency; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install fio bpftool curl libbpf-tools)" >&2; exit 1; }
done
img=$(mktemp /dev/shm/stallwatch-block-cost.XXXXXX)
state=$(mktemp -d /tmp/stallwatch-block-cost.XXXXXX)
truncate -s 512M "$img"
dev=$(losetup -f --show "$img")
pid=
cleanup() {
  [[ -n $pid ]] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  sysctl -q kernel.bpf_stats_enabled=0 || true
  losetup -d "$dev" || true
  rm -rf "$img" "$state"
}
trap cleanup EXIT
port=$((21000 + $$ % 1000))

run() { # mode
  local before
  before=$(bpftool prog show -j | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))')
  case $1 in
    stallwatch)
      "$agent" run --web.listen-address=127.0.0.1:$port --events-file=/dev/null --state-dir="$state" >/dev/null 2>&1 &
      pid=$!
      until curl -sf -o /dev/null "127.0.0.1:$port/metrics"; do sleep 0.05; done
      ;;
    biolatency)
      /usr/sbin/biolatency 3600 1 >/dev/null 2>&1 &
      pid=$!
      until find "/proc/$pid/fd" -lname '*bpf_link*' 2>/dev/null | grep -q .; do sleep 0.05; done
      ;;
  esac
  local iops
  iops=$(fio --name=r --filename="$dev" --rw=randread --bs=4k --direct=1 --ioengine=libaio --iodepth=16 --numjobs=2 \
    --time_based --runtime="$secs" --norandommap --group_reporting --output-format=terse | cut -d';' -f8)
  bpftool prog show -j | python3 -c '
import json, sys
before = set(int(i) for i in sys.argv[1].split())
progs = [p for p in json.load(sys.stdin) if p["id"] not in before and "block" in p.get("name", "") and p.get("run_cnt", 0) > 1000]
total = sum(p["run_time_ns"] / p["run_cnt"] for p in progs)
each = ", ".join("%s %.0f" % (p["name"], p["run_time_ns"] / p["run_cnt"]) for p in sorted(progs, key=lambda p: p["name"]))
print("%s %s %.0f %s" % (sys.argv[2], sys.argv[3], total, each or "-"))
' "$before" "$1" "$iops"
  if [[ -n $pid ]]; then kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=; fi
}

sysctl -q kernel.bpf_stats_enabled=1
for ((r = 1; r <= rounds; r++)); do
  for mode in none stallwatch biolatency; do run "$mode"; done
done >"$state/runs.txt"
python3 - "$state/runs.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, iops, ns, each = line.rstrip("\n").split(" ", 3)
    rows.setdefault(mode, []).append((float(iops), float(ns), each))
base = statistics.median(i for i, _, _ in rows["none"])
print("| fio 4 KiB randread, 2 jobs x depth 16, raw /dev/shm loop device | IOPS (median) | of no tracer "
      "| BPF ns per request (kernel's own count) | per program, last round (ns) |")
print("|---|---|---|---|---|")
for mode in ("none", "stallwatch", "biolatency"):
    v = rows[mode]
    m = statistics.median(i for i, _, _ in v)
    ns = statistics.median(n for _, n, _ in v)
    print(f"| {mode} | {m:,.0f} | {m / base:.3f} | {ns:.0f} | {v[-1][2]} |")
PY
