#pragma once
// Durations on the command line, as Prometheus writes them: numbers with
// units, largest first ("10ms", "1.5s", "2m", "1h30m"). No unit is an error:
// "10" could mean anything.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch {

inline constexpr std::uint64_t kHourNs = 3'600'000'000'000ULL;

// "1h", "24h", "90s": the largest unit that divides the value.
inline std::string duration_text(std::uint64_t ns) {
  struct Unit {
    const char* name;
    std::uint64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"h", kHourNs}, {"m", 60'000'000'000ULL}, {"s", 1'000'000'000ULL}, {"ms", 1'000'000ULL}, {"us", 1'000ULL}};
  for (const auto& u : kUnits) {
    if (ns >= u.ns && ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  }
  return std::to_string(ns) + "ns";
}

inline Result<std::uint64_t> parse_duration_ns(std::string_view text, std::uint64_t max_ns = kHourNs) {
  struct Unit {
    std::string_view name;
    double ns;
  };
  // Largest first: each part's unit must be smaller than the one before.
  static constexpr Unit kUnits[] = {{"h", 3.6e12}, {"m", 6e10}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}};
  const std::string quoted = "'" + std::string(text) + "'";
  const std::string range = ": must be between 0 and " + duration_text(max_ns);
  double total = 0;
  std::size_t last_unit = 0;  // index past the previous part's unit
  const char* at = text.data();
  const char* end = text.data() + text.size();
  if (at == end) return fail("bad duration '' (expected e.g. 10ms, 1.5s or 1h30m)");
  while (at != end) {
    double value = 0;
    const auto [p, err] = std::from_chars(at, end, value);
    if (err != std::errc() || p == at) return fail("bad duration " + quoted + " (expected e.g. 10ms, 1.5s or 1h30m)");
    if (!std::isfinite(value) || value < 0) return fail("bad duration " + quoted + range);
    const char* u = p;
    while (u != end && ((*u >= 'a' && *u <= 'z') || *u == ' ')) ++u;
    const std::string_view unit(p, static_cast<std::size_t>(u - p));
    std::size_t i = 0;
    while (i < std::size(kUnits) && kUnits[i].name != unit) ++i;
    if (i == std::size(kUnits)) return fail("bad duration " + quoted + ": unit must be h, m, s, ms, us or ns");
    if (i < last_unit) return fail("bad duration " + quoted + ": units go from the largest to the smallest");
    last_unit = i + 1;
    total += value * kUnits[i].ns;
    at = u;
  }
  if (total > static_cast<double>(max_ns)) return fail("bad duration " + quoted + range);
  return static_cast<std::uint64_t>(std::llround(total));
}

}  // namespace stallwatch
