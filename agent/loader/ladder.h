#pragma once
// Walks a hook ladder: tries each rung, best first, keeps the first that
// loads, and records for doctor and the log why the others were refused.
#include <spdlog/spdlog.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/rung.h"

namespace stallwatch::loader {

// One line of a ladder for doctor and the start-up log.
struct RungReport {
  std::string subsystem;
  Rung rung = Rung::kOff;
  bool chosen = false;
  std::string detail;  // why it was refused, or what it runs with
};

// ladder is best first; wanted is kAuto (climb them all) or one of them,
// the user's choice, whose error then carries its reason alone.
// try_rung(Rung) -> Result<Probes> loads and attaches one rung.
template <typename Probes, typename TryRung>
Result<Probes> climb(const std::string& subsystem, std::initializer_list<Rung> ladder, Rung wanted, TryRung try_rung,
                     const std::function<std::string(const Probes&)>& describe, std::vector<RungReport>& report) {
  std::string refusals;
  for (Rung rung : ladder) {
    if (wanted != Rung::kAuto && wanted != rung) continue;
    Result<Probes> probes = try_rung(rung);
    if (probes) {
      report.push_back({subsystem, rung, true, describe(*probes)});
      return probes;
    }
    spdlog::debug("{} rung {} refused: {}", subsystem, to_string(rung), probes.error().message);
    report.push_back({subsystem, rung, false, probes.error().message});
    if (wanted != Rung::kAuto) {
      return std::unexpected(
          Error{subsystem + " hook '" + std::string(to_string(rung)) + "' cannot load: " + probes.error().message,
                probes.error().code});
    }
    if (!refusals.empty()) refusals += "; ";
    refusals += std::string(to_string(rung)) + ": " + probes.error().message;
  }
  return fail("no " + subsystem + " hook can load here (" + refusals + ")");
}

}  // namespace stallwatch::loader
