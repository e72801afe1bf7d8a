#pragma once
// The Collectable: reads the kernel maps at scrape time, keeps no copy.
#include <prometheus/collectable.h>

#include <functional>

#include "common/result.h"
#include "exporters/prometheus/render.h"

namespace stallwatch::exporters {

class AgentCollector : public prometheus::Collectable {
 public:
  using Source = std::function<Result<reader::Snapshot>()>;
  using StatsSource = std::function<IdentityStats()>;
  AgentCollector(Source source, Labeler labeler, StatsSource identity, std::vector<HookInfo> hooks,
                 BuildInfo build, std::vector<SelfTestInfo> selftest);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Source source_;
  Labeler labeler_;
  StatsSource identity_;
  std::vector<HookInfo> hooks_;
  BuildInfo build_;
  std::vector<SelfTestInfo> selftest_;
};

}  // namespace stallwatch::exporters
