// libFuzzer target for the cgroup path and pod log directory parsers: any
// bytes in, a well-formed answer out, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "identity/pod_names.h"
#include "identity/workload.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto w = stallwatch::identity::parse_cgroup_path(input, {std::string(64, 'a')});
  // Invariants: ids are either empty or canonical; a container needs a pod.
  if (!w.container_id.empty() && !stallwatch::identity::is_container_id(w.container_id)) std::abort();
  if (!w.pod_uid.empty() && !stallwatch::identity::is_pod_uid(w.pod_uid)) std::abort();
  if ((w.kind == "pod-container" || w.kind == "pod-sandbox") && (w.pod_uid.empty() || w.container_id.empty())) {
    std::abort();
  }
  const auto ref = stallwatch::identity::parse_pod_log_dir(input);
  if (!ref.uid.empty() && !stallwatch::identity::is_pod_uid(ref.uid)) std::abort();
  stallwatch::identity::ContainerInfo info;
  (void)stallwatch::identity::parse_oci_annotations(input, info);
  return 0;
}
