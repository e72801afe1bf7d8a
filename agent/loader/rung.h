#pragma once
// The one vocabulary of the hook ladders. Every subsystem climbs a ladder of
// these rungs, best first; which of them a subsystem offers is its own
// business (fsync: fentry, tracepoint; block: tp_btf, raw_tp, tracepoint;
// blame, probe, cgroup: tp_btf, raw_tp).
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch::loader {

enum class Rung { kAuto, kFentry, kTpBtf, kRawTp, kTracepoint, kOff };

constexpr std::string_view to_string(Rung rung) {
  switch (rung) {
    case Rung::kAuto: return "auto";
    case Rung::kFentry: return "fentry";
    case Rung::kTpBtf: return "tp_btf";
    case Rung::kRawTp: return "raw_tp";
    case Rung::kTracepoint: return "tracepoint";
    case Rung::kOff: return "off";
  }
  return "auto";
}

// The ELF section prefixes of a rung's programs: libbpf names the program
// type by them, so the section already says which rung a program is on.
inline std::span<const std::string_view> section_prefixes(Rung rung) {
  static constexpr std::string_view fentry[] = {"fentry/", "fexit/"};
  static constexpr std::string_view tp_btf[] = {"tp_btf/"};
  static constexpr std::string_view raw_tp[] = {"raw_tp/", "raw_tracepoint/"};
  static constexpr std::string_view tracepoint[] = {"tracepoint/", "tp/"};
  switch (rung) {
    case Rung::kFentry: return fentry;
    case Rung::kTpBtf: return tp_btf;
    case Rung::kRawTp: return raw_tp;
    case Rung::kTracepoint: return tracepoint;
    case Rung::kAuto:
    case Rung::kOff: return {};
  }
  return {};
}

// allowed lists what the flag accepts, in the order the error names them;
// subsystem names the flag ("--blame-hook: unknown hook 'x' (expected ...)").
inline Result<Rung> parse_rung(std::string_view subsystem, std::string_view text, std::initializer_list<Rung> allowed) {
  std::string expected;
  std::size_t i = 0;
  for (Rung r : allowed) {
    if (text == to_string(r)) return r;
    expected += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(to_string(r));
    ++i;
  }
  return fail("--" + std::string(subsystem) + "-hook: unknown hook '" + std::string(text) + "' (expected " + expected + ")");
}

}  // namespace stallwatch::loader
