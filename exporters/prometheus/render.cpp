#include "exporters/prometheus/render.h"

#include <limits>
#include <map>
#include <tuple>

namespace stallwatch::exporters {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

ClientMetric::Histogram to_client(const reader::Histogram& h) {
  static const auto bounds = reader::bucket_bounds_seconds();
  ClientMetric::Histogram out;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += h.buckets[i];
    out.bucket.push_back({cumulative, bounds[i]});
  }
  cumulative += h.buckets[SW_HIST_BUCKETS - 1];
  out.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  out.sample_count = cumulative;
  out.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  return out;
}

}  // namespace

std::vector<MetricFamily> render_fsync(const reader::FsyncSnapshot& snap, const Labeler& labeler) {
  using Key = std::tuple<std::string, std::string, std::string>;  // cgroup, op, device
  std::map<Key, reader::Histogram> merged;
  for (const auto& s : snap.series) {
    merged[{labeler.cgroup(s.cgroup_id), reader::fsync_op_name(s.op), labeler.device(s.dev)}] +=
        s.hist;
  }
  MetricFamily fsync{"stallwatch_fsync_duration_seconds",
                     "Time fsync-family calls waited, per cgroup, operation and device.",
                     MetricType::Histogram,
                     {}};
  for (const auto& [key, hist] : merged) {
    ClientMetric m;
    m.label = {{"cgroup", std::get<0>(key)}, {"device", std::get<2>(key)}, {"op", std::get<1>(key)}};
    m.histogram = to_client(hist);
    fsync.metric.push_back(std::move(m));
  }

  MetricFamily lost{"stallwatch_events_lost_total",
                    "Events the kernel side could not record, by source and reason.",
                    MetricType::Counter,
                    {}};
  for (std::uint32_t i = 0; i < SW_DROP__COUNT; ++i) {
    const auto name = reader::drop_name(i);
    ClientMetric m;
    m.label = {{"reason", name.reason}, {"source", name.source}};
    m.counter.value = static_cast<double>(snap.drops[i]);
    lost.metric.push_back(std::move(m));
  }
  return {std::move(fsync), std::move(lost)};
}

std::vector<MetricFamily> render_agent_info(const std::vector<HookInfo>& hooks,
                                            const BuildInfo& build) {
  MetricFamily hook{"stallwatch_hook_info",
                    "Hook rung in use per subsystem (value is always 1).",
                    MetricType::Gauge,
                    {}};
  for (const auto& h : hooks) {
    ClientMetric m;
    m.label = {{"mode", h.mode}, {"subsystem", h.subsystem}};
    m.gauge.value = 1;
    hook.metric.push_back(std::move(m));
  }
  MetricFamily info{"stallwatch_build_info",
                    "Build of the running agent (value is always 1).",
                    MetricType::Gauge,
                    {}};
  ClientMetric m;
  m.label = {{"libbpf_version", build.libbpf_version},
             {"revision", build.revision},
             {"version", build.version}};
  m.gauge.value = 1;
  info.metric.push_back(std::move(m));
  return {std::move(hook), std::move(info)};
}

}  // namespace stallwatch::exporters
