#pragma once
// One slow window (struct sw_blame_event) as one JSON line for the event log.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "blame/device_health.h"
#include "blame/io_limits.h"
#include "common/clock.h"
#include "identity/labels.h"
#include "stallwatch.h"

namespace stallwatch::events {

struct EventContext {
  std::function<identity::Labels(std::uint64_t cgroup_id)> labels;
  std::function<std::string(std::uint32_t dev)> device;    // "" for none
  // CLOCK_REALTIME - CLOCK_MONOTONIC, ns: turns the kernel's timestamps into wall-clock time.
  std::int64_t realtime_offset_ns = 0;
  std::string node;
  // What the disk's recent seconds say of it (provider throttling); may be empty.
  std::function<std::optional<blame::DeviceCondition>(std::uint32_t disk)> disk_condition;
  // The cgroup I/O limit above a victim (its cgroup2 path) on a disk; may be empty.
  std::function<std::optional<blame::IoLimit>(const std::string& victim_cgroup, std::uint32_t disk)> io_limit;
};

// The disk's condition as the slow event and the device event carry it.
nlohmann::json disk_condition_json(const blame::DeviceCondition& c);

nlohmann::json slow_event(const sw_blame_event& e, const EventContext& ctx);
std::string slow_event_json(const sw_blame_event& e, const EventContext& ctx);

}  // namespace stallwatch::events
