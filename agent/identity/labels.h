#pragma once
// The workload labels every per-cgroup series, event and report carries,
// and the one place that says their names and order. Every exporter, the
// event log and the live views build them through here.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace stallwatch::identity {

struct Labels {
  std::string ns, pod, container, cgroup;
  bool operator==(const Labels&) const = default;
  auto operator<=>(const Labels&) const = default;
};

// namespace, pod, container, cgroup, in that order.
inline std::vector<std::pair<std::string, std::string>> label_pairs(const Labels& l) {
  return {{"namespace", l.ns}, {"pod", l.pod}, {"container", l.container}, {"cgroup", l.cgroup}};
}

inline nlohmann::json labels_json(const Labels& l) {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [k, v] : label_pairs(l)) j[k] = std::move(v);
  return j;
}

// How kernel ids become labels: what exporters are handed instead of identity itself.
struct Labeler {
  std::function<Labels(std::uint64_t)> workload;        // cgroup id -> labels
  std::function<std::string(std::uint32_t)> device;     // kernel dev_t -> disk name
  std::function<std::string(std::uint32_t)> partition;  // kernel dev_t -> partition name
  // Block I/O is labelled with the owning blkcg where the kernel charges
  // I/O per cgroup (cgroup v2 with the io controller), else the submitter.
  bool block_owner = false;
};

}  // namespace stallwatch::identity
