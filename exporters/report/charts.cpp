#include "exporters/report/charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <string_view>

#include "exporters/report/summary.h"
#include "identity/labels.h"
#include "reader/snapshot.h"

namespace stallwatch::report {

namespace assets {
// report_assets.cpp, generated from chart.min.js and charts.js at build time.
extern const std::string_view chartjs;
extern const std::string_view charts_js;
}  // namespace assets

namespace {

// The order kinds stack in, bottom up: the victim's own part first.
constexpr const char* kKinds[] = {"own_io", "neighbor_io", "journal", "writeback",
                                  "device", "cpu",         "cpu_throttled", "other"};

const char* verdict_color(const std::string& v) {
  static const std::map<std::string, const char*> colors = {
      {"neighbor", "#e15759"}, {"self", "#4e79a7"},    {"cpu", "#edc948"}, {"device", "#76b7b2"},
      {"journal", "#f28e2b"},  {"writeback", "#b07aa1"}, {"mixed", "#9c755f"},
      {"throttled", "#59a14f"}, {"io_limit", "#8cd17d"}};
  auto it = colors.find(v);
  return it == colors.end() ? "#999" : it->second;
}

const char* palette(std::size_t i) {
  static const char* p[] = {"#e15759", "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f"};
  return p[i % 6];
}

// A bucket's extent in ms, from its upper bound in seconds: the first one
// starts at half its bound, and +Inf (bound 0) is drawn one doubling above
// the last bound.
std::pair<double, double> bucket_ms(double le_s) {
  static const auto bounds = reader::bucket_bounds_seconds();
  if (le_s <= 0) return {bounds.back() * 1e3, bounds.back() * 2e3};
  double lo = le_s / 2;
  for (double b : bounds) {
    if (b < le_s) lo = b;
  }
  return {lo * 1e3, le_s * 1e3};
}

bool is_victim(const live::VictimSample& v, const std::string& cgroup) { return v.labels.cgroup == cgroup; }

// Per-second calls by latency bucket, as cells (end of second, its length,
// lower and upper bound in ms, calls), and p50/p99 as lines.
nlohmann::json latency(const std::vector<live::Sample>& samples, const std::string& cgroup) {
  nlohmann::json cells = nlohmann::json::array(), p50 = nlohmann::json::array(), p99 = nlohmann::json::array();
  std::uint64_t peak = 0;
  double top_ms = 1;
  for (const auto& s : samples) {
    const double t = static_cast<double>(s.realtime_ns) / 1e9;
    for (const auto& v : s.victims) {
      if (!is_victim(v, cgroup) || !v.calls) continue;
      p50.push_back({t, v.p50_s * 1e3});
      p99.push_back({t, v.p99_s * 1e3});
      for (const auto& [le_s, n] : v.hist) {
        const auto [lo, hi] = bucket_ms(le_s);
        cells.push_back({t, s.interval_s, lo, hi, n});
        peak = std::max(peak, n);
        top_ms = std::max(top_ms, hi);
      }
    }
  }
  return {{"cells", cells}, {"peak", peak}, {"p50", p50}, {"p99", p99}, {"top_ms", top_ms}};
}

// Slow calls by verdict, and failed probes of any pod.
nlohmann::json slow_calls(const std::vector<nlohmann::json>& events, const std::string& cgroup) {
  std::map<std::string, nlohmann::json> by_verdict;
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& e : events) {
    const double t = seconds_of(e.value("time", ""));
    const std::string kind = e.value("event", "");
    if (kind == "slow_fsync") {
      if (e.contains("victim") && e["victim"].value("cgroup", "") != cgroup) continue;
      const std::string verdict = e.value("verdict", "");
      const double ms = e.value("duration_ms", 0.0);
      by_verdict[verdict].push_back({t, ms, fmt::format("{} {:.1f} ms, {}", e.value("op", ""), ms, verdict)});
    } else if (kind == "probe" && e.value("result", "") != "success") {
      probes.push_back({t, e.value("result", "") + ": " + e.value("namespace", "") + "/" + e.value("pod", "")});
    }
  }
  nlohmann::json series = nlohmann::json::array();
  for (auto& [verdict, points] : by_verdict) {
    series.push_back({{"name", verdict}, {"color", verdict_color(verdict)}, {"points", std::move(points)}});
  }
  std::stable_sort(series.begin(), series.end(),
                   [](const auto& a, const auto& b) { return a["points"].size() > b["points"].size(); });
  return {{"series", series}, {"probes", probes}};
}

// Stacked series on the samples' times: {"x": [...], "series": [{name, color, y}]}.
nlohmann::json stacked(const std::vector<live::Sample>& samples, const std::vector<std::string>& names,
                       const std::vector<std::string>& colors,
                       const std::function<double(const live::Sample&, const std::string&)>& value) {
  nlohmann::json x = nlohmann::json::array(), series = nlohmann::json::array();
  for (const auto& s : samples) x.push_back(static_cast<double>(s.realtime_ns) / 1e9);
  for (std::size_t i = 0; i < names.size(); ++i) {
    nlohmann::json y = nlohmann::json::array();
    for (const auto& s : samples) y.push_back(value(s, names[i]));
    series.push_back({{"name", names[i]}, {"color", colors[i]}, {"y", y}});
  }
  return {{"x", x}, {"series", series}};
}

// Bytes per second on the victim's disks, by workload: the five that moved
// most, and the rest together.
nlohmann::json throughput(const std::vector<live::Sample>& samples, const std::set<std::string>& devices) {
  std::map<std::string, double> total;
  std::map<std::string, std::string> name_of;
  for (const auto& s : samples) {
    for (const auto& io : s.io) {
      if (!devices.count(io.device)) continue;
      total[io.labels.cgroup] += static_cast<double>(io.bytes);
      name_of[io.labels.cgroup] = who(identity::labels_json(io.labels));
    }
  }
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [cg, b] : total) ranked.push_back({b, cg});
  std::sort(ranked.rbegin(), ranked.rend());
  std::vector<std::string> names, colors;
  std::map<std::string, std::string> slot;  // cgroup -> its series' name
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    const std::string name = i < 5 ? name_of[ranked[i].second] : "others";
    slot[ranked[i].second] = name;
    if (i <= 5) {
      names.push_back(name);
      colors.push_back(i < 5 ? palette(i) : "#bab0ac");
    }
  }
  return stacked(samples, names, colors, [&](const live::Sample& s, const std::string& name) {
    double bytes = 0;
    for (const auto& io : s.io) {
      if (devices.count(io.device) && slot[io.labels.cgroup] == name) bytes += static_cast<double>(io.bytes);
    }
    return bytes / std::max(0.001, s.interval_s) / 1e6;
  });
}

