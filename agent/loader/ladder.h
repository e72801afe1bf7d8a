#pragma once
// Walks a hook ladder: tries each rung, best first, keeps the first that
// loads, and records for doctor and the log why the others were refused.
#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <string_view>
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

// The ladder of subsystems whose programs need only BTF-typed tracepoints:
// tp_btf, else raw_tp (the same handlers, arguments from the raw array).
enum class BtfRung { kAuto, kTpBtf, kRawTp, kOff };

inline std::string_view to_string(BtfRung rung) {
  switch (rung) {
    case BtfRung::kAuto: return "auto";
    case BtfRung::kTpBtf: return "tp_btf";
    case BtfRung::kRawTp: return "raw_tp";
    case BtfRung::kOff: return "off";
  }
  return "auto";
}

// subsystem names the flag in the error ("unknown blame hook 'x' ...").
inline Result<BtfRung> parse_btf_rung(std::string_view subsystem, std::string_view text) {
  for (BtfRung r : {BtfRung::kAuto, BtfRung::kTpBtf, BtfRung::kRawTp, BtfRung::kOff}) {
    if (text == to_string(r)) return r;
  }
  return fail("unknown " + std::string(subsystem) + " hook '" + std::string(text) +
              "' (expected auto, tp_btf, raw_tp or off)");
}

// Climbs tp_btf then raw_tp (or only the one wanted); try_rung(BtfRung)
// loads and attaches one rung.
template <typename Probes, typename TryRung>
Result<Probes> climb_btf(const std::string& subsystem, BtfRung wanted, TryRung try_rung,
                         const std::function<std::string(const Probes&)>& describe,
                         std::vector<RungReport>& report) {
  std::vector<Rung<Probes>> ladder;
  for (BtfRung rung : {BtfRung::kTpBtf, BtfRung::kRawTp}) {
    if (wanted != BtfRung::kAuto && wanted != rung) continue;
    ladder.push_back({std::string(to_string(rung)), [&try_rung, rung] { return try_rung(rung); }});
  }
  return climb<Probes>(subsystem, ladder, wanted != BtfRung::kAuto, describe, report);
}

}  // namespace stallwatch::loader
