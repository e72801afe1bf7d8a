#!/bin/sh
# Runs inside a VM booted with possible_cpus=192, as a large control-plane
# node is: the agent starts inside a memory cgroup limited as the DaemonSets
# limit it (256 MiB), and its BPF maps, with the default flags, take at most
# 32 MiB. Per-CPU maps would grow with the possible CPUs (2.4 MiB each
# before they were made shared), so this is where they would show.
hook=mem
port=9688
fail=0

. /vm_lib.sh

echo "mem: possible CPUs $(cat /sys/devices/system/cpu/possible), online $(cat /sys/devices/system/cpu/online)"
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/agent
echo 256M > /sys/fs/cgroup/agent/memory.max
echo $$ > /sys/fs/cgroup/agent/cgroup.procs
dd if=/dev/zero of=/mnt/bulk-mem bs=1M count=4 2>/dev/null
sync
percpu_before=$(awk '/^Percpu:/ { print $2 }' /proc/meminfo)
start_agent
# A victim and a writer, so that every map has entries.
in_cgroup mv /sw_fsync_helper /mnt --fdatasync 50 > /dev/null
in_cgroup mn /sw_block_helper /mnt/bulk-mem --write 200 > /dev/null
# Each map once: several objects share some maps, each through an fd.
for f in /proc/$agent/fdinfo/*; do
  grep -q '^map_type' "$f" 2>/dev/null || continue
  awk '/^map_id:/ { id = $2 } /^memlock:/ { m = $2 } END { print id, m }' "$f"
done | sort -u > /tmp/maps.txt
maps=$(wc -l < /tmp/maps.txt)
total=$(awk '{ s += $2 } END { printf "%d", s }' /tmp/maps.txt)
mib=$((total / 1048576))
echo "mem: the kernel's per-CPU memory grew by $(( $(awk '/^Percpu:/ { print $2 }' /proc/meminfo) - percpu_before )) KiB"
echo "mem: $maps BPF maps, memlock $total bytes ($mib MiB); cgroup memory.current $(cat /sys/fs/cgroup/agent/memory.current), peak $(cat /sys/fs/cgroup/agent/memory.peak 2>/dev/null || echo n/a), oom_kill $(awk '/oom_kill / { print $2 }' /sys/fs/cgroup/agent/memory.events)"
if [ "$total" -gt $((32 * 1048576)) ]; then
  echo "FAIL [mem] BPF maps take $mib MiB at 192 possible CPUs: over 32 MiB"
  fail=1
fi
if ! wget -qO /tmp/m.txt "http://127.0.0.1:$port/metrics"; then
  echo "FAIL [mem] the agent stopped answering"
  fail=1
elif ! grep -q 'stallwatch_fsync_duration_seconds_count{.*cgroup="/mv"' /tmp/m.txt; then
  echo "FAIL [mem] the victim's fsyncs are missing"
  fail=1
else
  echo "ok [mem] $(grep 'stallwatch_fsync_duration_seconds_count{.*cgroup="/mv"' /tmp/m.txt | head -1)"
fi
kill "$agent"
wait "$agent"
exit $fail
