#pragma once
#include <string>

#include "common/result.h"

namespace stallwatch::cli {

// Sets up the default spdlog logger on stderr. format: "text" or "json"
// (one JSON object per line: time, level, msg).
Result<void> setup_logging(const std::string& level, const std::string& format);

// Until then, an error in text format is why the command stops before it
// runs, and reads as the command-line parser's own do:
// "stallwatch: error: ..." on one line. After it, errors are timestamped
// log lines like every other. (JSON format: always a JSON line.)
void mark_running();

}  // namespace stallwatch::cli