// Milliseconds waited per second of wall time, by kind.
nlohmann::json kinds(const std::vector<live::Sample>& samples, const std::string& cgroup) {
  std::vector<std::string> names, colors;
  for (const char* k : kKinds) {
    const bool any = std::any_of(samples.begin(), samples.end(), [&](const live::Sample& s) {
      return std::any_of(s.victims.begin(), s.victims.end(), [&](const live::VictimSample& v) {
        const auto it = v.kinds_s.find(k);
        return is_victim(v, cgroup) && it != v.kinds_s.end() && it->second > 0;
      });
    });
    if (any) {
      names.push_back(k);
      colors.push_back(kind_color(k));
    }
  }
  return stacked(samples, names, colors, [&](const live::Sample& s, const std::string& kind) {
    double sec = 0;
    for (const auto& v : s.victims) {
      const auto it = v.kinds_s.find(kind);
      if (is_victim(v, cgroup) && it != v.kinds_s.end()) sec += it->second;
    }
    return sec * 1e3 / std::max(0.001, s.interval_s);
  });
}

}  // namespace

const char* kind_color(const std::string& k) {
  static const std::map<std::string, const char*> colors = {
      {"own_io", "#4e79a7"}, {"neighbor_io", "#e15759"}, {"journal", "#f28e2b"},       {"writeback", "#b07aa1"},
      {"device", "#76b7b2"}, {"cpu", "#edc948"},         {"cpu_throttled", "#ff9da7"}, {"other", "#bab0ac"}};
  auto it = colors.find(k);
  return it == colors.end() ? "#999" : it->second;
}

double seconds_of(const std::string& iso) {
  std::tm tm{};
  double frac = 0;
  if (iso.size() < 19 || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  if (iso.size() > 20 && iso[19] == '.') frac = std::atof(("0" + iso.substr(19, iso.size() - 20)).c_str());
  return static_cast<double>(timegm(&tm)) + frac;
}

nlohmann::json victim_charts(const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples,
                             const std::string& cgroup, const std::set<std::string>& devices) {
  return {{"latency", latency(samples, cgroup)},
          {"slow", slow_calls(events, cgroup)},
          {"throughput", throughput(samples, devices)},
          {"kinds", kinds(samples, cgroup)}};
}

std::size_t chart_scripts_size() { return assets::chartjs.size() + assets::charts_js.size(); }

std::string chart_scripts(const nlohmann::json& data) {
  std::string json = data.dump();
  std::string escaped;
  escaped.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      escaped += "\\u003c";
    } else {
      escaped += c;
    }
  }
  return "<script type=\"application/json\" id=\"report-data\">" + escaped + "</script>\n<script>" +
         std::string(assets::chartjs) + "</script>\n<script>" + std::string(assets::charts_js) + "</script>\n";
}

}  // namespace stallwatch::report
