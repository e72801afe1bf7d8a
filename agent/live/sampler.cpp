#include "live/sampler.h"

#include <set>
#include <tuple>

#include "blame/verdict.h"
#include "common/names.h"

namespace stallwatch::live {

namespace {

using identity::labels_json;

identity::Labels labels_of(const nlohmann::json& j) {
  return {j.value("namespace", ""), j.value("pod", ""), j.value("container", ""), j.value("cgroup", "")};
}

// A blame series' identity: (victim, culprit, device, kind).
using BlameId = std::tuple<std::uint64_t, std::uint64_t, std::uint32_t, std::uint8_t>;
BlameId id_of(const sw_blame_key& k) { return {k.victim, k.culprit, k.dev, k.kind}; }

}  // namespace

double quantile(const reader::Histogram& h, double q) {
  static const auto bounds = reader::bucket_bounds_seconds();
  const std::uint64_t total = h.count();
  if (!total) return 0;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < SW_HIST_BUCKETS; ++i) {
    cumulative += h.buckets[i];
    if (static_cast<double>(cumulative) >= q * static_cast<double>(total)) {
      return i < bounds.size() ? bounds[i] : bounds.back() * 2;
    }
  }
  return bounds.back() * 2;
}

std::optional<Sample> Sampler::next(const reader::Snapshot& snap, std::int64_t realtime_ns, double interval_s) {
  if (!prev_) {
    prev_ = snap;
    return std::nullopt;
  }
  Sample out;
  out.realtime_ns = realtime_ns;
  out.interval_s = interval_s;

  // Victims: every cgroup with blame windows, and its fsync histograms.
  std::map<std::uint64_t, VictimSample> victims;
  std::map<std::uint64_t, std::set<std::uint32_t>> victim_devs;
  // One lookup per series, not a scan of the previous snapshot each.
  std::map<BlameId, sw_blame_val> before;
  for (const auto& s : prev_->blame_series) before[id_of(s.key)] = s.val;
  for (const auto& s : snap.blame_series) {
    const auto found = before.find(id_of(s.key));
    const sw_blame_val old = found == before.end() ? sw_blame_val{} : found->second;
    const double d_s = static_cast<double>(s.val.ns - std::min(s.val.ns, old.ns)) / 1e9;
    auto& v = victims[s.key.victim];
    if (s.key.dev) victim_devs[s.key.victim].insert(s.key.dev);
    if (s.key.kind == SW_BLAME_WINDOW) {
      v.wall_s += d_s;
      continue;
    }
    if (d_s <= 0) continue;
    v.kinds_s[std::string(names::blame_kind_name(s.key.kind))] += d_s;
    if (!s.key.culprit) continue;
    const std::string culprit = labeler_.workload(s.key.culprit).cgroup;
    v.culprits_s[culprit] += d_s;
    // As the slow events count it: the journal writing someone else's data.
    if (s.key.culprit != s.key.victim && culprit != "/") {
      if (s.key.kind == SW_BLAME_JOURNAL) v.journal_of_neighbours_s += d_s;
      if (s.key.kind == SW_BLAME_CPU) v.cpu_of_neighbours_s += d_s;
    }
  }
  for (auto& [id, v] : victims) {
    reader::Histogram now, then;
    for (const auto& f : snap.fsync) {
      if (f.cgroup_id == id) now += f.hist;
    }
    for (const auto& f : prev_->fsync) {
      if (f.cgroup_id == id) then += f.hist;
    }
    reader::Histogram d;
    for (std::size_t i = 0; i < SW_HIST_BUCKETS; ++i)
      d.buckets[i] = now.buckets[i] - std::min(now.buckets[i], then.buckets[i]);
    v.calls = d.count();
    v.p50_s = quantile(d, 0.5);
    v.p99_s = quantile(d, 0.99);
    static const auto bounds = reader::bucket_bounds_seconds();
    for (std::size_t i = 0; i < SW_HIST_BUCKETS; ++i) {
      if (d.buckets[i]) v.hist.emplace_back(i < bounds.size() ? bounds[i] : 0.0, d.buckets[i]);
    }
    v.labels = labeler_.workload(id);
    for (auto dev : victim_devs[id]) v.devices.push_back(labeler_.device(dev));
    out.victims.push_back(std::move(v));
  }

  // Block I/O per (cgroup, device).
  std::map<std::pair<identity::Labels, std::string>, IoSample> io;
  const auto add_io = [&](const reader::BlockIoSeries& s, int sign) {
    const std::uint64_t cg = labeler_.block_owner && s.key.owner ? s.key.owner : s.key.submitter;
    const auto labels = labeler_.workload(cg);
    const auto device = labeler_.device(s.key.dev);
    auto& v = io[{labels, device}];
    v.labels = labels;
    v.device = device;
    v.requests += sign * s.io.requests;
    v.bytes += sign * s.io.bytes;
    v.busy_s += sign * static_cast<double>(s.io.busy_ns) / 1e9;
  };
  for (const auto& s : snap.block_io) add_io(s, 1);
  for (const auto& s : prev_->block_io) add_io(s, -1);  // unsigned wrap undone by the adds above
  for (auto& [key, v] : io) {
    if (v.requests && static_cast<std::int64_t>(v.requests) > 0) out.io.push_back(v);
  }

  // Probes per (pod, type, result): counts in the interval.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::int64_t> probes;
  for (const auto& s : snap.probe_series) {
    std::uint64_t n = 0;
    for (auto b : s.hist.buckets) n += b;
    auto l = s.key.cgroup ? labeler_.workload(s.key.cgroup) : identity::Labels{};
    probes[{l.ns, l.pod, names::probe_type_name(s.key.type), names::probe_result_name(s.key.result)}] += n;
  }
  for (const auto& s : prev_->probe_series) {
    std::uint64_t n = 0;
    for (auto b : s.hist.buckets) n += b;
    auto l = s.key.cgroup ? labeler_.workload(s.key.cgroup) : identity::Labels{};
    probes[{l.ns, l.pod, names::probe_type_name(s.key.type), names::probe_result_name(s.key.result)}] -= n;
  }
  for (const auto& [k, n] : probes) {
    if (n > 0)
      out.probes.push_back(
          {std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), static_cast<std::uint64_t>(n)});
  }
  prev_ = snap;
  return out;
}

