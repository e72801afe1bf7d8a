#pragma once
// The event log: one JSON object per line, to stdout or an append-only
// file. Lines are written whole and flushed at once, so a reader tailing
// the file never sees half an event.
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch::exporters {

class EventLog {
 public:
  // "-" is stdout; else the file is created (with its directory) or appended to.
  static Result<std::unique_ptr<EventLog>> open(const std::string& path);
  ~EventLog();

  void write(std::string_view line);
  const std::string& path() const { return path_; }
  std::uint64_t written() const;
  std::uint64_t failed() const;  // lines lost to write errors (disk full)

 private:
  EventLog() = default;
  std::string path_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  mutable std::mutex mu_;
  std::uint64_t written_ = 0;
  std::uint64_t failed_ = 0;
};

// Where events go without --events-file: a terminal shows them, a service
// keeps them under its state directory.
std::string default_events_path(const std::string& state_dir);

}  // namespace stallwatch::exporters
