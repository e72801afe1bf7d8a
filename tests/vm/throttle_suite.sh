#!/bin/sh
# Runs inside the kernel VM when QEMU gave it a throttled disk (/dev/sw-throttle):
# fast for a burst, then capped, as a cloud volume out of burst credits
# (run_matrix.sh: -drive throttling.iops-total with a -max burst). A victim
# alone on it writes 4 KiB and fdatasyncs in a loop; no neighbour at all.
# The disk must be judged throttled once the burst runs out, and the
# victim's slow calls must move from other verdicts to `throttled`. Then a
# cgroup I/O limit (io.max) on another victim, and iocost holding a third:
# `io_limit`.
hook=throttle
port=9690
fail=0

. /vm_lib.sh

vd=$(basename "$(disk_of throttle)")
/usr/sbin/mke2fs -q -t ext4 -F /dev/$vd && mkdir -p /thr && mount -t ext4 /dev/$vd /thr || { echo "FAIL [$hook] no ext4 on /dev/$vd"; exit 1; }
start_agent --victim=cgroup=/tv --victim=cgroup=/lim --victim=cgroup=/ioc --slow-threshold=1ms --events-rate=0
ev=/tmp/events-$hook.jsonl
in_cgroup tv /sw_victim_helper /thr/wal --calls 1000000 --delay-ms 1500 > /dev/null &
victim=$!
# The victim waits 1.5 s before its first call: the agent's victim scan.
# Once a second: requests completed on the disk, the disk's judgement and its
# recent service time, until it has been throttled for 8 s (at most 120 s).
echo "throttle: second  iops  service_ms  throttled  verdicts"
prev=0 t=0 since=0
while [ $t -lt 120 ]; do
  sleep 1
  t=$((t + 1))
  n=$(metric stallwatch_block_io_requests_total "device=\"$vd\"")
  thr=$(metric stallwatch_disk_throttled "device=\"$vd\"")
  svc=$(metric_us stallwatch_disk_service_seconds "device=\"$vd\"" 'window="recent"')
  # Verdicts of the slow calls that ended in this second (the log's new lines).
  lines=$(wc -l < $ev)
  verdicts=$(tail -n +$((${seen:-0} + 1)) $ev | grep -o '"verdict":"[a-z]*"' | cut -d'"' -f4 | sort | uniq -c | tr '\n' ' ')
  seen=$lines
  echo "throttle: $t  $((n - prev))  $((svc / 1000)).$(printf %03d $((svc % 1000)))  $thr  $verdicts"
  prev=$n
  [ "$thr" = 1 ] && [ $since = 0 ] && since=$t
  [ $since != 0 ] && [ $((t - since)) -ge 8 ] && break
done
# $victim is in_cgroup's subshell; the helper is its child.
kill_cgroup tv
kill $victim 2>/dev/null
wait $victim 2>/dev/null
check "disk judged throttled" yes "$([ $since != 0 ] && echo yes || echo no)"
check "one throttled transition" 1 "$(grep '"event":"disk_condition"' $ev | grep -c '"state":"throttled"')"
grep '"event":"disk_condition"' $ev | sed 's/^/  /'
# Before the transition no call is throttled; from 2 s after it, most are.
grep '"event":"slow_fsync"' $ev > /tmp/slow.txt
at=$(grep -n '"event":"disk_condition"' $ev | grep '"state":"throttled"' | head -1 | cut -d: -f1)
before=$(head -n $((${at:-1} - 1)) $ev | grep '"event":"slow_fsync"' | grep -c '"verdict":"throttled"')
check "throttled verdicts before the disk was" 0 "$before"
check "slow calls before the cap" yes "$([ "$(head -n $((${at:-1} - 1)) $ev | grep -c '"event":"slow_fsync"')" -ge 20 ] && echo yes || echo no)"
# The lines logged from two seconds after the transition on (each second
# about a dozen capped calls).
tail -n +$((${at:-1} + 1)) $ev | grep '"event":"slow_fsync"' | tail -n +25 > /tmp/late.txt
late=$(wc -l < /tmp/late.txt)
late_thr=$(grep -c '"verdict":"throttled"' /tmp/late.txt)
echo "throttle: after the cap, $late_thr of $late slow calls throttled"
check "most calls after the cap throttled" yes "$([ "$late" -ge 20 ] && [ $((late_thr * 10)) -ge $((late * 8)) ] && echo yes || echo no)"
check "slow events carry the disk's condition" yes \
  "$(tail -1 /tmp/late.txt | grep -q '"disk_condition":{"state":"throttled"' && echo yes || echo no)"

