#pragma once
// The first line of every event-log file: what wrote the lines after it.
// Facts that hold for the agent's whole life (hooks, victims, thresholds)
// are said here once instead of on every event.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace stallwatch::events {

struct StartFacts {
  std::int64_t realtime_ns = 0;  // when the agent was ready
  std::string node;
  std::string version, revision, libbpf_version;
  std::string kernel;
  std::string cgroup_layout;                               // v2, hybrid
  std::vector<std::pair<std::string, std::string>> hooks;  // subsystem -> rung in use
  std::vector<std::string> victims;                        // --victim selectors as given
  double slow_threshold_ms = 0;
  double probe_slow_threshold_ms = 0;
  long pid = 0;
};

nlohmann::json start_event(const StartFacts& facts);

}  // namespace stallwatch::events
