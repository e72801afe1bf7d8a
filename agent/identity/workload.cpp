#include "identity/workload.h"

#include <array>
#include <vector>

namespace stallwatch::identity {

namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    const std::size_t j = path.find('/', i);
    const std::size_t end = j == std::string_view::npos ? path.size() : j;
    if (end > i) out.push_back(path.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

// Directory names under which cgroupfs mounts v1 hierarchies (or cgroup2 on
// a hybrid host); the path proper starts after them.
bool is_controller_dir(std::string_view c) {
  static constexpr std::array<std::string_view, 17> kDirs = {
      "blkio",      "cpu",     "cpuacct", "cpu,cpuacct", "cpuacct,cpu", "cpuset",
      "memory",     "devices", "freezer", "net_cls",     "net_prio",    "net_cls,net_prio",
      "perf_event", "hugetlb", "pids",    "systemd",     "unified"};
  for (auto d : kDirs) {
    if (c == d) return true;
  }
  return c == "rdma" || c == "misc" || c == "name=systemd";
}

bool is_kubepods_root(std::string_view c) {
  return c == "kubepods" || c == "kubepods.slice" || ends_with(c, "-kubepods.slice");
}

std::string qos_of(std::string_view c, bool systemd) {
  for (std::string_view q : {"burstable", "besteffort"}) {
    if (!systemd && c == q) return std::string(q);
    if (systemd && ends_with(c, "-" + std::string(q) + ".slice")) return std::string(q);
  }
  return "";
}

// "pod<uid>" (cgroupfs) or "<parents>-pod<uid with _>.slice" (systemd).
// Returns false for something that is meant as a pod but is malformed.
bool pod_of(std::string_view c, bool systemd, std::string& uid, bool& is_pod) {
  is_pod = false;
  std::string_view raw;
  if (systemd) {
    const auto at = c.rfind("-pod");
    if (at == std::string_view::npos || !ends_with(c, ".slice")) return true;
    raw = c.substr(at + 4, c.size() - at - 4 - 6);
  } else {
    if (!starts_with(c, "pod")) return true;
    raw = c.substr(3);
  }
  is_pod = true;
  uid.assign(raw);
  if (systemd) {
    for (char& ch : uid) {
      if (ch == '_') ch = '-';
    }
  }
  return is_pod_uid(uid);
}

struct ContainerRef {
  std::string runtime;
  std::string id;
  bool conmon = false;
  bool matched = false;  // the component names a container at all
};

// Container leaf names; the id is kept only when well formed.
ContainerRef container_of(std::string_view c) {
  struct Shape {
    std::string_view prefix, suffix, runtime;
    bool conmon;
  };
  static constexpr std::array<Shape, 8> kShapes = {{
      {"cri-containerd-", ".scope", "containerd", false},
      {"crio-conmon-", ".scope", "cri-o", true},
      {"crio-conmon-", "", "cri-o", true},
      {"crio-", ".scope", "cri-o", false},
      {"crio-", "", "cri-o", false},
      {"docker-", ".scope", "docker", false},
      {"libpod-", ".scope", "podman", false},
      {"cri-containerd-", "", "containerd", false},
  }};
  ContainerRef ref;
  for (const auto& s : kShapes) {
    if (!starts_with(c, s.prefix)) continue;
    if (!s.suffix.empty() && !ends_with(c, s.suffix)) continue;
    ref.matched = true;
    ref.runtime = std::string(s.runtime);
    ref.conmon = s.conmon;
    std::string_view id = c.substr(s.prefix.size(), c.size() - s.prefix.size() - s.suffix.size());
    // A systemd scope without its .scope suffix is not a container cgroup.
    const bool scope_shape = s.runtime == "containerd" || s.runtime == "docker" || s.runtime == "podman";
    if (is_container_id(id) && (!scope_shape || !s.suffix.empty())) ref.id = std::string(id);
    return ref;
  }
  if (is_container_id(c)) {  // cgroupfs: containerd and docker both use the bare id
    ref.matched = true;
    ref.id = std::string(c);
  }
  return ref;
}

Workload parse_non_kubelet(const std::vector<std::string_view>& parts) {
  Workload w;
  w.kind = "other";
  if (parts.empty()) return w;
  for (auto p : parts) {
    if (p == "user.slice") {
      w.kind = "user-session";
      return w;
    }
  }
  const std::string_view last = parts.back();
  if (ends_with(last, ".service") || last == "init.scope") {
    w.kind = "system-unit";
    w.unit = std::string(last);
    return w;
  }
  // A container that is not a pod's (the kind node container, podman).
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    const ContainerRef ref = container_of(*it);
    if (ref.matched && !ref.id.empty()) {
      w.runtime = ref.runtime;
      w.container_id = ref.id;
      return w;
    }
  }
  return w;
}

}  // namespace

