#pragma once
// Durations on the command line: a number and a unit (ns, us, ms, s), as
// in "10ms" or "1.5s". No unit is an error: "10" could mean anything.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch {

inline Result<std::uint64_t> parse_duration_ns(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [p, err] = std::from_chars(text.data(), end, value);
  const std::string_view unit(p, static_cast<std::size_t>(end - p));
  const std::string quoted = "'" + std::string(text) + "'";
  if (err != std::errc() || p == text.data()) return fail("bad duration " + quoted + " (expected e.g. 10ms or 1.5s)");
  double scale = 0;
  if (unit == "ns") scale = 1;
  if (unit == "us") scale = 1e3;
  if (unit == "ms") scale = 1e6;
  if (unit == "s") scale = 1e9;
  if (scale == 0) return fail("bad duration " + quoted + ": unit must be ns, us, ms or s");
  if (!std::isfinite(value) || value < 0 || value * scale > 3.6e12) {
    return fail("bad duration " + quoted + ": must be between 0 and 1h");
  }
  return static_cast<std::uint64_t>(std::llround(value * scale));
}

}  // namespace stallwatch
