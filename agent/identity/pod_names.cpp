#include "identity/pod_names.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/small_file.h"
#include "identity/workload.h"

namespace stallwatch::identity {

namespace fs = std::filesystem;

constexpr std::size_t kMaxOciConfig = 4 << 20;

PodRef parse_pod_log_dir(std::string_view name) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto at = name.find('_', start);
    fields.push_back(name.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  // Namespaces and pod names never contain '_': three fields or one.
  if (fields.size() == 3 && !fields[0].empty() && !fields[1].empty() && is_pod_uid(fields[2])) {
    return {std::string(fields[0]), std::string(fields[1]), std::string(fields[2])};
  }
  if (fields.size() == 1 && is_pod_uid(fields[0])) return {"", "", std::string(fields[0])};
  return {};
}

std::map<std::string, PodInfo> scan_pod_logs(const std::string& dir) {
  std::map<std::string, PodInfo> pods;
  std::error_code ec;
  // An entry that vanishes or loops (a symlink to itself) is skipped, not
  // the rest of the listing: each check has its own error code.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    const PodRef ref = parse_pod_log_dir(it->path().filename().string());
    if (ref.uid.empty()) continue;
    PodInfo info{ref.ns, ref.pod, {}};
    std::error_code inner;
    for (fs::directory_iterator c(it->path(), inner), cend; !inner && c != cend; c.increment(inner)) {
      std::error_code c_ec;
      if (c->is_directory(c_ec)) info.containers.push_back(c->path().filename().string());
    }
    pods[ref.uid] = std::move(info);
  }
  return pods;
}

bool parse_oci_annotations(const std::string& json_text, ContainerInfo& out) {
  const auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("annotations") || !doc["annotations"].is_object()) {
    return false;
  }
  const auto& a = doc["annotations"];
  const auto get = [&a](std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
      if (a.contains(k) && a[k].is_string()) return a[k].get<std::string>();
    }
    return std::string();
  };
  // containerd: io.kubernetes.cri.*; CRI-O: io.kubernetes.{pod,container}.* and cri-o.ContainerType.
  out.name = get({"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
  out.pod = get({"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
  out.ns = get({"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
  out.pod_uid = get({"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"});
  const std::string type = get({"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"});
  out.sandbox = type == "sandbox";
  if (out.sandbox) out.name.clear();
  return !out.pod.empty() || !out.name.empty() || out.sandbox;
}

std::map<std::string, ContainerInfo> scan_runtime_state(const std::vector<std::string>& dirs) {
  std::map<std::string, ContainerInfo> out;
  // Bundles sit at most three levels down (containerd: <namespace>/<id>,
  // CRI-O: <id>/userdata). Each directory is listed by its own iterator, so
  // a bundle removed mid-scan costs that bundle, not the ones after it.
  struct Dir {
    fs::path path;
    int depth;
  };
  for (const auto& root : dirs) {
    std::vector<Dir> todo{{root, 0}};
    while (!todo.empty()) {
      const Dir dir = std::move(todo.back());
      todo.pop_back();
      std::error_code ec;
      for (fs::directory_iterator it(dir.path, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        if (!fs::is_directory(it->symlink_status(type_ec)) || type_ec) continue;
        const std::string id = it->path().filename().string();
        if (!is_container_id(id)) {
          if (dir.depth < 2) todo.push_back({it->path(), dir.depth + 1});
          continue;
        }
        for (const char* rel : {"config.json", "userdata/config.json"}) {
          // Real ones are 10-40 KiB; a FIFO or a giant in its place is skipped.
          const auto text = read_small_file((it->path() / rel).string(), kMaxOciConfig);
          if (!text) continue;
          ContainerInfo info;
          if (parse_oci_annotations(*text, info)) out[id] = std::move(info);
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace stallwatch::identity
