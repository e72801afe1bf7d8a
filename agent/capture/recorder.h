#pragma once
// What `stallwatch capture` keeps: every event and one-second sample once
// recording, and before a --trigger fires a ring of the last --pre of them,
// written to events.jsonl and timeseries.jsonl in the bundle directory and
// bounded by a byte budget. Thread-safe: events arrive on ring-buffer
// threads, samples on the capture loop.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "capture/trigger.h"
#include "events/event_line.h"
#include "live/sampler.h"

namespace stallwatch::capture {

// CLOCK_REALTIME now, ns: what samples are stamped with.
inline std::int64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

class Recorder {
 public:
  Recorder(std::filesystem::path dir, std::optional<Trigger> trigger, std::chrono::nanoseconds pre,
           std::uint64_t budget)
      : dir_(std::move(dir)),
        trigger_(std::move(trigger)),
        pre_ns_(pre.count()),
        budget_(budget),
        recording_(!trigger_),
        events_(dir_ / "events.jsonl", std::ios::app),
        series_(dir_ / "timeseries.jsonl", std::ios::app) {}

  void event(const nlohmann::json& e) {
    std::lock_guard lock(mu_);
    ++seen_;
    if (trigger_ && trigger_->matches(e)) ++matches_;
    if (!recording_ && trigger_ && trigger_->matches(e)) {
      recording_ = true;
      triggered_at_ = wall_ns();
      trigger_event_ = e;
      flush_ring_locked();
    }
    if (recording_) {
      keep_locked(e);
    } else {
      ring_events_.push_back({wall_ns(), e});
      trim_ring_locked();
    }
  }

  void sample(const live::Sample& s) {
    std::lock_guard lock(mu_);
    if (recording_) {
      keep_locked(s);
    } else {
      ring_samples_.push_back(s);
      trim_ring_locked();
    }
  }

  // At the end: if the trigger never fired, the last --pre is still worth keeping.
  void finish() {
    std::lock_guard lock(mu_);
    if (!recording_) flush_ring_locked();
  }

  // The data's share of --max-size, once the fixed files' sizes are known.
  void set_budget(std::uint64_t bytes) {
    std::lock_guard lock(mu_);
    budget_ = bytes;
  }

  bool recording() const {
    std::lock_guard lock(mu_);
    return recording_;
  }
  bool full() const {
    std::lock_guard lock(mu_);
    return full_;
  }
  std::string write_error() const {
    std::lock_guard lock(mu_);
    return write_error_;
  }
  std::int64_t triggered_at() const {
    std::lock_guard lock(mu_);
    return triggered_at_;
  }
  std::uint64_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::uint64_t seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::uint64_t matches() const {
    std::lock_guard lock(mu_);
    return matches_;
  }
  std::vector<nlohmann::json> events() const {
    std::lock_guard lock(mu_);
    return kept_events_;
  }
  std::vector<live::Sample> samples() const {
    std::lock_guard lock(mu_);
    return kept_samples_;
  }
  nlohmann::json trigger_event() const {
    std::lock_guard lock(mu_);
    return trigger_event_;
  }

 private:
  // Data lines count half again: the report grows with them.
  bool room_locked(std::size_t n) {
    if (full_) return false;
    if ((bytes_ + n) * 3 / 2 > budget_) {
      full_ = true;
      return false;
    }
    return true;
  }
  void keep_locked(const nlohmann::json& e) {
    const std::string line = events::event_line(e) + "\n";
    if (!room_locked(line.size())) return;
    if (!(events_ << line) || !events_.flush()) {
      full_ = true;
      write_error_ = "events.jsonl: write failed (disk full?)";
      return;
    }
    bytes_ += line.size();
    kept_events_.push_back(e);
  }
  void keep_locked(const live::Sample& s) {
    const std::string line = s.to_json().dump() + "\n";
    if (!room_locked(line.size())) return;
    if (!(series_ << line) || !series_.flush()) {
      full_ = true;
      write_error_ = "timeseries.jsonl: write failed (disk full?)";
      return;
    }
    bytes_ += line.size();
    kept_samples_.push_back(s);
  }
  void trim_ring_locked() {
    const std::int64_t oldest = wall_ns() - pre_ns_;
    while (!ring_events_.empty() && ring_events_.front().first < oldest) ring_events_.pop_front();
    while (!ring_samples_.empty() && ring_samples_.front().realtime_ns < oldest) ring_samples_.pop_front();
  }
  void flush_ring_locked() {
    for (const auto& s : ring_samples_) keep_locked(s);
    for (const auto& [t, e] : ring_events_) keep_locked(e);
    ring_samples_.clear();
    ring_events_.clear();
  }

  std::filesystem::path dir_;
  std::optional<Trigger> trigger_;
  std::int64_t pre_ns_;
  std::uint64_t budget_;
  mutable std::mutex mu_;
  bool recording_;
  bool full_ = false;
  std::string write_error_;
  std::int64_t triggered_at_ = 0;
  nlohmann::json trigger_event_;
  std::uint64_t bytes_ = 0, seen_ = 0, matches_ = 0;
  std::ofstream events_, series_;
  std::deque<std::pair<std::int64_t, nlohmann::json>> ring_events_;
  std::deque<live::Sample> ring_samples_;
  std::vector<nlohmann::json> kept_events_;
  std::vector<live::Sample> kept_samples_;
};

}  // namespace stallwatch::capture
