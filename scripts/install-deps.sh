#!/usr/bin/env bash
# Installs, from Debian 12's own packages, what stallwatch needs to build
# (and with --test, what its test suite needs to run). Run as root.
set -euo pipefail

build_deps=(
  build-essential cmake pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  prometheus-cpp-dev  # metric families and the text format
  libmicrohttpd-dev libyaml-cpp-dev libcrypt-dev  # /metrics over HTTP(S); the web config; bcrypt
  liburing-dev       # io_uring calls of the start-up self-test (linked statically)
  libjs-chart.js     # Chart.js, inlined into every report.html
)
test_deps=(
  libgtest-dev libgmock-dev libbenchmark-dev
  liburing-dev       # io_uring in the workload helper
  prometheus         # promtool checks every live scrape
  libbpf-tools fio   # biolatency as the block peer oracle; fio for the neighbours and benchmarks
  iproute2 wrk       # network namespaces for the probe tests; wrk for the probe benchmark
  python3 python3-grpcio openssl curl  # a real gRPC health server, TLS for the probe and web-config tests
  chromium tmux      # the capture report in a headless browser; `top` in a real terminal
  libclang-rt-14-dev # libFuzzer for the identity parser fuzz target
  runc busybox-static  # a real container for the identity tests
  etcd-server etcd-client  # etcd as the oracle (e2e)
  qemu-system-x86 cpio xz-utils kmod  # the kernel VM matrix (e2e)
  yamllint python3-yaml  # manifest checks
  e2fsprogs xfsprogs util-linux mount libcap2-bin  # ext4 and XFS loop devices, setpriv, unshare, capsh
  btrfs-progs dmsetup mdadm  # storage stacks: btrfs here; device mapper and md in the VMs
  stress-ng          # the load of scripts/e2e-under-load.sh and of the benchmarks
  podman netavark iptables mmdebstrap  # the image built and run as the DaemonSets run it (a base from Debian's mirror)
)

want=("${build_deps[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_deps[@]}")
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