nlohmann::json Sample::to_json() const {
  nlohmann::json j = {{"t", realtime_ns}, {"interval_s", interval_s}};
  j["victims"] = nlohmann::json::array();
  for (const auto& v : victims) {
    j["victims"].push_back({{"labels", labels_json(v.labels)},
                            {"calls", v.calls},
                            {"p50_s", v.p50_s},
                            {"p99_s", v.p99_s},
                            {"hist", v.hist},
                            {"wall_s", v.wall_s},
                            {"kinds_s", v.kinds_s},
                            {"culprits_s", v.culprits_s},
                            {"journal_of_neighbours_s", v.journal_of_neighbours_s},
                            {"cpu_of_neighbours_s", v.cpu_of_neighbours_s},
                            {"devices", v.devices}});
  }
  j["io"] = nlohmann::json::array();
  for (const auto& v : io) {
    j["io"].push_back({{"labels", labels_json(v.labels)},
                       {"device", v.device},
                       {"requests", v.requests},
                       {"bytes", v.bytes},
                       {"busy_s", v.busy_s}});
  }
  j["probes"] = nlohmann::json::array();
  for (const auto& p : probes) {
    j["probes"].push_back(
        {{"namespace", p.ns}, {"pod", p.pod}, {"type", p.type}, {"result", p.result}, {"count", p.count}});
  }
  return j;
}

Sample Sample::from_json(const nlohmann::json& j) {
  Sample s;
  s.realtime_ns = j.value("t", std::int64_t{0});
  s.interval_s = j.value("interval_s", 0.0);
  for (const auto& v : j.value("victims", nlohmann::json::array())) {
    VictimSample x;
    x.labels = labels_of(v.at("labels"));
    x.calls = v.value("calls", std::uint64_t{0});
    x.p50_s = v.value("p50_s", 0.0);
    x.p99_s = v.value("p99_s", 0.0);
    // Bundles from before the histograms were sampled have none.
    x.hist = v.value("hist", std::vector<std::pair<double, std::uint64_t>>{});
    x.wall_s = v.value("wall_s", 0.0);
    x.kinds_s = v.value("kinds_s", std::map<std::string, double>{});
    x.culprits_s = v.value("culprits_s", std::map<std::string, double>{});
    x.journal_of_neighbours_s = v.value("journal_of_neighbours_s", 0.0);
    x.cpu_of_neighbours_s = v.value("cpu_of_neighbours_s", 0.0);
    x.devices = v.value("devices", std::vector<std::string>{});
    s.victims.push_back(std::move(x));
  }
  for (const auto& v : j.value("io", nlohmann::json::array())) {
    s.io.push_back({labels_of(v.at("labels")), v.value("device", ""), v.value("requests", std::uint64_t{0}),
                    v.value("bytes", std::uint64_t{0}), v.value("busy_s", 0.0)});
  }
  for (const auto& p : j.value("probes", nlohmann::json::array())) {
    s.probes.push_back({p.value("namespace", ""), p.value("pod", ""), p.value("type", ""), p.value("result", ""),
                        p.value("count", std::uint64_t{0})});
  }
  return s;
}

}  // namespace stallwatch::live