bool is_pod_uid(std::string_view uid) {
  if (uid.size() == 32) return is_lower_hex(uid);
  if (uid.size() != 36) return false;
  for (std::size_t i : {8U, 13U, 18U, 23U}) {
    if (uid[i] != '-') return false;
  }
  return is_lower_hex(uid.substr(0, 8)) && is_lower_hex(uid.substr(9, 4)) && is_lower_hex(uid.substr(14, 4)) &&
         is_lower_hex(uid.substr(19, 4)) && is_lower_hex(uid.substr(24, 12));
}

bool is_container_id(std::string_view id) { return id.size() == 64 && is_lower_hex(id); }

Workload parse_cgroup_path(std::string_view path, const std::set<std::string>& sandbox_ids) {
  std::vector<std::string_view> parts = components(path);
  // Strip a cgroupfs mount prefix: /sys/fs/cgroup[/<controller dir>].
  if (parts.size() >= 3 && parts[0] == "sys" && parts[1] == "fs" && parts[2] == "cgroup") {
    parts.erase(parts.begin(), parts.begin() + 3);
    if (!parts.empty() && is_controller_dir(parts[0])) parts.erase(parts.begin());
  }
  // The innermost kubelet hierarchy: outer ones belong to a node container.
  int root = -1;
  for (int i = static_cast<int>(parts.size()) - 1; i >= 0; --i) {
    if (is_kubepods_root(parts[static_cast<std::size_t>(i)])) {
      root = i;
      break;
    }
  }
  if (root < 0) return parse_non_kubelet(parts);

  Workload w;
  w.kind = "other";
  const bool systemd = ends_with(parts[static_cast<std::size_t>(root)], ".slice");
  w.driver = systemd ? "systemd" : "cgroupfs";
  std::size_t i = static_cast<std::size_t>(root) + 1;
  if (i >= parts.size()) return w;

  w.qos = qos_of(parts[i], systemd);
  if (!w.qos.empty()) {
    ++i;
    if (i >= parts.size()) {
      w.kind = "qos-level";
      return w;
    }
  }
  bool is_pod = false;
  std::string uid;
  if (!pod_of(parts[i], systemd, uid, is_pod) || !is_pod) {
    Workload unknown;  // a malformed pod component tells nothing reliable
    unknown.kind = "other";
    return unknown;
  }
  w.pod_uid = uid;
  if (w.qos.empty()) w.qos = "guaranteed";
  ++i;
  if (i >= parts.size()) {
    w.kind = "pod-level";
    return w;
  }
  // Anything below the container's own cgroup (crun's "container"
  // subgroup, the workload's own children) is that container.
  const ContainerRef ref = container_of(parts[i]);
  w.runtime = ref.runtime;
  if (ref.conmon || ref.id.empty()) return w;
  w.container_id = ref.id;
  w.kind = sandbox_ids.count(ref.id) ? "pod-sandbox" : "pod-container";
  return w;
}

}  // namespace stallwatch::identity
