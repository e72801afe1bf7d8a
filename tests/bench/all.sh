#!/usr/bin/env bash
# Every overhead figure of the README's "Overhead" section in one run, with
# the peers beside stallwatch, printed as one table (markdown). Not a test;
# run as root on an otherwise idle machine:
#
#   tests/bench/all.sh [build-dir] [rounds]
#
# - fsync hot path: ns per 64-byte pwrite + fsync on tmpfs (sw_sync_loop,
#   300k calls, on the last CPU; the tracers on the first), rounds
#   interleaved, medians: no tracer; stallwatch with
#   every subsystem; stallwatch with only the fsync hooks; bpftrace with an
#   empty program on the same tracepoints; bpftrace keeping a per-cgroup
#   latency histogram. Then the tax on unrelated syscalls (pwrite alone).
# - each of the agent's programs: the kernel's own run time per call
#   (kernel.bpf_stats_enabled) during one loop.
# - block path: tests/bench/block_overhead.sh (fio IOPS with stallwatch and
#   with libbpf-tools' biolatency), and tests/bench/block_cost.sh (at 280k
#   requests a second, with each tracer's BPF run time per request).
# - /metrics with 500 and 2000 cgroups that each synced once: bytes, and
#   median time of 20 scrapes plain and gzipped.
# - start to first scrape; agent CPU while a process makes 100k fsync/s for
#   10 s; counts and lost events when both CPUs sync as fast as they can.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-5}
agent=$build/agent/stallwatch
loop=$build/tests/bench/sw_sync_loop
for tool in "$agent" "$loop" bpftrace bpftool curl fio /usr/sbin/biolatency; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install bpftrace bpftool curl fio libbpf-tools)" >&2; exit 1; }
done
port=$((20000 + $$ % 1000))
state=$(mktemp -d /tmp/stallwatch-bench-state.XXXXXX)
shm=$(mktemp -d /dev/shm/stallwatch-bench.XXXXXX)
cg2=$(findmnt -n -o TARGET -t cgroup2 | head -1)
cgroot=$cg2/stallwatch-bench.$$
mkdir -p "$cgroot"
agent_pid= bt_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [[ -n $bt_pid ]] && kill "$bt_pid" 2>/dev/null && wait "$bt_pid" 2>/dev/null
  sysctl -q kernel.bpf_stats_enabled=0 || true
  find "$cgroot" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
  rmdir "$cgroot" 2>/dev/null || true
  rm -rf "$state" "$shm"
}
trap cleanup EXIT

