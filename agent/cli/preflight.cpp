#include "cli/preflight.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

namespace stallwatch::cli {

using loader::has_cap;

bool can_load_bpf(std::uint64_t caps) {
  // 5.8+ split CAP_BPF and CAP_PERFMON out of CAP_SYS_ADMIN; either set works.
  return has_cap(caps, loader::kCapSysAdmin) || (has_cap(caps, loader::kCapBpf) && has_cap(caps, loader::kCapPerfmon));
}

std::string resolve_cgroup_root(const std::string& given) {
  if (given.empty()) return given;
  const std::string v2 = loader::cgroup2_at(given);
  return v2.empty() ? given : v2;
}

Result<void> check_host(const loader::HostFacts& facts) {
  if (!can_load_bpf(facts.cap_effective)) {
    std::string missing;
    if (!has_cap(facts.cap_effective, loader::kCapBpf)) missing = "CAP_BPF";
    if (!has_cap(facts.cap_effective, loader::kCapPerfmon))
      missing += missing.empty() ? "CAP_PERFMON" : ", CAP_PERFMON";
    return fail("missing " + missing +
                ": loading BPF tracing programs needs CAP_BPF and "
                "CAP_PERFMON (or CAP_SYS_ADMIN); run as root or grant them");
  }
  // The capabilities are there, but a seccomp filter may still refuse the
  // call itself: containers-common's default profile (CRI-O, podman) allows
  // bpf() only with CAP_SYS_ADMIN.
  if (const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr); fd >= 0) {
    close(fd);
  } else if (errno == EPERM && facts.seccomp == 2) {
    return fail(
        "bpf() refused (EPERM) although CAP_BPF and CAP_PERFMON are held: this process runs under a seccomp "
        "filter (Seccomp: 2 in /proc/self/status), and container runtimes' default profiles allow bpf() and "
        "perf_event_open() only with CAP_SYS_ADMIN; use the profile deploy/seccomp/stallwatch.json "
        "(seccompProfile type Localhost) or the privileged DaemonSet");
  }
  if (!facts.btf) {
    return fail(
        "no kernel BTF at /sys/kernel/btf/vmlinux: the CO-RE programs need a kernel "
        "built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, RHEL 8.2+ kernels have it)");
  }
  if (facts.cgroups.cgroup2_mount.empty()) {
    return fail(
        "no cgroup2 mount: per-cgroup attribution uses cgroup v2 ids; mount it with "
        "`mount -t cgroup2 none /sys/fs/cgroup/unified` (hybrid) or boot with "
        "systemd.unified_cgroup_hierarchy=1");
  }
  return {};
}

}  // namespace stallwatch::cli
