#pragma once
// --trigger of `stallwatch capture`: what event starts the recording.
//   fsync>DURATION    a victim's slow-fsync event at least that long (fsync>50ms)
//   probe=RESULT      a probe event with that result (timeout, refused, reset, failure)
//   verdict=VERDICT   a slow-fsync event with that verdict (neighbor, io_limit, throttled, self, journal, device, cpu, mixed)
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch::capture {

struct Trigger {
  enum class Kind { kFsync, kProbe, kVerdict } kind;
  std::uint64_t min_ns = 0;  // kFsync
  std::string value;         // kProbe, kVerdict
  std::string text;

  static Result<Trigger> parse(std::string_view text);
  bool matches(const nlohmann::json& event) const;
};

// "100MB", "512KiB", "1GB", "4096" (bytes).
Result<std::uint64_t> parse_size(std::string_view text, bool zero_is_off = false);

}  // namespace stallwatch::capture
