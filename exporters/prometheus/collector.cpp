#include "exporters/prometheus/collector.h"

#include <spdlog/spdlog.h>

namespace stallwatch::exporters {

AgentCollector::AgentCollector(Source source, Labeler labeler, StatsSource identity, std::vector<HookInfo> hooks,
                               BuildInfo build, std::vector<SelfTestInfo> selftest)
    : source_(std::move(source)),
      labeler_(std::move(labeler)),
      identity_(std::move(identity)),
      hooks_(std::move(hooks)),
      build_(std::move(build)),
      selftest_(std::move(selftest)) {}

void AgentCollector::enable_blame(std::shared_ptr<CulpritBudget> budget, std::function<BlameStats()> stats) {
  budget_ = std::move(budget);
  blame_stats_ = std::move(stats);
}

void AgentCollector::enable_event_log(std::function<EventLogInfo()> info) { event_log_ = std::move(info); }

void AgentCollector::enable_recorder(std::function<RecorderInfo()> info) { recorder_ = std::move(info); }

void AgentCollector::enable_probes(AddressNamer addresses) { addresses_ = std::move(addresses); }

void AgentCollector::enable_stacks(std::function<std::vector<StackInfo>()> stacks) { stacks_ = std::move(stacks); }
void AgentCollector::enable_disk_conditions(std::function<std::vector<DiskConditionInfo>()> disks) {
  disks_ = std::move(disks);
}

std::vector<prometheus::MetricFamily> AgentCollector::Collect() const {
  auto families = render_agent_info(hooks_, build_, selftest_);
  if (event_log_) {
    for (auto& f : render_event_log(event_log_())) families.push_back(std::move(f));
  }
  if (recorder_) {
    for (auto& f : render_recorder(recorder_())) families.push_back(std::move(f));
  }
  if (disks_) {
    for (auto& f : render_disk_conditions(disks_())) families.push_back(std::move(f));
  }
  if (stacks_) {
    for (auto& f : render_stacks(stacks_())) families.push_back(std::move(f));
  }
  auto snap = source_();
  if (!snap) {
    // A failed read leaves the series out of this scrape rather than exporting zeros.
    spdlog::error("scrape: {}", snap.error().message);
    return families;
  }
  for (auto part :
       {render_fsync(*snap, labeler_), render_block(*snap, labeler_), render_lost(*snap), render_identity(identity_()),
        budget_ ? render_blame(*snap, labeler_, *budget_, blame_stats_()) : std::vector<prometheus::MetricFamily>{},
        addresses_ ? render_probes(*snap, labeler_, addresses_) : std::vector<prometheus::MetricFamily>{}}) {
    families.insert(families.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return families;
}

}  // namespace stallwatch::exporters
