#pragma once
// Points in time on the command line: RFC 3339 ("2026-12-04T03:12:00Z",
// "2026-12-04T04:12:00.5+01:00"), "now", or a duration before now ("-2h",
// "-1h30m"). ns since the epoch.
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace stallwatch {

Result<std::int64_t> parse_time_ns(std::string_view text, std::int64_t now_ns);

}  // namespace stallwatch
