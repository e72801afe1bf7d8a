#!/usr/bin/env bash
# Boots Debian's 5.10, 6.1 and 6.12 cloud kernels under QEMU (TCG) with a
# busybox initramfs holding the agent, its libraries and the helpers, runs
# tests/vm/vm_suite.sh inside on each fsync rung, and reads the result from
# the serial console. Kernels run in parallel. 6.12 also boots with 4 vCPUs
# (smp_suite.sh), and 6.1 with 192 possible CPUs (mem_suite.sh).
#
#   tests/vm/run_matrix.sh BUILD_DIR [kernel cache dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/vm/root_lib.sh
. "$here/root_lib.sh"
build=$(cd "${1:?build dir}" && pwd)
cache=${2:-/var/cache/stallwatch-vm}
work=$(mktemp -d /tmp/stallwatch-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT

mapfile -t kernels < <("$here/fetch_kernels.sh" "$cache" | grep -E "^(${STALLWATCH_VM_KERNELS:-5.10|6.1|6.12}) ")

# Common root: busybox, the agent with its shared libraries, helpers, ext4 image.
common=$work/common
# The storage tools the stack suite builds its stacks with, at the host's paths.
tools=()
for t in dmsetup mdadm mke2fs mkfs.btrfs losetup; do tools+=("$(command -v "$t")"); done
busybox_root "$common" "$build/agent/stallwatch" "${tools[@]}"
cp "$build/agent/stallwatch" "$common/stallwatch"
mkdir -p "$common/usr/sbin"
cp "${tools[@]}" "$common/usr/sbin/"
cp "$build/tests/sw_fsync_helper" "$build/tests/sw_block_helper" "$build/tests/sw_probe_server" \
  "$build/tests/sw_prober" "$build/tests/sw_victim_helper" "$common/"
install -m 755 "$here/init.sh" "$common/init"
install -m 755 "$here/vm_suite.sh" "$common/vm_suite.sh"
install -m 755 "$here/stack_suite.sh" "$common/stack_suite.sh"
install -m 755 "$here/smp_suite.sh" "$common/smp_suite.sh"
install -m 755 "$here/mem_suite.sh" "$common/mem_suite.sh"
install -m 755 "$here/throttle_suite.sh" "$common/throttle_suite.sh"
install -m 644 "$here/vm_lib.sh" "$common/vm_lib.sh"
truncate -s 48M "$common/ext4.img"
mkfs.ext4 -q -F "$common/ext4.img"

boot() { # name vmlinuz modules-dir [qemu -smp]: a name ending in -smp4 runs the SMP
  # suite, one ending in -mem192 the memory suite, any other the suites
  local v=$1 vmlinuz=$2 mods=$3 cpus=${4:-1} root=$work/root-$1
  cp -a "$common" "$root"
  # Each module after its dependencies (modules.dep lists them, deepest
  # last), numbered so that init loads them in order, each once.
  local m dep n=10
  for m in loop dm-mod dm-crypt dm-multipath dm-round-robin md-mod raid1 overlay btrfs virtio_pci virtio_blk; do
    for dep in $(grep -E "/$m\.ko(\.xz)?:" "$mods/modules.dep" | sed 's/:/ /' | tr ' ' '\n' | sed '/^$/d' | tac); do
      ls "$root"/modules/*-"$(basename "$dep")" > /dev/null 2>&1 && continue
      cp "$mods/$dep" "$root/modules/$n-$(basename "$dep")"
      n=$((n + 1))
    done
  done
  # STALLWATCH_VM_HOOKS: the rungs vm_suite.sh runs on ("": the stack and
  # throttle suites only). auto, which must choose fentry on these kernels:
  # a second run forced onto fentry repeated it (an agent start is a minute
  # of verifying on 5.10 under TCG).
  echo "${STALLWATCH_VM_HOOKS-auto}" > "$root/hooks"
  [[ $v == *-smp4 ]] && touch "$root/smp"
  [[ $v == *-mem192 ]] && touch "$root/mem"
  [[ -n "${STALLWATCH_VM_DEBUG:-}" ]] && touch "$root/debug"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd-$v.gz"
  # A throttled disk (STALLWATCH_VM_THROTTLE: the kernels whose plain run
  # gets one): 30 IOPS, after a burst of up to 2000 IOPS for 2000 x 2
  # operations, as a cloud volume spends its burst credits.
  # The guest finds each disk by its serial (/dev/sw-SERIAL, init.sh).
  local disk=()
  if [[ " ${STALLWATCH_VM_THROTTLE-6.12} " == *" $v "* ]]; then
    truncate -s 256M "$work/vdisk-$v.img"
    disk=(-drive "file=$work/vdisk-$v.img,if=none,id=thr,format=raw,throttling.iops-total=30,throttling.iops-total-max=2000,throttling.iops-total-max-length=2"
      -device virtio-blk-pci,drive=thr,serial=throttle)
  fi
  # The stack suite's disks (each stack on disks of its own), each serving
  # 32 MiB/s: a victim waits on the device, as on a node, and not mostly on
  # the emulated CPU. Their flushes need not reach the host's disk.
  if [[ $v != *-smp4 && $v != *-mem192 ]]; then
    local d size
    for d in lin:64 crypt:64 md1:64 md2:64 stripe1:64 stripe2:64 ovbase:64 btrfs:128 part:64 mpath:64 anc:64; do
      size=${d#*:} d=${d%:*}
      truncate -s "${size}M" "$work/$d-$v.img"
      # The plain-partition stack's disk carries a table made here.
      if [[ $d == part ]]; then python3 "$here/mbr_partition.py" "$work/$d-$v.img"; fi
      disk+=(-drive "file=$work/$d-$v.img,if=none,id=$d,format=raw,cache=unsafe,throttling.bps-total=33554432"
        -device "virtio-blk-pci,drive=$d,serial=$d")
    done
  fi
  local start=$SECONDS try
  for try in 1 2; do
    # Four guests on two cores: 5.10's and 6.1's suites ran past 540 s in one run
    # (about 360 s with three guests); ctest stops the matrix at 900 s.
    timeout 780 qemu-system-x86_64 -m 1024 -smp "$cpus" -nographic -no-reboot -nic none -kernel "$vmlinuz" \
      "${disk[@]}" -initrd "$work/initrd-$v.gz" -append "console=ttyS0 quiet panic=-1" > "$work/serial-$v.log" 2>&1 || true
    # QEMU's multi-threaded TCG can run a vCPU into the int3 of a jump
    # label the kernel is patching (smp_suite.sh): a 4-vCPU 6.12 guest
    # died so at 1.4 s of its boot, in the kernel's own initcalls, and
    # once at 9.9 s, in process_one_work, while an agent attached its
    # programs from several threads (a build that did so, reverted). A real CPU honours the sync that ends each patch. A guest
    # that dies of it boots once more, and the report says so: a guest
    # without disks (the SMP and memory runs) whenever it died, one with
    # disks only before init touched them.
    grep -q 'STALLWATCH-VM-RESULT' "$work/serial-$v.log" && break
    grep -q 'Oops: int3' "$work/serial-$v.log" || break
    if ((${#disk[@]})); then
      grep -qE 'kernel [0-9]+\.[0-9]+' "$work/serial-$v.log" && break  # init's first line
    fi
    [[ $try == 1 ]] && echo "$v: died of QEMU's int3 race ($(grep -m1 -o 'RIP: [^ ]*' "$work/serial-$v.log")); booted again" >> "$work/retries"
  done
  echo "$((SECONDS - start))" > "$work/time-$v"
}

# STALLWATCH_VM_RUNS: a regex of the runs to boot (e.g. "6.12-smp4"); all by default.
want() { [[ -z ${STALLWATCH_VM_RUNS:-} || $1 =~ ^(${STALLWATCH_VM_RUNS})$ ]]; }

start=$SECONDS
runs=() later=()
for k in "${kernels[@]}"; do
  read -r v vmlinuz mods <<< "$k"
  if want "$v"; then
    boot "$v" "$vmlinuz" "$mods" &
    runs+=("$v")
  fi
  # Counter conservation with every CPU advancing the same device clock:
  # booted after the others, alone. Its error bound is the time a vCPU is
  # stalled inside an update (docs/testing.md), and 4 vCPUs beside four
  # other guests on 2 cores stalled them long enough to pass 1% in one run
  # of three.
  if [[ " ${STALLWATCH_VM_SMP-6.12} " == *" $v "* ]] && want "$v-smp4"; then
    later+=("$v-smp4 $vmlinuz $mods")
    runs+=("$v-smp4")
  fi
  # BPF memory on a node with 192 possible CPUs, under the DaemonSet's limit.
  if [[ " ${STALLWATCH_VM_MEM-6.1} " == *" $v "* ]] && want "$v-mem192"; then
    # One CPU present, 191 more possible (hot-pluggable): what the kernel
    # sizes per-CPU memory by. 6.1, not 6.12: from 6.9 the kernel counts no
    # hot-pluggable CPU from QEMU's ACPI table (and ignores possible_cpus=),
    # and 5.10 charges BPF memory to RLIMIT_MEMLOCK, not the memory cgroup.
    boot "$v-mem192" "$vmlinuz" "$mods" 1,maxcpus=192 &
    runs+=("$v-mem192")
  fi
done
wait
for k in "${later[@]}"; do
  read -r v vmlinuz mods <<< "$k"
  boot "$v" "$vmlinuz" "$mods" 4
done

# Failing runs are reported first, so a log cut to its head (as CI's summary
# is) still shows what failed.
report() { # run
  local v=$1 log=$work/serial-$1.log
  if grep -q 'STALLWATCH-VM-RESULT rc=0' "$log"; then
    echo "=== kernel $v: PASS ($(cat "$work/time-$v") s) ==="
  else
    # What failed comes first: its checks, then how a guest that died died
    # (the oops from its first line), else the console's tail.
    echo "=== kernel $v: FAIL ($(cat "$work/time-$v") s) ==="
    grep -E '^FAIL' "$log" | tr -d '\r' || true
    if grep -qE '\] (BUG:|Oops|general protection|kernel BUG|Kernel panic)' "$log"; then
      awk '/\] (BUG:|Oops|general protection|kernel BUG|Kernel panic)/ { p = 1 } p && n++ < 90' "$log" | tr -d '\r'
    else
      echo "--- the console's last 40 lines"
      tail -40 "$log" | tr -d '\r'
    fi
    # Kept for a look at the whole console: STALLWATCH_VM_LOGS=DIR.
    if [[ -n "${STALLWATCH_VM_LOGS:-}" ]]; then mkdir -p "$STALLWATCH_VM_LOGS" && cp "$log" "$STALLWATCH_VM_LOGS/"; fi
    echo "--- every check of $v"
  fi
  grep -E '^(kernel|ok|FAIL|rungs|agent|fsync|block|verdict|cpu|journal|writeback|stack|storage|smp|mem|throttle|  blame|  "io_limit"|  \{"event":"disk_condition"|usage_usec|  [a-z_]+ +(chosen|refused))|stallwatch .* on node .*, kernel|^[0-9]+: |^-- END|^[A-Za-z].*(invalid|unknown|not allowed|denied)' "$log" | tr -d '\r' || true
  # STALLWATCH_VM_DEBUG: the verifier's last words before each refusal, unfiltered.
  if [[ -n "${STALLWATCH_VM_DEBUG:-}" ]]; then grep -B12 'END PROG LOAD LOG' "$log" | tr -d '\r' || true; fi
}

rc=0 failed=() passed=()
for v in "${runs[@]}"; do
  if grep -q 'STALLWATCH-VM-RESULT rc=0' "$work/serial-$v.log"; then passed+=("$v"); else failed+=("$v"); rc=1; fi
done
echo "matrix: ${#passed[@]} passed${passed[*]:+ (${passed[*]})}, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}"
if [[ -s $work/retries ]]; then cat "$work/retries"; fi
for v in "${failed[@]}" "${passed[@]}"; do report "$v"; done
echo "matrix wall time: $((SECONDS - start)) s"
exit $rc
