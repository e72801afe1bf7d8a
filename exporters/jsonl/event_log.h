#pragma once
// The event log: one JSON object per line, to stdout or a file that rotates
// by size. Callers (the ring-buffer readers) only queue a line; one writer
// thread writes it whole and flushes, so a reader tailing the file never
// sees half an event, and a slow stdout or a full disk never stalls the
// kernel side: lines that find the queue full are dropped, lines the disk
// refuses fail, and both are counted.
//
// spdlog's rotating file sink rotates the same way but cannot reopen its
// file after an outside rotation (logrotate's move and SIGHUP), and it
// blocks or silently overwrites when its queue is full; hence this class.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"

namespace stallwatch::exporters {

struct EventLogConfig {
  std::string path;                        // "-" is stdout
  std::uint64_t max_bytes = 64ull << 20;   // a file past this is rotated; 0: never
  unsigned keep = 4;                       // rotated files kept: path.1 (newest) .. path.keep
  std::size_t queue_lines = 8192;          // lines waiting for the writer; past it, dropped
  bool hold_until_header = false;          // queue lines until set_header(): the header comes first
};

struct EventLogStats {
  std::uint64_t written = 0;
  std::uint64_t failed = 0;   // the file refused them (disk full, I/O error)
  std::uint64_t dropped = 0;  // the queue was full (the output is slower than the events)
  std::uint64_t rotations = 0;
};

class EventLog {
 public:
  // The file is created (with its directory) or appended to.
  static Result<std::unique_ptr<EventLog>> open(const EventLogConfig& config);
  ~EventLog();  // writes what is queued, then stops the writer

  // Queues one line; never waits for the output.
  void write(std::string line);
  // The line every file starts with (the agent's start event): written now,
  // before anything queued, and again at the top of each new file after a
  // rotation or a reopen, so that each file shipped on its own says what
  // wrote it. Not counted in stats().
  void set_header(std::string line);
  // Closes and reopens the file by its path (after logrotate moved it).
  void reopen();
  const std::string& path() const { return config_.path; }
  EventLogStats stats() const;

 private:
  explicit EventLog(EventLogConfig config) : config_(std::move(config)) {}
  Result<void> open_file();
  void run();
  void put(const std::string& line);
  bool put_raw(const std::string& line);
  void rotate();

  EventLogConfig config_;
  std::FILE* out_ = nullptr;
  std::uint64_t bytes_ = 0;  // in the current file
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  bool reopen_ = false;
  bool held_ = false;         // lines wait for the header
  bool header_due_ = false;   // the header goes out before the next line
  std::string header_;
  EventLogStats stats_;
  std::jthread writer_;
};

// Where events go without --events-file: a terminal shows them, a service
// keeps them under its state directory.
std::string default_events_path(const std::string& state_dir);

}  // namespace stallwatch::exporters
