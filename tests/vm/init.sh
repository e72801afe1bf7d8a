#!/bin/sh
# /init of the test VM: mount what the agent needs (tracefs left for it to
# mount), bring up lo, put ext4 on a loop device, run the suite per rung.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /sys/fs/cgroup /sys/fs/bpf /tmp /mnt
mount -t cgroup2 none /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmp /tmp
ip link set lo up
for m in /modules/*; do [ -e "$m" ] && insmod "$m"; done
losetup /dev/loop0 /ext4.img && mount -t ext4 /dev/loop0 /mnt
# QEMU's disks by their serial (run_matrix.sh): /dev/sw-throttle, /dev/sw-lin, ...
for d in /sys/block/vd*; do
  [ -e "$d/serial" ] && ln -s "/dev/${d##*/}" "/dev/sw-$(cat "$d/serial")"
done
echo "kernel $(uname -r)"
/stallwatch doctor
[ -e /debug ] && /stallwatch --log-level=trace doctor 2>&1 | sed -n '/BEGIN PROG LOAD LOG/,/END PROG LOAD LOG/p' | grep -B12 'END PROG LOAD LOG'
rc=0
if [ -e /smp ]; then
  /smp_suite.sh || rc=1
elif [ -e /mem ]; then
  /mem_suite.sh || rc=1
else
  for hook in $(cat /hooks); do
    /vm_suite.sh "$hook" || rc=1
  done
  /stack_suite.sh || rc=1
  if [ -b /dev/sw-throttle ]; then /throttle_suite.sh || rc=1; fi
fi
echo "STALLWATCH-VM-RESULT rc=$rc"
poweroff -f
