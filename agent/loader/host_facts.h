#pragma once
// What this host offers, read once: kernel, BTF, cgroup layout, capabilities.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stallwatch::loader {

enum class CgroupLayout { kNone, kV1, kV2, kHybrid };
std::string_view to_string(CgroupLayout layout);

struct CgroupMounts {
  CgroupLayout layout = CgroupLayout::kNone;
  std::string cgroup2_mount;           // empty when no cgroup2 is mounted
  std::vector<std::string> v1_mounts;  // mount points of v1 hierarchies
  // The io controller is enabled below the cgroup2 root, so bi_blkg names
  // v2 cgroups and the kernel charges I/O to the cgroup that caused it
  // (writeback included).
  bool io_on_v2 = false;
};

// Parses /proc/self/mountinfo text. On a hybrid host several cgroup2 mounts
// may exist; the first one wins, which is the one systemd set up.
CgroupMounts parse_cgroup_mounts(std::string_view mountinfo);

struct HostFacts {
  std::string kernel_release;
  bool btf = false;  // /sys/kernel/btf/vmlinux readable
  CgroupMounts cgroups;
  std::uint64_t cap_effective = 0;
  int seccomp = 0;  // /proc/self/status Seccomp: 2 is a filter (a container runtime's profile)
};

HostFacts read_host_facts();

// The cgroup2 hierarchy at dir, or at dir/unified on a hybrid host (a
// --cgroup-root of the host's /sys/fs/cgroup); "" if neither.
std::string cgroup2_at(const std::string& dir);

// Capability numbers from linux/capability.h that the agent cares about.
inline constexpr int kCapDacReadSearch = 2;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapSysResource = 24;
inline constexpr int kCapPerfmon = 38;
inline constexpr int kCapBpf = 39;

bool has_cap(std::uint64_t caps, int cap);
// "cap_bpf,cap_perfmon,..." for the set bits, or "none".
std::string cap_list(std::uint64_t caps);

}  // namespace stallwatch::loader
