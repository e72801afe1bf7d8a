#pragma once
// What `run`, `capture` and `top` share: every subsystem loaded on its best
// rung, the readers, identity, victims, and the slow-fsync and probe event
// streams handed to one sink as JSON. One per process; destroying it stops
// the ring buffers first, then detaches the programs.
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blame/cost_model.h"
#include "blame/device_health.h"
#include "blame/io_limits.h"
#include "cli/options.h"
#include "cli/startup.h"
#include "exporters/prometheus/collector.h"
#include "loader/cgroup_probes.h"
#include "loader/host_facts.h"

namespace stallwatch::blame {
class Victims;
}  // namespace stallwatch::blame
namespace stallwatch::events {
class SlowFsyncHistory;
class ProbeEventQueue;
}  // namespace stallwatch::events
namespace stallwatch::identity {
class DeviceNames;
class PodAddresses;
}  // namespace stallwatch::identity
namespace stallwatch::reader {
class MapReader;
class RingEvents;
}  // namespace stallwatch::reader

namespace stallwatch::cli {

// Where slow-fsync and probe events go. Called from ring-buffer threads
// and the tick; must be thread-safe.
struct EventSink {
  std::function<void(const nlohmann::json&)> write;
  std::function<std::pair<std::uint64_t, std::uint64_t>()> stats;  // written, failed
};

class Session {
 public:
  // Loads everything; on failure logs one line and returns the exit code
  // (2 usage, 1 host).
  static std::expected<std::unique_ptr<Session>, int> start(const Options& options, EventSink sink);
  ~Session();

  // Once a second: victims, pod addresses, delayed probe events, stale
  // requests, removed cgroups.
  void tick();
  // Logs the start-up summary (rungs, self-test, victims); `serving` is the
  // metrics server's part of the first line, empty without one.
  void log_started(const std::string& serving) const;
  // The event log's first line (docs/events.md): version, hooks, victims.
  nlohmann::json start_event() const;
  // A bundle's host.json: the node, kernel, cgroups, hooks and victims.
  nlohmann::json host_json(const Options& options) const;
  // /metrics as a scrape would get it now.
  std::string metrics_text() const;

  reader::MapReader& maps() { return *maps_; }
  const std::shared_ptr<exporters::AgentCollector>& collector() const { return collector_; }
  const identity::Labeler& labeler() const { return labeler_; }
  const std::vector<exporters::HookInfo>& hooks() const { return hooks_; }
  const loader::HostFacts& facts() const { return facts_; }
  const std::string& node() const { return node_; }
  identity::Identity& identity() { return *identity_; }
  std::string device_name(std::uint32_t dev) const;
  bool blame_on() const;
  bool probes_on() const;
  std::size_t victim_processes() const { return victim_processes_; }
  std::size_t victim_cgroups() const { return victim_cgroups_; }
  const std::vector<blame::VictimSelector>& victim_selectors() const { return configs_.victims; }

 private:
  Session() = default;
  int load_programs(const Result<loader::Tracefs>& tracefs);  // 0, or the exit code
  int start_views();
  int start_event_streams();
  void refresh_victims();
  void refresh_stacks();
  void update_cost_model();
  void update_disk_health(const std::vector<std::pair<sw_cost_key, sw_cost_stats>>& sums);

  Options options_;
  loader::HostFacts facts_;
  std::string node_;
  Configs configs_;
  EventSink sink_;
  std::vector<loader::RungReport> report_;
  Result<Loaded> loaded_ = fail("not loaded");
  Result<loader::CgroupProbes> cgroup_probes_ = fail("not loaded");
  std::string selftest_line_;
  std::string selftest_error_;
  std::string selftest_dir_;
  std::vector<exporters::SelfTestInfo> selftest_rows_;
  std::unique_ptr<reader::MapReader> maps_;
  std::shared_ptr<identity::Identity> identity_;
  std::shared_ptr<identity::DeviceNames> devices_;
  std::shared_ptr<identity::PodAddresses> addresses_;
  std::shared_ptr<std::atomic<bool>> cgroups_changed_ = std::make_shared<std::atomic<bool>>(false);
  identity::Labeler labeler_;
  std::vector<exporters::HookInfo> hooks_;
  std::shared_ptr<exporters::AgentCollector> collector_;
  std::unique_ptr<blame::Victims> victims_;
  std::unique_ptr<events::SlowFsyncHistory> fsync_history_;
  std::unique_ptr<events::ProbeEventQueue> probe_queue_;
  std::atomic<std::size_t> victim_processes_{0}, victim_cgroups_{0};
  bool block_owner_ = false;
  blame::CostModel cost_model_;
  // Provider throttling per victim disk, from the cost model's sums; read by
  // the slow events' thread and by scrapes.
  std::shared_ptr<blame::DeviceHealth> disk_health_ = std::make_shared<blame::DeviceHealth>();
  // cgroup I/O limits above the victims; read by the slow events' thread.
  std::shared_ptr<blame::IoLimits> io_limits_;
  std::chrono::steady_clock::time_point cost_logged_{};
  // Filesystems on storage stacks: re-read every 10 s (volumes and
  // containers come and go); rows are read by scrapes.
  struct Stacks {
    std::mutex mu;
    std::vector<exporters::StackInfo> rows;
    std::map<std::uint32_t, std::vector<std::uint32_t>> logged;  // superblock dev_t -> disks, as last logged
  };
  std::shared_ptr<Stacks> stacks_ = std::make_shared<Stacks>();
  std::chrono::steady_clock::time_point stacks_checked_{};
  // Last: destroyed first, before the programs that feed them.
  std::unique_ptr<reader::RingEvents> cgroup_events_, slow_events_, probe_events_;
};

}  // namespace stallwatch::cli
