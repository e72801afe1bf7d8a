#include "exporters/prometheus/render_blame.h"

#include <algorithm>

#include "blame/verdict.h"
#include "common/names.h"

namespace stallwatch::exporters {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

const identity::Labels kOther{"", "", "", "other"};

std::uint64_t total(const CulpritBudget::Parts& parts) {
  std::uint64_t n = 0;
  for (const auto& [key, ns] : parts) n += ns;
  return n;
}

void add_labels(std::vector<ClientMetric::Label>& out, const char* prefix, const identity::Labels& l) {
  const std::string p(prefix);
  out.push_back({p + "namespace", l.ns});
  out.push_back({p + "pod", l.pod});
  out.push_back({p + "container", l.container});
  out.push_back({p + "cgroup", l.cgroup});
}

}  // namespace

std::map<identity::Labels, CulpritBudget::Parts> CulpritBudget::fold(
    const identity::Labels& victim, const std::map<identity::Labels, Parts>& culprits) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::uint64_t, const identity::Labels*>> ranked;
  std::size_t admitted = 0;
  const identity::Labels none{};  // device, cpu, other: no culprit, always shown
  for (const auto& [culprit, parts] : culprits) {
    if (culprit == none) continue;
    if (admitted_.count({victim, culprit})) {
      ++admitted;
    } else {
      ranked.push_back({total(parts), &culprit});
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [ns, culprit] : ranked) {
    if (admitted >= per_victim_) break;
    admitted_[{victim, *culprit}] = {};  // seen from its first scrape: nothing folded yet
    ++admitted;
  }
  std::map<identity::Labels, Parts> out;
  for (const auto& [culprit, parts] : culprits) {
    if (culprit == none) {
      out[none] = parts;
      continue;
    }
    auto it = admitted_.find({victim, culprit});
    if (it == admitted_.end()) {
      for (const auto& [key, ns] : parts) out[kOther][key] += ns;
      continue;
    }
    for (const auto& [key, ns] : parts) {
      const auto offset = it->second.count(key) ? it->second.at(key) : 0;
      out[culprit][key] += ns - std::min(ns, offset);
      if (offset) out[kOther][key] += offset;
    }
  }
  return out;
}

std::vector<MetricFamily> render_blame(const reader::Snapshot& snap, const Labeler& labeler, CulpritBudget& budget,
                                       const BlameStats& stats) {
  if (!snap.blame) return {};
  // victim -> culprit -> (device, kind) -> ns; victim -> device -> window totals
  std::map<identity::Labels, std::map<identity::Labels, CulpritBudget::Parts>> blamed;
  std::map<std::pair<identity::Labels, std::string>, sw_blame_val> windows;
  for (const auto& s : snap.blame_series) {
    const auto victim = labeler.workload(s.key.victim);
    const std::string device = s.key.dev ? labeler.device(s.key.dev) : "";
    if (s.key.kind == SW_BLAME_WINDOW) {
      auto& w = windows[{victim, device}];
      w.ns += s.val.ns;
      w.count += s.val.count;
      continue;
    }
    const auto culprit = s.key.culprit ? labeler.workload(s.key.culprit) : identity::Labels{};
    blamed[victim][culprit][{device, std::string(names::blame_kind_name(s.key.kind))}] += s.val.ns;
  }
  MetricFamily seconds{"stallwatch_fsync_blame_seconds_total",
                       "Time victims' fsync-family calls spent waiting, by what they waited on (kind) "
                       "and whose I/O it was (culprit; empty for device, cpu and other).",
                       MetricType::Counter,
                       {}};
  for (const auto& [victim, culprits] : blamed) {
    for (const auto& [culprit, parts] : budget.fold(victim, culprits)) {
      for (const auto& [key, ns] : parts) {
        ClientMetric m;
        add_labels(m.label, "victim_", victim);
        add_labels(m.label, "culprit_", culprit);
        m.label.push_back({"device", key.first});
        m.label.push_back({"kind", key.second});
        m.counter.value = static_cast<double>(ns) / 1e9;
        seconds.metric.push_back(std::move(m));
      }
    }
  }
  MetricFamily count{"stallwatch_fsync_blame_windows_total",
                     "Victims' fsync-family calls followed by the blame engine.",
                     MetricType::Counter,
                     {}};
  MetricFamily wall{"stallwatch_fsync_blame_window_seconds_total",
                    "Wall time of those calls: the kinds of blame_seconds_total split it.",
                    MetricType::Counter,
                    {}};
  for (const auto& [key, v] : windows) {
    ClientMetric m;
    add_labels(m.label, "victim_", key.first);
    m.label.push_back({"device", key.second});
    m.counter.value = static_cast<double>(v.count);
    count.metric.push_back(m);
    m.counter.value = static_cast<double>(v.ns) / 1e9;
    wall.metric.push_back(std::move(m));
  }
  MetricFamily victims{"stallwatch_blame_victims", "Victims the --victim selectors match now.", MetricType::Gauge, {}};
  for (const auto& [what, n] :
       {std::pair{"processes", stats.victim_processes}, std::pair{"cgroups", stats.victim_cgroups}}) {
    ClientMetric m;
    m.label = {{"kind", what}};
    m.gauge.value = static_cast<double>(n);
    victims.metric.push_back(std::move(m));
  }
  MetricFamily events{"stallwatch_slow_events_total",
                      "Slow-fsync events written to the event log (failed: lost to write errors).",
                      MetricType::Counter,
                      {}};
  for (const auto& [what, n] : {std::pair{"written", stats.events_written}, std::pair{"failed", stats.events_failed}}) {
    ClientMetric m;
    m.label = {{"result", what}};
    m.counter.value = static_cast<double>(n);
    events.metric.push_back(std::move(m));
  }
  return {std::move(seconds), std::move(count), std::move(wall), std::move(victims), std::move(events)};
}

}  // namespace stallwatch::exporters
