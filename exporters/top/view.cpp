#include "exporters/top/view.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "blame/verdict.h"
#include "common/names.h"

namespace stallwatch::top {

namespace {

std::string name_of(const identity::Labels& l) {
  if (!l.pod.empty()) return l.ns + "/" + l.pod + (l.container.empty() ? "" : "/" + l.container);
  return l.cgroup;
}

std::string fit(std::string s, std::size_t w) {
  if (s.size() <= w) return s + std::string(w - s.size(), ' ');
  return "…" + s.substr(s.size() - (w - 1));  // the end of a path says the most
}

std::string clock() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string finish(std::string out, int width, bool help, bool ansi) {
  const std::string keys = help ? "q quit  i/m/b/s sort by IOPS, MB/s, busy, blame  f filter (Enter applies, Esc "
                                  "cancels)  c clear filter  ? less help"
                                : "q quit  i m b s sort  f filter  c clear  ? help";
  if (ansi) out += "\x1b[J\n\x1b[7m" + keys.substr(0, static_cast<std::size_t>(width)) + "\x1b[0m";
  return out;
}

struct Row {
  std::string name, device;
  double iops = 0, mbps = 0, busy = 0, share = 0;
};

}  // namespace

const char* sort_name(SortKey k) {
  switch (k) {
    case SortKey::kIops: return "IOPS";
    case SortKey::kMbps: return "MB/s";
    case SortKey::kBusy: return "busy";
    case SortKey::kShare: return "blame";
  }
  return "?";
}

void View::add(const live::Sample& s) {
  window_.push_back(s);
  while (window_.size() > 10) window_.pop_front();
}

void View::event(const nlohmann::json& e) {
  std::lock_guard lock(mu_);
  if (e.value("event", "") != "probe") return;
  probes_.push_back({std::chrono::steady_clock::now(), e});
  while (probes_.size() > 1000) probes_.pop_front();
}

std::string View::frame(int width, SortKey sort, const std::string& filter, bool help, bool ansi) {
  std::string out;
  const auto line = [&](const std::string& text) {
    out += (ansi ? "\x1b[2K" : "") + text.substr(0, static_cast<std::size_t>(width)) + "\n";
  };
  const std::string title = fmt::format("stallwatch top  {}  {}  sort: {}{}", node_, clock(), sort_name(sort),
                                        filter.empty() ? "" : "  filter: " + filter);
  line(ansi ? "\x1b[1m" + title + "\x1b[0m" : title);
  line("");
  if (window_.empty()) {
    line("sampling…");
    return finish(out, width, help, ansi);
  }
  const live::Sample& last = window_.back();
  // Victims: rate and quantiles of the last second; verdict and top
  // culprit over the last ten.
  line("VICTIM                                       CALLS/S   P50 MS   P99 MS  VERDICT   TOP CULPRIT");
  std::map<std::string, std::map<std::string, double>> kinds, culprits;
  std::map<std::string, double> wall, journal_of_neighbours, cpu_of_neighbours;
  for (const auto& s : window_) {
    for (const auto& v : s.victims) {
      for (const auto& [k, x] : v.kinds_s) kinds[v.labels.cgroup][k] += x;
      for (const auto& [c, x] : v.culprits_s) culprits[v.labels.cgroup][c] += x;
      wall[v.labels.cgroup] += v.wall_s;
      journal_of_neighbours[v.labels.cgroup] += v.journal_of_neighbours_s;
      cpu_of_neighbours[v.labels.cgroup] += v.cpu_of_neighbours_s;
    }
  }
  std::map<std::string, double> blamed_on;  // culprit cgroup -> seconds, all victims
  double blamed_total = 0;
  for (const auto& [victim, cs] : culprits) {
    for (const auto& [c, x] : cs) {
      blamed_on[c] += x;
      blamed_total += x;
    }
  }
  int victims = 0;
  for (const auto& v : last.victims) {
    blame::Kinds k{};
    double total = 0;
    for (std::uint32_t i = 0; i < SW_BLAME__KINDS; ++i) {
      const auto it = kinds[v.labels.cgroup].find(std::string(names::blame_kind_name(i)));
      k[i] = it == kinds[v.labels.cgroup].end() ? 0 : static_cast<std::uint64_t>(it->second * 1e9);
      total += static_cast<double>(k[i]) / 1e9;
    }
    std::string top = "-";
    double best = 0;
    for (const auto& [c, x] : culprits[v.labels.cgroup]) {
      if (c != v.labels.cgroup && x > best) {
        best = x;
        top = fmt::format("{} {:.0f}%", c, total > 0 ? 100 * x / total : 0);
      }
    }
    line(fmt::format("{} {:8.1f} {:8.2f} {:8.2f}  {:8}  {}", fit(name_of(v.labels), 44),
                     v.calls / std::max(0.001, last.interval_s), v.p50_s * 1e3, v.p99_s * 1e3,
                     total > 0 ? std::string(blame::verdict(
                                     k, static_cast<std::uint64_t>(std::max(total, wall[v.labels.cgroup]) * 1e9),
                                     {static_cast<std::uint64_t>(journal_of_neighbours[v.labels.cgroup] * 1e9),
                                      static_cast<std::uint64_t>(cpu_of_neighbours[v.labels.cgroup] * 1e9)}))
                               : "-",
                     top));
    ++victims;
  }
  if (!victims) line("(no victim synced in the last second)");
  line("");
  // I/O per cgroup in the last second, with its share of the victims' blame.
  line("CGROUP                                       DEVICE        IOPS     MB/S  BUSY %  BLAME %");
  std::vector<Row> rows;
  for (const auto& io : last.io) {
    Row r{name_of(io.labels),
          io.device,
          io.requests / std::max(0.001, last.interval_s),
          static_cast<double>(io.bytes) / 1e6 / std::max(0.001, last.interval_s),
          100 * io.busy_s / std::max(0.001, last.interval_s),
          blamed_total > 0 && blamed_on.count(io.labels.cgroup) ? 100 * blamed_on[io.labels.cgroup] / blamed_total : 0};
    if (!filter.empty() && r.name.find(filter) == std::string::npos &&
        io.labels.cgroup.find(filter) == std::string::npos)
      continue;
    rows.push_back(r);
  }
  std::sort(rows.begin(), rows.end(), [sort](const Row& a, const Row& b) {
    switch (sort) {
      case SortKey::kIops: return a.iops > b.iops;
      case SortKey::kMbps: return a.mbps > b.mbps;
      case SortKey::kBusy: return a.busy > b.busy;
      case SortKey::kShare: return a.share > b.share;
    }
    return false;
  });
  if (rows.size() > 15) rows.resize(15);
  for (const auto& r : rows) {
    line(fmt::format("{} {} {:8.0f} {:8.2f} {:7.1f} {:8.1f}", fit(r.name, 44), fit(r.device, 10), r.iops, r.mbps,
                     r.busy, r.share));
  }
  if (rows.empty()) line("(no block I/O in the last second)");
  line("");
  // Probe failures of the last minute.
  line("PROBE FAILURES (last 60 s)");
  std::map<std::string, int> failures;
  {
    std::lock_guard lock(mu_);
    const auto cutoff = std::chrono::steady_clock::now() - std::chrono::seconds(60);
    for (const auto& [t, e] : probes_) {
      if (t < cutoff || e.value("result", "") == "success") continue;
      const std::string pod =
          e.value("pod", "").empty() ? e.value("address", "?") : e.value("namespace", "") + "/" + e.value("pod", "");
      ++failures[fmt::format("{} {} {}", pod, e.value("type", ""), e.value("result", ""))];
    }
  }
  for (const auto& [k, n] : failures) line(fmt::format("  {:4}  {}", n, k));
  if (failures.empty()) line("  none");
  return finish(out, width, help, ansi);
}

}  // namespace stallwatch::top
