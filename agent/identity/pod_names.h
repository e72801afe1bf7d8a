#pragma once
// Names the kubelet and the runtime leave on disk: pod namespace/name from
// /var/log/pods/<ns>_<pod>_<uid>/, container name from the OCI bundle's
// config.json annotations that containerd and CRI-O write.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace stallwatch::identity {

struct PodRef {
  std::string ns, pod, uid;  // all empty when the name is malformed
  bool operator==(const PodRef&) const = default;
};
// "<ns>_<pod>_<uid>" or a bare UID (old layout).
PodRef parse_pod_log_dir(std::string_view name);

struct PodInfo {
  std::string ns, pod;
  std::vector<std::string> containers;  // subdirectories: container names
};
// uid -> pod, from a /var/log/pods-shaped directory.
std::map<std::string, PodInfo> scan_pod_logs(const std::string& dir);

struct ContainerInfo {
  std::string name;  // container name; empty for a sandbox
  std::string pod, ns, pod_uid;
  bool sandbox = false;
};
// Reads the annotations of one OCI config.json (containerd or CRI-O keys).
// Returns false when the file has none of them.
bool parse_oci_annotations(const std::string& json_text, ContainerInfo& out);
// container id -> info, from runtime state directories: <dir>/.../<id>/config.json
// or <dir>/.../<id>/userdata/config.json, up to three levels down.
std::map<std::string, ContainerInfo> scan_runtime_state(const std::vector<std::string>& dirs);

}  // namespace stallwatch::identity