# One victim held by a limit: its slow calls since line $first of the log
# (not another victim's naming it as a culprit) must mostly be io_limit,
# the last naming the limit on its cgroup, binding.
judge_limit() { # cgroup what limit-as-named min-events
  cg=$1 what=$2 limit=$3 min=$4
  tail -n +$((first + 1)) $ev | grep '"event":"slow_fsync"' | grep -E "\"victim\":\{(\"[a-z]+\":\"[^\"]*\",)*\"cgroup\":\"/$cg\"" > /tmp/$cg-events.txt
  n=$(wc -l < /tmp/$cg-events.txt)
  n_io=$(grep -c '"verdict":"io_limit"' /tmp/$cg-events.txt)
  echo "throttle: $what: $(cat /tmp/$cg.txt); $n_io of $n slow calls io_limit; verdicts $(grep -o '"verdict":"[a-z_]*"' /tmp/$cg-events.txt | cut -d'"' -f4 | sort | uniq -c | tr '\n' ' ')"
  check "$what: most slow calls io_limit" yes "$([ "$n" -ge "$min" ] && [ $((n_io * 2)) -ge "$n" ] && echo yes || echo no)"
  check "$what: the limit named, binding" yes \
    "$(grep '"verdict":"io_limit"' /tmp/$cg-events.txt | tail -1 | grep -q "\"io_limit\":{\"cgroup\":\"/$cg\",\"limit\":\"$limit\",\"rate\":[0-9.e+-]*,\"binding\":true}" && echo yes || echo no)"
  grep '"verdict":"io_limit"' /tmp/$cg-events.txt | tail -1 | grep -o '"io_limit":{[^}]*}' | sed 's/^/  /'
}

# A cgroup I/O limit, not the disk: io.max on a victim of its own on the
# unthrottled loop0 (cgroup v2, io controller on). blk-throttle holds its
# bios before the disk, which its windows see idle; the limit binds (the
# cgroup's io.stat runs at it) and is the verdict.
echo +io > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/lim
echo "$(cat /sys/block/loop0/dev) wiops=20" > /sys/fs/cgroup/lim/io.max
first=$(wc -l < $ev)
in_cgroup lim /sw_victim_helper /mnt/wal-lim --calls 80 --delay-ms 1500 > /tmp/lim.txt
sleep 1
judge_limit lim "io.max wiops=20" "wiops=20" 40
# What loop0's own numbers said meanwhile (a limit is no provider's cap).
grep -o '"verdict":"[a-z_]*".*"disk_condition":{[^}]*}' /tmp/lim-events.txt | sed 's/"duration_ms.*"disk_condition"/ /' | sort | uniq -c | sort -rn | head -4 | sed 's/^/  "io_limit" disk: /'

# iocost on loop0, its vrate pinned and its model a 20-IOPS device: a victim
# alone past that budget has its bios held (root's, the journal's, never
# are). The kernel prints how long they waited only with debug stats on.
# 120 calls, about 6 s: a rate needs two readings a second apart, so the
# first second or two are `device` (40 calls left 18 of 41 so).
echo 1 > /sys/module/blk_cgroup/parameters/blkcg_debug_stats
dev=$(cat /sys/block/loop0/dev)
echo "$dev ctrl=user model=linear rbps=100000000 rseqiops=20 rrandiops=20 wbps=100000000 wseqiops=20 wrandiops=20" > /sys/fs/cgroup/io.cost.model
echo "$dev enable=1 ctrl=user min=100.00 max=100.00" > /sys/fs/cgroup/io.cost.qos
mkdir -p /sys/fs/cgroup/ioc
rm -f /mnt/wal-lim  # the small loop filesystem holds one prefilled log at a time
first=$(wc -l < $ev)
in_cgroup ioc /sw_victim_helper /mnt/wal-ioc --calls 120 --delay-ms 1500 > /tmp/ioc.txt
sleep 1
judge_limit ioc "iocost at 20 IOPS" "iocost weight=100" 40
grep -o 'cost[.a-z]*=[0-9]*' /sys/fs/cgroup/ioc/io.stat | tr '\n' ' ' | sed 's/^/  \/ioc io.stat: /;s/$/\n/'
echo "$dev enable=0" > /sys/fs/cgroup/io.cost.qos
echo "-io" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null

kill $agent
wait $agent
umount /thr
exit $fail
