#pragma once
// A slow or failing probe (struct sw_probe_event) as one JSON line, linked
// to the slow fsyncs of the same pod that overlapped it: a handler that
// waited on the disk is why the probe was slow. Probe events wait a moment
// before they are written, so that an fsync ending after the probe can
// still be linked.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "identity/identity.h"
#include "identity/pod_addresses.h"
#include "stallwatch.h"

namespace stallwatch::events {

// Recent slow fsyncs by pod, for linking; bounded in time and count.
class SlowFsyncHistory {
 public:
  struct Entry {
    std::string ns, pod;
    std::uint64_t start_ns = 0, end_ns = 0;  // CLOCK_MONOTONIC
    nlohmann::json summary;                  // time, duration_ms, op, device, verdict, top culprit
  };
  // A slow-fsync event (slow_event()'s object) of a victim; kept if it names a pod.
  void add(const nlohmann::json& event, std::uint64_t start_ns, std::uint64_t end_ns);
  std::vector<nlohmann::json> overlapping(const std::string& ns, const std::string& pod, std::uint64_t start_ns,
                                          std::uint64_t end_ns) const;

 private:
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
};

struct ProbeContext {
  std::function<identity::Labels(std::uint64_t cgroup_id)> labels;
  std::function<std::optional<identity::Labels>(const identity::Address&, int family)> address;
  std::int64_t realtime_offset_ns = 0;
  std::string node;
};

nlohmann::json probe_event(const sw_probe_event& e, const ProbeContext& ctx, const SlowFsyncHistory& fsyncs);

// Holds probe events until `delay` after they ended, then writes them.
class ProbeEventQueue {
 public:
  ProbeEventQueue(ProbeContext ctx, const SlowFsyncHistory& fsyncs, std::function<void(const nlohmann::json&)> write,
                  std::chrono::nanoseconds delay = std::chrono::seconds(1));
  void push(const sw_probe_event& e);
  // Writes the events that ended at least `delay` before now_ns (CLOCK_MONOTONIC); all with flush_all.
  void flush(std::uint64_t now_ns, bool flush_all = false);

 private:
  ProbeContext ctx_;
  const SlowFsyncHistory& fsyncs_;
  std::function<void(const nlohmann::json&)> write_;
  std::uint64_t delay_ns_;
  std::mutex mu_;
  std::deque<sw_probe_event> pending_;
};

}  // namespace stallwatch::events
