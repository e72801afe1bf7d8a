#include "events/event_line.h"

#include <algorithm>
#include <string_view>

namespace stallwatch::events {

namespace {

// One rank for every level: a key means the same wherever it appears.
constexpr std::string_view kOrder[] = {"event",       "schema_version", "time",       "node",
                                       "verdict",     "result",         "namespace",  "pod",
                                       "container",   "cgroup",         "comm",       "pid",
                                       "tid",         "type",           "kind",       "duration_ms",
                                       "blamed_ms",   "share",          "victim",     "op",
                                       "device",      "disk",           "file",       "file_class",
                                       "inode",       "disk_condition", "condition", "io_limit", "kinds_ms",       "culprits",   "other_culprits",
                                       "window",      "requests",       "bytes",      "overlapping_windows",
                                       "code",        "connect_ms",     "address",    "port",
                                       "command",     "exit_code",      "prober_pid", "slow_fsyncs",
                                       "top_culprit", "suppressed",     "version",    "revision",
                                       "libbpf_version", "kernel",      "cgroup_layout", "hooks",
                                       "victims",     "slow_threshold_ms", "probe_slow_threshold_ms",
                                       "state",       "iops",           "mb_per_s",   "service_ms",
                                       "baseline_service_ms", "peak_iops", "peak_mb_per_s", "limit", "rate", "binding"};
// kinds_ms: the order of the kinds in docs/blame.md's table, I/O first.
constexpr std::string_view kKinds[] = {"own_io", "neighbor_io",   "journal", "writeback",
                                       "cpu",    "cpu_throttled", "device",  "other"};

template <std::size_t N>
std::size_t rank(const std::string_view (&order)[N], const std::string& key) {
  return static_cast<std::size_t>(std::find(std::begin(order), std::end(order), key) - std::begin(order));
}

nlohmann::ordered_json ordered(const nlohmann::json& j, bool kinds = false) {
  if (j.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& v : j) out.push_back(ordered(v));
    return out;
  }
  if (!j.is_object()) return nlohmann::ordered_json(j);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  // nlohmann::json keeps keys sorted, so equal ranks (unknown keys) stay alphabetical.
  std::stable_sort(keys.begin(), keys.end(), [kinds](const auto& a, const auto& b) {
    return kinds ? rank(kKinds, a) < rank(kKinds, b) : rank(kOrder, a) < rank(kOrder, b);
  });
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& k : keys) out[k] = ordered(j.at(k), k == "kinds_ms");
  return out;
}

}  // namespace

std::string event_line(const nlohmann::json& event) { return ordered(event).dump(); }

}  // namespace stallwatch::events
