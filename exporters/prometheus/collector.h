#pragma once
// The Collectable: reads the kernel maps at scrape time, keeps no copy.
#include <prometheus/collectable.h>

#include <functional>

#include "common/result.h"
#include "exporters/prometheus/render.h"
#include "exporters/prometheus/render_blame.h"
#include "exporters/prometheus/render_probes.h"

#include <memory>

namespace stallwatch::exporters {

class AgentCollector : public prometheus::Collectable {
 public:
  using Source = std::function<Result<reader::Snapshot>()>;
  using StatsSource = std::function<IdentityStats()>;
  AgentCollector(Source source, Labeler labeler, StatsSource identity, std::vector<HookInfo> hooks, BuildInfo build,
                 std::vector<SelfTestInfo> selftest);

  // Blame series, bounded by budget; stats says what the victims are now.
  void enable_blame(std::shared_ptr<CulpritBudget> budget, std::function<BlameStats()> stats);

  // The event log's counters (run only: capture writes a bundle instead).
  void enable_event_log(std::function<EventLogInfo()> info);
  // The flight recorder's counters (run only, when it is on).
  void enable_recorder(std::function<RecorderInfo()> info);

  // Probe series; addresses names the pods of probe destinations.
  void enable_probes(AddressNamer addresses);

  // Filesystems on storage stacks and their disks.
  void enable_stacks(std::function<std::vector<StackInfo>()> stacks);

  // Victims' disks: throttled by their provider or not.
  void enable_disk_conditions(std::function<std::vector<DiskConditionInfo>()> disks);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Source source_;
  Labeler labeler_;
  StatsSource identity_;
  std::vector<HookInfo> hooks_;
  BuildInfo build_;
  std::vector<SelfTestInfo> selftest_;
  std::shared_ptr<CulpritBudget> budget_;
  std::function<BlameStats()> blame_stats_;
  AddressNamer addresses_;
  std::function<EventLogInfo()> event_log_;
  std::function<RecorderInfo()> recorder_;
  std::function<std::vector<StackInfo>()> stacks_;
  std::function<std::vector<DiskConditionInfo>()> disks_;
};

}  // namespace stallwatch::exporters
