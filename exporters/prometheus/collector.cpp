#include "exporters/prometheus/collector.h"

#include <spdlog/spdlog.h>

namespace stallwatch::exporters {

AgentCollector::AgentCollector(FsyncSource fsync, Labeler labeler, std::vector<HookInfo> hooks,
                               BuildInfo build)
    : fsync_(std::move(fsync)),
      labeler_(std::move(labeler)),
      hooks_(std::move(hooks)),
      build_(std::move(build)) {}

std::vector<prometheus::MetricFamily> AgentCollector::Collect() const {
  auto families = render_agent_info(hooks_, build_);
  auto snap = fsync_();
  if (!snap) {
    // A failed read leaves the series out of this scrape rather than exporting zeros.
    spdlog::error("scrape: {}", snap.error().message);
    return families;
  }
  auto fsync = render_fsync(*snap, labeler_);
  families.insert(families.end(), std::make_move_iterator(fsync.begin()),
                  std::make_move_iterator(fsync.end()));
  return families;
}

}  // namespace stallwatch::exporters
