#pragma once
// What a cgroup path says about the workload in it. Pure parsing: no I/O.
#include <set>
#include <string>
#include <string_view>

namespace stallwatch::identity {

struct Workload {
  std::string driver;        // "systemd", "cgroupfs", or empty (not a kubelet path)
  std::string runtime;       // "containerd", "cri-o", "docker", "podman", or empty
  std::string qos;           // "guaranteed", "burstable", "besteffort", or empty
  std::string pod_uid;       // lowercase UUID, or 32-hex config hash of a static pod
  std::string container_id;  // 64 lowercase hex, only for container cgroups
  std::string kind;          // pod-container, pod-sandbox, pod-level, qos-level,
                             // system-unit, user-session, other
  std::string unit;          // systemd unit for system-unit ("etcd.service")

  bool operator==(const Workload&) const = default;
};

// Parses a cgroup path as /proc/<pid>/cgroup shows it, or prefixed by a
// cgroupfs mount point (v1 controller directories included). The innermost
// kubelet hierarchy wins, so kind, k3d and minikube nesting work. The ids in
// sandbox_ids (the runtime's pause containers) are reported as pod-sandbox.
Workload parse_cgroup_path(std::string_view path, const std::set<std::string>& sandbox_ids = {});

// Canonical pod UID check: 8-4-4-4-12 lowercase hex, or 32 lowercase hex.
bool is_pod_uid(std::string_view uid);
bool is_container_id(std::string_view id);  // 64 lowercase hex

}  // namespace stallwatch::identity
