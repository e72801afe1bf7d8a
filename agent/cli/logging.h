#pragma once
#include <string>

#include "common/result.h"

namespace stallwatch::cli {

// Sets up the default spdlog logger on stderr. format: "text" or "json"
// (one JSON object per line: time, level, msg).
Result<void> setup_logging(const std::string& level, const std::string& format);

}  // namespace stallwatch::cli
