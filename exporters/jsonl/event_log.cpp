#include "exporters/jsonl/event_log.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace stallwatch::exporters {

Result<std::unique_ptr<EventLog>> EventLog::open(const std::string& path) {
  std::unique_ptr<EventLog> log(new EventLog());
  log->path_ = path;
  if (path == "-") {
    log->out_ = stdout;
    return log;
  }
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return fail("event log " + path + ": create " + dir.string() + ": " + ec.message());
  log->out_ = std::fopen(path.c_str(), "ae");
  if (!log->out_) return fail("event log " + path + ": " + errno_text(errno));
  log->owned_ = true;
  return log;
}

EventLog::~EventLog() {
  if (owned_) std::fclose(out_);
}

void EventLog::write(std::string_view line) {
  std::lock_guard lock(mu_);
  const bool ok = std::fwrite(line.data(), 1, line.size(), out_) == line.size() && std::fputc('\n', out_) != EOF &&
                  std::fflush(out_) == 0;
  if (ok) {
    ++written_;
  } else {
    ++failed_;
    std::clearerr(out_);
  }
}

std::uint64_t EventLog::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

std::uint64_t EventLog::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::string default_events_path(const std::string& state_dir) {
  return ::isatty(STDOUT_FILENO) ? "-" : (std::filesystem::path(state_dir) / "events.jsonl").string();
}

}  // namespace stallwatch::exporters
