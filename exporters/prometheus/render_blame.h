#pragma once
// stallwatch_fsync_blame_* families: blamed time per (victim, culprit,
// device, kind) and the windows themselves.
#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "exporters/prometheus/render.h"

namespace stallwatch::exporters {

struct BlameStats {
  std::size_t victim_processes = 0;
  std::size_t victim_cgroups = 0;
  std::uint64_t events_written = 0;
  std::uint64_t events_failed = 0;  // event-log writes that failed (disk full)
};

// Bounds the culprits per victim. At each scrape the biggest culprits (by
// blamed time) get series of their own, up to per_victim; once given, a
// series stays, so no counter ever moves between series. The rest are
// summed into culprit_cgroup="other". What a culprit had accumulated while
// folded stays in "other" (its own series starts from the admission), so
// "other" never goes down either.
class CulpritBudget {
 public:
  explicit CulpritBudget(std::size_t per_victim) : per_victim_(per_victim) {}

  // (device, kind) -> ns for one (victim, culprit)
  using Parts = std::map<std::pair<std::string, std::string>, std::uint64_t>;
  // culprit -> parts, for one victim. Returns the series to show: admitted
  // culprits with their offsets taken off, and the rest folded into "other".
  std::map<identity::Labels, Parts> fold(const identity::Labels& victim,
                                         const std::map<identity::Labels, Parts>& culprits);
  std::size_t per_victim() const { return per_victim_; }

 private:
  std::size_t per_victim_;
  std::mutex mu_;
  // (victim, culprit) -> parts at admission (time accounted to "other" until then)
  std::map<std::pair<identity::Labels, identity::Labels>, Parts> admitted_;
};

std::vector<prometheus::MetricFamily> render_blame(const reader::Snapshot& snap, const Labeler& labeler,
                                                   CulpritBudget& budget, const BlameStats& stats);

}  // namespace stallwatch::exporters
