#pragma once
// Reading the flight recorder's segments back (the format is in
// flight_recorder.h): what a window of the past holds, for `stallwatch
// report --state-dir`, and what the whole recorder holds, for `--list`.
// Lines that are not whole records (a write torn by a crash or a full
// disk) are skipped and counted.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "live/sampler.h"

namespace stallwatch::capture {

struct Segment {
  std::filesystem::path base;  // without .jsonl / .prom.gz
  std::int64_t start_ns = 0;
  std::uint64_t bytes = 0;  // both files
};

// "0001764820800000000000": the segment's first record time, sortable.
std::string segment_name(std::int64_t start_ns);
// Oldest first; files not named as segments are left out.
std::vector<Segment> list_segments(const std::filesystem::path& dir);
std::uint64_t file_size_or_zero(const std::filesystem::path& p);

struct Window {
  std::vector<nlohmann::json> events;
  std::vector<live::Sample> samples;
  nlohmann::json host = nlohmann::json::object();  // the last host record before the window's end
  std::string metrics_first, metrics_last;          // the first and last snapshots inside the window
  std::int64_t metrics_first_ns = 0, metrics_last_ns = 0;
  std::uint64_t torn = 0;  // lines and snapshots that were not whole
};

// Records with since <= t <= until.
Window read_window(const std::filesystem::path& dir, std::int64_t since, std::int64_t until);

struct Holdings {
  std::int64_t first_ns = 0, last_ns = 0;
  std::uint64_t bytes = 0, segments = 0, samples = 0, torn = 0;
  // Per hour (its start, ns): slow events and probe events.
  std::map<std::int64_t, std::pair<std::uint64_t, std::uint64_t>> per_hour;
};

Holdings survey(const std::filesystem::path& dir);

}  // namespace stallwatch::capture
