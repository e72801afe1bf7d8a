#!/bin/sh
# /init of tests/bench/vm_block.sh's guest: null_blk as fast as it goes,
# fio on it without a tracer, with the agent and with biolatency, rounds
# interleaved; then again with a victim syncing on an ext4 on that device.
# Prints "BENCH victim=V round=R mode=M iops=N" per run, then BENCH-DONE.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /sys/fs/cgroup /tmp /mnt
mount -t cgroup2 none /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mount -t debugfs none /sys/kernel/debug 2>/dev/null
ip link set lo up
for m in /modules/*; do insmod "$m" 2>/dev/null; done
# Memory-backed, so that the victim's ext4 holds; completions inline (no
# timer, no softirq), one hardware queue per vCPU.
rmmod null_blk 2>/dev/null
for m in /modules/*null_blk*; do
  insmod "$m" nr_devices=1 queue_mode=2 irqmode=0 submit_queues=4 memory_backed=1 gb=1 bs=4096
done
rounds=$(cat /rounds) secs=$(cat /secs)
/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 /dev/nullb0 256M
mount -t ext4 /dev/nullb0 /mnt
mkdir /sys/fs/cgroup/v
echo "BENCH-NOTE kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs, null_blk memory-backed, ext4 on its first 256 MiB"

tracer=
has_link() { # pid: holds a BPF link
  for f in /proc/$1/fd/*; do
    case $(readlink "$f") in *bpf_link*) return 0 ;; esac
  done
  return 1
}
start() { # mode
  case $1 in
  stallwatch)
    /stallwatch run --web.listen-address=127.0.0.1:9688 --events-file=/dev/null --state-dir=/tmp/st \
      --victim=cgroup=/v >/tmp/agent.log 2>&1 &
    tracer=$!
    i=0
    until wget -qO /dev/null http://127.0.0.1:9688/healthz; do
      i=$((i + 1)); [ $i -gt 600 ] && { echo "BENCH-NOTE agent did not start"; cat /tmp/agent.log; break; }
      sleep 0.2
    done
    ;;
  biolatency)
    /biolatency 3600 1 >/tmp/bio.log 2>&1 &
    tracer=$!
    # Attached once it holds a BPF link (its stdout to a file is buffered:
    # its "Tracing ..." line comes at exit).
    i=0
    until has_link $tracer; do
      i=$((i + 1)); [ $i -gt 600 ] && { echo "BENCH-NOTE biolatency did not attach"; cat /tmp/bio.log; break; }
      kill -0 $tracer 2>/dev/null || { echo "BENCH-NOTE biolatency exited"; cat /tmp/bio.log; break; }
      sleep 0.2
    done
    ;;
  esac
  sleep 1
}
stop() {
  [ -n "$tracer" ] && kill -INT $tracer && wait $tracer
  tracer=
}
run() { # victim round mode
  start "$3"
  iops=$(/fio --name=r --filename=/dev/nullb0 --rw=randread --bs=4k --direct=1 --ioengine=libaio --iodepth=16 \
    --numjobs=4 --time_based --runtime="$secs" --norandommap --group_reporting --output-format=terse |
    cut -d';' -f8)
  echo "BENCH victim=$1 round=$2 mode=$3 iops=$iops"
  stop
}

for r in $(seq "$rounds"); do
  for mode in none stallwatch biolatency; do run 0 "$r" "$mode"; done
done
# A WAL writer in /v: 4 KiB + fdatasync back to back, the whole time.
sh -c 'echo $$ > /sys/fs/cgroup/v/cgroup.procs; exec /sw_victim_helper /mnt/wal --calls 100000000 --delay-ms 0' \
  >/tmp/victim.log 2>&1 &
victim=$!
for r in $(seq "$rounds"); do
  for mode in none stallwatch biolatency; do run 1 "$r" "$mode"; done
done
kill $victim
echo "BENCH-DONE"
poweroff -f
