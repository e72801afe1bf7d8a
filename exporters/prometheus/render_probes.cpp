#include "exporters/prometheus/render_probes.h"

#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "common/names.h"

namespace stallwatch::exporters {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<double> probe_bounds_seconds() {
  std::vector<double> out;
  for (std::uint32_t i = 0; i < SW_PROBE_BUCKETS - 1; ++i) out.push_back(sw_probe_bound_ms(i) / 1000.0);
  return out;
}

std::vector<MetricFamily> render_probes(const reader::Snapshot& snap, const Labeler& labeler,
                                        const AddressNamer& addresses, std::size_t max_unmapped) {
  if (!snap.probes) return {};
  // namespace, pod, type, port, result, code
  using Key = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;
  std::map<Key, sw_probe_hist> merged;
  std::set<std::string> unmapped;
  for (const auto& s : snap.probe_series) {
    std::string ns, pod, port;
    if (s.key.type == SW_PROBE_EXEC) {
      const auto l = labeler.workload(s.key.cgroup);
      if (l.pod.empty()) continue;  // a host service started by systemd, not a probe
      ns = l.ns;
      pod = l.pod;
    } else {
      identity::Address addr{};
      std::copy(std::begin(s.key.addr), std::end(s.key.addr), addr.begin());
      port = std::to_string(s.key.port);
      // The pod whose socket accepted the connection (hostNetwork pods
      // share the node's addresses), else the pod holding the address.
      const auto server = s.key.cgroup ? labeler.workload(s.key.cgroup) : identity::Labels{};
      if (!server.pod.empty()) {
        ns = server.ns;
        pod = server.pod;
      } else if (auto l = addresses(addr, s.key.family)) {
        ns = l->ns;
        pod = l->pod;
      } else {
        pod = identity::address_text(addr, s.key.family);
        if (!unmapped.count(pod) && unmapped.size() >= max_unmapped) pod = "other";
        unmapped.insert(pod);
      }
    }
    auto& h = merged[{ns, pod, names::probe_type_name(s.key.type), port, names::probe_result_name(s.key.result),
                      names::probe_code_name(s.key.type, s.key.code)}];
    for (std::size_t i = 0; i < SW_PROBE_BUCKETS; ++i) h.buckets[i] += s.hist.buckets[i];
    h.sum_ns += s.hist.sum_ns;
  }
  MetricFamily duration{"stallwatch_probe_duration_seconds",
                        "Probes of the node's prober (connect to close) and exec probes (exec to exit), per "
                        "pod, type, port, result and answer code (HTTP status, gRPC health status).",
                        MetricType::Histogram,
                        {}};
  MetricFamily results{
      "stallwatch_probe_results_total", "Probes per pod, type, port and result.", MetricType::Counter, {}};
  static const auto bounds = probe_bounds_seconds();
  for (const auto& [key, h] : merged) {
    ClientMetric m;
    m.label = {{"namespace", std::get<0>(key)},
               {"pod", std::get<1>(key)},
               {"type", std::get<2>(key)},
               {"port", std::get<3>(key)},
               {"result", std::get<4>(key)},
               {"code", std::get<5>(key)}};
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += h.buckets[i];
      m.histogram.bucket.push_back({cumulative, bounds[i]});
    }
    cumulative += h.buckets[SW_PROBE_BUCKETS - 1];
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
    ClientMetric c;
    c.label = m.label;
    c.counter.value = static_cast<double>(cumulative);
    duration.metric.push_back(std::move(m));
    results.metric.push_back(std::move(c));
  }
  return {std::move(duration), std::move(results)};
}

}  // namespace stallwatch::exporters