# The tracers on the first CPU, the measured loop on the last: bpftrace's
# hooks cost about 300 ns more a call on the CPU its own process sits on
# (measured here; stallwatch's do not), which would flatter every ratio
# to it in the rounds where the scheduler put the loop there.
tracer_cpu=0
loop_cpu=$(($(nproc) - 1))
start_agent() {
  taskset -c $tracer_cpu "$agent" run --web.listen-address=127.0.0.1:$port --events-file=/dev/null --state-dir="$state" "$@" >/dev/null 2>&1 &
  agent_pid=$!
  for _ in $(seq 400); do curl -sf "127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.025; done
  echo "the agent did not start" >&2
  exit 1
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=; }
start_bpftrace() {
  taskset -c $tracer_cpu bpftrace -e "$1" >"$state/bt.out" 2>&1 &
  bt_pid=$!
  for _ in $(seq 400); do grep -q "Attaching" "$state/bt.out" 2>/dev/null && { sleep 0.5; return 0; }; sleep 0.025; done
  cat "$state/bt.out" >&2
  exit 1
}
stop_bpftrace() { kill -INT "$bt_pid"; wait "$bt_pid" 2>/dev/null || true; bt_pid=; }
ns_per_call() { taskset -c $loop_cpu "$loop" "$shm" 300000 "$@" | awk '{print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
scrape() { curl -sf "127.0.0.1:$port/metrics"; }
series() {  # NAME LABEL-SUBSTRING...: the value of the one matching sample (0 when none)
  local name=$1
  shift
  scrape | awk -v m="$name" -v a="${1:-}" -v b="${2:-}" \
    'index($0, m "{") == 1 && index($0, a) && index($0, b) { v += $NF } index($0, m " ") == 1 { v += $NF } END { print v + 0 }'
}

tp='tracepoint:syscalls:sys_enter_fsync,tracepoint:syscalls:sys_enter_fdatasync'
tx='tracepoint:syscalls:sys_exit_fsync,tracepoint:syscalls:sys_exit_fdatasync'
bt_empty="$tp {} $tx {}"
bt_hist="$tp { @s[tid] = nsecs; } $tx /@s[tid]/ { @h[cgroup] = hist(nsecs - @s[tid]); delete(@s[tid]); }"

declare -A t
for ((r = 1; r <= rounds; r++)); do
  t[none]+="$(ns_per_call) "
  t[none_nosync]+="$(ns_per_call --no-sync) "
  start_agent
  t[all]+="$(ns_per_call) "
  t[all_nosync]+="$(ns_per_call --no-sync) "
  stop_agent
  start_agent --block-hook=off --blame-hook=off --probe-hook=off
  t[fsync]+="$(ns_per_call) "
  t[fsync_nosync]+="$(ns_per_call --no-sync) "
  stop_agent
  start_bpftrace "$bt_empty"
  t[bt_empty]+="$(ns_per_call) "
  t[bt_empty_nosync]+="$(ns_per_call --no-sync) "
  stop_bpftrace
  start_bpftrace "$bt_hist"
  t[bt_hist]+="$(ns_per_call) "
  stop_bpftrace
done
declare -A m
for k in "${!t[@]}"; do m[$k]=$(tr ' ' '\n' <<<"${t[$k]}" | grep . | median); done
added() { python3 -c "print(f'{$1 - ${m[none]}:+.0f}')"; }
ratio() { python3 -c "print(f'{($1 - ${m[none]}) / ($2 - ${m[none]}):.2f}')"; }

echo "## stallwatch overhead, $(date -u +%F), $(nproc) CPUs, kernel $(uname -r)"
echo
echo "| fsync hot path (64 B pwrite + fsync on tmpfs, median of $rounds x 300k) | ns/call | added | added vs bpftrace hist | added vs empty hooks |"
echo "|---|---|---|---|---|"
echo "| no tracer | ${m[none]} | - | | |"
echo "| stallwatch, every subsystem | ${m[all]} | $(added "${m[all]}") | $(ratio "${m[all]}" "${m[bt_hist]}") | $(ratio "${m[all]}" "${m[bt_empty]}") |"
echo "| stallwatch, fsync hooks only | ${m[fsync]} | $(added "${m[fsync]}") | $(ratio "${m[fsync]}" "${m[bt_hist]}") | $(ratio "${m[fsync]}" "${m[bt_empty]}") |"
echo "| bpftrace, empty enter/exit programs | ${m[bt_empty]} | $(added "${m[bt_empty]}") | | |"
echo "| bpftrace, per-cgroup histogram | ${m[bt_hist]} | $(added "${m[bt_hist]}") | | |"
echo
echo "| unrelated syscall (64 B pwrite alone) | ns/call | added |"
echo "|---|---|---|"
declare -A label=([none]="no tracer" [all]="stallwatch, every subsystem" [fsync]="stallwatch, fsync hooks only"
                  [bt_empty]="bpftrace, empty fsync programs")
for k in none all fsync bt_empty; do
  v=${m[${k}_nosync]}
  echo "| ${label[$k]} | $v | $(python3 -c "print(f'{$v - ${m[none_nosync]}:+.0f}')") |"
done

# The kernel's own accounting of each program during one loop.
before=$(bpftool prog show -j | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))')
sysctl -q kernel.bpf_stats_enabled=1
start_agent
"$loop" "$shm" 300000 >/dev/null
echo
echo "| program (kernel.bpf_stats_enabled, one loop of 300k fsync) | runs | ns/run |"
echo "|---|---|---|"
bpftool prog show -j | python3 -c '
import json, sys
before = set(int(i) for i in sys.argv[1].split())
for p in json.load(sys.stdin):
    if p["id"] in before or not p.get("run_cnt"):
        continue
    name, kind, runs, ns = p.get("name", p["id"]), p["type"], p["run_cnt"], p["run_time_ns"]
    print(f"| {name} ({kind}) | {runs} | {ns / runs:.0f} |")
