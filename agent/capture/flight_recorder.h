#pragma once
// The flight recorder of `stallwatch run`: every slow and probe event, the
// one-second samples `capture` records, and a metrics snapshot every 10 s,
// appended to segment files under DIR so that `stallwatch report
// --state-dir` can render any past window. Bounded by size and age: a
// segment holds at most an hour or a sixteenth of the size bound, and the
// oldest segments go first.
//
// Segment NNN.jsonl (NNN: its first record's CLOCK_REALTIME ns, 19 digits)
// holds one record per line: {"t":ns,"k":"host"|"sample"|"event","v":...},
// host first. NNN.prom.gz holds the metrics snapshots, one gzip member each
// ("# stallwatch snapshot <ns>" before the text, "# end <ns>" after it).
// A record is one write(2) on an O_APPEND file: kill -9 loses nothing the
// call returned for, and a crash or a full disk tears at most the record
// being written, which readers skip. After a torn write the next record
// starts on a line of its own. No fsync: a power cut loses what the page
// cache held.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "live/sampler.h"

namespace stallwatch::capture {

struct FlightRecorderConfig {
  std::filesystem::path dir;
  std::uint64_t max_bytes = 256ULL << 20;
  std::int64_t max_age_ns = 24LL * 3600 * 1'000'000'000;
  nlohmann::json host;  // host.json's content, at the head of every segment
};

struct FlightRecorderStats {
  std::uint64_t records = 0;  // written whole
  std::uint64_t dropped = 0;  // not written (a full disk, an I/O error)
  std::uint64_t bytes = 0;    // the segments' size now
  std::uint64_t removed = 0;  // segments removed for the bounds
};

class FlightRecorder {
 public:
  static constexpr std::uint64_t kMinBytes = 1ULL << 20;
  // Creates dir if needed; an existing recorder's segments are kept and
  // counted against the bounds, and a new segment begins.
  static Result<std::unique_ptr<FlightRecorder>> open(FlightRecorderConfig config);

  // What host.json says, once the hooks are known: recorded again at once
  // when a segment is open, and at the head of every later one.
  void set_host(const nlohmann::json& host, std::int64_t realtime_ns);
  void event(const nlohmann::json& e, std::int64_t realtime_ns);
  void sample(const live::Sample& s);
  void metrics(const std::string& prom_text, std::int64_t realtime_ns);
  FlightRecorderStats stats() const;
  const std::filesystem::path& dir() const { return config_.dir; }

 private:
  explicit FlightRecorder(FlightRecorderConfig config) : config_(std::move(config)) {}
  void append_locked(const char* kind, std::int64_t t, const nlohmann::json& v);
  bool write_locked(const std::string& line);
  void start_segment_locked(std::int64_t t);
  void prune_locked(std::int64_t now);

  FlightRecorderConfig config_;
  mutable std::mutex mu_;
  UniqueFd fd_;       // NNN.jsonl
  UniqueFd prom_fd_;  // NNN.prom.gz, opened at the segment's first snapshot
  std::filesystem::path segment_;  // the one being written, without extension
  std::int64_t segment_start_ = 0;
  std::uint64_t segment_bytes_ = 0;
  bool torn_ = false;  // the last write stopped mid-line
  FlightRecorderStats stats_;
  std::string last_error_;
};

}  // namespace stallwatch::capture
