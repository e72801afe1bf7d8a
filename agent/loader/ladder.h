#pragma once
// Walks a hook ladder: tries each rung, best first, keeps the first that
// loads, and records for doctor and the log why the others were refused.
#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace stallwatch::loader {

// One line of a ladder for doctor and the start-up log.
struct RungReport {
  std::string subsystem;
  std::string rung;
  bool chosen = false;
  std::string detail;  // why it was refused, or what it runs with
};

template <typename Probes>
struct Rung {
  std::string name;
  std::function<Result<Probes>()> load;
};

// forced: the user named the rung; the error then carries its reason alone.
template <typename Probes>
Result<Probes> climb(const std::string& subsystem, const std::vector<Rung<Probes>>& ladder,
                     bool forced, const std::function<std::string(const Probes&)>& describe,
                     std::vector<RungReport>& report) {
  std::string refusals;
  for (const auto& rung : ladder) {
    Result<Probes> probes = rung.load();
    if (probes) {
      report.push_back({subsystem, rung.name, true, describe(*probes)});
      return probes;
    }
    spdlog::debug("{} rung {} refused: {}", subsystem, rung.name, probes.error().message);
    report.push_back({subsystem, rung.name, false, probes.error().message});
    if (!refusals.empty()) refusals += "; ";
    refusals += rung.name + ": " + probes.error().message;
  }
  if (forced) {
    return fail(subsystem + " hook '" + ladder.front().name + "' cannot load: " + report.back().detail);
  }
  return fail("no " + subsystem + " hook can load here (" + refusals + ")");
}

}  // namespace stallwatch::loader