' "$before" | sort -t'|' -k3 -rn
stop_agent
sysctl -q kernel.bpf_stats_enabled=0

echo
echo "Block path (tests/bench/block_overhead.sh, 5 s x 3):"
echo
tests/bench/block_overhead.sh "$build" 5 3 | sed 's/^/    /'
echo
tests/bench/block_cost.sh "$build" 5 2

# /metrics at 500 and 2000 cgroups, each having synced once.
echo
echo "| /metrics (cgroups that each synced once) | series | plain bytes | gzip bytes | plain ms | gzip ms |"
echo "|---|---|---|---|---|---|"
start_agent --max-series=5000
made=0
for n in 500 2000; do
  for ((i = made + 1; i <= n; i++)); do
    mkdir "$cgroot/c$i"
    sh -c "echo \$\$ > $cgroot/c$i/cgroup.procs && exec $loop $shm 1" >/dev/null
  done
  made=$n
  sleep 1
  scrape >"$state/m.txt"
  curl -sf -H 'Accept-Encoding: gzip' "127.0.0.1:$port/metrics" >"$state/m.gz"
  ms() {
    for _ in $(seq 20); do curl -s -o /dev/null -H "Accept-Encoding: $1" -w '%{time_total}\n' "127.0.0.1:$port/metrics"; done |
      awk '{print $1 * 1000}' | median
  }
  echo "| $n | $(grep -vc '^#' "$state/m.txt") | $(stat -c %s "$state/m.txt") | $(stat -c %s "$state/m.gz") | $(ms identity) | $(ms gzip) |"
done
stop_agent
find "$cgroot" -mindepth 1 -depth -type d -exec rmdir {} +

# Start to first scrape: exec to the first 200 on /metrics, 5 times.
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  "$agent" run --web.listen-address=127.0.0.1:$port --events-file=/dev/null --state-dir="$state" >/dev/null 2>&1 &
  agent_pid=$!
  until curl -sf -o /dev/null "127.0.0.1:$port/metrics" 2>/dev/null; do sleep 0.002; done
  echo $((($(date +%s%N) - t0) / 1000000))
  stop_agent
done >"$state/start.txt"
echo
echo "Start to first scrape: median $(median <"$state/start.txt") ms (of $(tr '\n' ' ' <"$state/start.txt")ms)"

# Agent CPU at 100k fsync/s for 10 s, and exact counts at the highest rate.
ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
start_agent
mkdir "$cgroot/paced"
c0=$(ticks)
sh -c "echo \$\$ > $cgroot/paced/cgroup.procs && exec $loop $shm 1000000 --rate 100000" >/dev/null
c1=$(ticks)
hz=$(getconf CLK_TCK)
paced=$(series stallwatch_fsync_duration_seconds_count "cgroup=\"/stallwatch-bench.$$/paced\"" 'op="fsync"')
echo "Agent CPU at 100k fsync/s for 10 s: $(python3 -c "print(f'{($c1 - $c0) / $hz / 10 * 100:.2f}')")% of a core; counted $paced of 1000000"
mkdir "$cgroot/fast"
lost0=$(series stallwatch_events_lost_total)
t0=$(date +%s%N)
pids=()
for _ in 1 2; do
  sh -c "echo \$\$ > $cgroot/fast/cgroup.procs && exec $loop $shm 1000000" >/dev/null &
  pids+=($!)
done
wait "${pids[@]}"
secs=$(python3 -c "print(($(date +%s%N) - $t0) / 1e9)")
fast=$(series stallwatch_fsync_duration_seconds_count "cgroup=\"/stallwatch-bench.$$/fast\"" 'op="fsync"')
lost=$(($(series stallwatch_events_lost_total) - lost0))
echo "Both CPUs syncing: $(python3 -c "print(f'{2e6 / $secs:,.0f}')") fsync/s; counted $fast of 2000000, $lost events lost"
stop_agent
