#include "loader/host_facts.h"

#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>

namespace stallwatch::loader {

std::string_view to_string(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kNone: return "none";
    case CgroupLayout::kV1: return "v1";
    case CgroupLayout::kV2: return "v2";
    case CgroupLayout::kHybrid: return "hybrid";
  }
  return "none";
}

CgroupMounts parse_cgroup_mounts(std::string_view mountinfo) {
  CgroupMounts out;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 0:30 / /sys/fs/cgroup/unified rw,relatime shared:4 - cgroup2 cgroup2 rw"
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream pre(line.substr(0, sep));
    std::string id, parent, devno, root, mount_point;
    if (!(pre >> id >> parent >> devno >> root >> mount_point)) continue;
    std::istringstream post(line.substr(sep + 3));
    std::string fstype;
    post >> fstype;
    if (fstype == "cgroup2" && out.cgroup2_mount.empty()) {
      out.cgroup2_mount = mount_point;
    } else if (fstype == "cgroup") {
      out.v1_mounts.push_back(mount_point);
    }
  }
  const bool v2 = !out.cgroup2_mount.empty();
  const bool v1 = !out.v1_mounts.empty();
  out.layout = v2 && v1 ? CgroupLayout::kHybrid : v2 ? CgroupLayout::kV2 : v1 ? CgroupLayout::kV1 : CgroupLayout::kNone;
  return out;
}

namespace {

std::string slurp(const char* path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A field of /proc/self/status, in the base given; 0 when absent.
std::uint64_t status_field(const std::string& name, int base) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stoull(line.substr(name.size() + 1), nullptr, base);
  }
  return 0;
}

}  // namespace

std::string cgroup2_at(const std::string& dir) {
  constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
  for (const std::string& d : {dir, dir + "/unified"}) {
    struct statfs fs {};
    if (::statfs(d.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == kCgroup2Magic) return d;
  }
  return "";
}

HostFacts read_host_facts() {
  HostFacts facts;
  utsname u{};
  if (uname(&u) == 0) facts.kernel_release = u.release;
  facts.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  facts.cgroups = parse_cgroup_mounts(slurp("/proc/self/mountinfo"));
  if (!facts.cgroups.cgroup2_mount.empty()) {
    // Enabled for the root's children, not merely available: otherwise every
    // bio is charged to the root and the owner says nothing.
    std::istringstream enabled(slurp((facts.cgroups.cgroup2_mount + "/cgroup.subtree_control").c_str()));
    std::string c;
    while (enabled >> c) facts.cgroups.io_on_v2 |= c == "io";
  }
  facts.cap_effective = status_field("CapEff", 16);
  facts.seccomp = static_cast<int>(status_field("Seccomp", 10));
  return facts;
}

bool has_cap(std::uint64_t caps, int cap) { return (caps >> cap) & 1U; }

std::string cap_list(std::uint64_t caps) {
  // Names as in capabilities(7), indexed by number.
  static constexpr std::array<const char*, 41> kNames = {"cap_chown",
                                                         "cap_dac_override",
                                                         "cap_dac_read_search",
                                                         "cap_fowner",
                                                         "cap_fsetid",
                                                         "cap_kill",
                                                         "cap_setgid",
                                                         "cap_setuid",
                                                         "cap_setpcap",
                                                         "cap_linux_immutable",
                                                         "cap_net_bind_service",
                                                         "cap_net_broadcast",
                                                         "cap_net_admin",
                                                         "cap_net_raw",
                                                         "cap_ipc_lock",
                                                         "cap_ipc_owner",
                                                         "cap_sys_module",
                                                         "cap_sys_rawio",
                                                         "cap_sys_chroot",
                                                         "cap_sys_ptrace",
                                                         "cap_sys_pacct",
                                                         "cap_sys_admin",
                                                         "cap_sys_boot",
                                                         "cap_sys_nice",
                                                         "cap_sys_resource",
                                                         "cap_sys_time",
                                                         "cap_sys_tty_config",
                                                         "cap_mknod",
                                                         "cap_lease",
                                                         "cap_audit_write",
                                                         "cap_audit_control",
                                                         "cap_setfcap",
                                                         "cap_mac_override",
                                                         "cap_mac_admin",
                                                         "cap_syslog",
                                                         "cap_wake_alarm",
                                                         "cap_block_suspend",
                                                         "cap_audit_read",
                                                         "cap_perfmon",
                                                         "cap_bpf",
                                                         "cap_checkpoint_restore"};
  std::string out;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (!has_cap(caps, static_cast<int>(i))) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
  }
  return out.empty() ? "none" : out;
}

}  // namespace stallwatch::loader
