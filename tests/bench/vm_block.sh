#!/usr/bin/env bash
# Block-path overhead at the highest request rate null_blk reaches in a
# 4-vCPU VM: Debian's 6.12 cloud kernel under QEMU (TCG), fio 4 KiB random
# reads at depth 16 from four jobs on /dev/nullb0, without a tracer, with
# the agent (block and blame on) and with libbpf-tools' biolatency, rounds
# interleaved; then the same with a victim syncing on an ext4 on that
# device the whole time (the agent then keeps a blame window open per
# call and weighs every request in it). Not a test; prints one markdown
# table. Run as root on an otherwise idle machine:
#
#   tests/bench/vm_block.sh [build-dir] [rounds] [seconds per run]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/vm/root_lib.sh
. "$here/../vm/root_lib.sh"
build=$(cd "${1:-$here/../../build}" && pwd)
rounds=${2:-3}
secs=${3:-5}
for tool in qemu-system-x86_64 fio /usr/sbin/biolatency mke2fs cpio; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install qemu-system-x86 fio libbpf-tools e2fsprogs cpio)" >&2; exit 1; }
done
read -r _ vmlinuz mods < <("$here/../vm/fetch_kernels.sh" "${STALLWATCH_VM_CACHE:-/var/cache/stallwatch-vm}" | grep -E '^6\.12 ')
work=$(mktemp -d /tmp/stallwatch-vm-block.XXXXXX)
trap 'rm -rf "$work"' EXIT

root=$work/root
bins=("$build/agent/stallwatch" "$(command -v fio)" /usr/sbin/biolatency "$(command -v mke2fs)")
busybox_root "$root" "${bins[@]}"
for b in "${bins[@]}"; do cp "$b" "$root/$(basename "$b")"; done
cp "$build/tests/sw_victim_helper" "$root/"
n=10
for dep in $(grep -E '/null_blk\.ko(\.xz)?:' "$mods/modules.dep" | sed 's/://' | tr ' ' '\n' | sed '/^$/d' | tac); do
  cp "$mods/$dep" "$root/modules/$n-$(basename "$dep")"
  n=$((n + 1))
done
printf '%s\n' "$rounds" > "$root/rounds"
printf '%s\n' "$secs" > "$root/secs"
install -m 755 "$here/vm_block_init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# 4 vCPUs emulated by one host thread: the request rate is the emulated
# CPUs', and the ratios are what this measures. Each round attaches and
# detaches the tracers, and multi-threaded TCG let a vCPU run into the
# int3 of a jump label being patched (tests/vm/smp_suite.sh): the guest
# panicked in 2 of 3 runs with it.
timeout 1800 qemu-system-x86_64 -accel tcg,thread=single -m 2048 -smp 4 -nographic -no-reboot -nic none -kernel "$vmlinuz" \
  -initrd "$work/initrd.gz" -append "console=ttyS0 quiet panic=-1" > "$work/serial.log" 2>&1 || true
if ! grep -q '^BENCH-DONE' "$work/serial.log"; then
  tail -40 "$work/serial.log" >&2
  exit 1
fi
tr -d '\r' < "$work/serial.log" | grep -E '^BENCH ' > "$work/runs.txt"
python3 - "$work/runs.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    runs.setdefault((f["victim"], f["mode"]), []).append(float(f["iops"]))
label = {"none": "no tracer", "stallwatch": "stallwatch (block + blame)", "biolatency": "biolatency (libbpf-tools)"}
print("| null_blk, 4 vCPUs (6.12, TCG), fio 4 KiB randread, 4 jobs x depth 16 | victim syncing on it "
      "| IOPS (median) | of no tracer | each round |")
print("|---|---|---|---|---|")
for victim in ("0", "1"):
    base = statistics.median(runs[(victim, "none")])
    for mode in ("none", "stallwatch", "biolatency"):
        v = runs[(victim, mode)]
        m = statistics.median(v)
        each = " ".join(f"{x:.0f}" for x in v)
        print(f"| {label[mode]} | {'yes' if victim == '1' else 'no'} | {m:,.0f} | {m / base:.3f} | {each} |")
PY
grep -E '^BENCH-NOTE' "$work/serial.log" | tr -d '\r' | sed 's/^BENCH-NOTE /    /' || true
