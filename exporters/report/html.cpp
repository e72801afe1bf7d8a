#include "exporters/report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "exporters/report/summary.h"

namespace stallwatch::report {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// {"neighbor":762,"self":20} as "neighbor 762, self 20": by count when
// counts, else in the object's order ("fsync: tracepoint, block: tp_btf").
std::string listed(const nlohmann::json& obj, bool counts) {
  std::vector<std::pair<std::string, nlohmann::json>> items;
  for (const auto& [k, v] : obj.items()) items.emplace_back(k, v);
  if (counts) {
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
      return a.second.template get<double>() > b.second.template get<double>();
    });
  }
  std::string out;
  for (const auto& [k, v] : items) {
    if (!out.empty()) out += ", ";
    out += k + (counts ? " " : ": ") + (v.is_string() ? v.template get<std::string>() : v.dump());
  }
  return out;
}

const char* kind_color(const std::string& k) {
  static const std::map<std::string, const char*> colors = {
      {"own_io", "#4e79a7"}, {"neighbor_io", "#e15759"}, {"journal", "#f28e2b"}, {"writeback", "#b07aa1"},
      {"device", "#76b7b2"}, {"cpu", "#edc948"},         {"other", "#bab0ac"}};
  auto it = colors.find(k);
  return it == colors.end() ? "#999" : it->second;
}

const char* palette(std::size_t i) {
  static const char* p[] = {"#e15759", "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f"};
  return p[i % 6];
}

// ISO time of an event or a sample, as seconds since the epoch.
double seconds_of(const std::string& iso) {
  std::tm tm{};
  double frac = 0;
  if (iso.size() < 19 || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  if (iso.size() > 20 && iso[19] == '.') frac = std::atof(("0" + iso.substr(19, iso.size() - 20)).c_str());
  return static_cast<double>(timegm(&tm)) + frac;
}

struct Axis {
  double t0 = 0, t1 = 1;
  double x(double t, double width) const { return 60 + (t - t0) / std::max(1e-9, t1 - t0) * (width - 80); }
};

std::string clock(double t) {
  const std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Five clock labels along the bottom; the last one ends at its tick, so
// that the edge does not cut it.
std::string time_ticks(const Axis& ax, double w, double y) {
  std::string out;
  for (int i = 0; i <= 4; ++i) {
    const double t = ax.t0 + (ax.t1 - ax.t0) * i / 4;
    out += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="{}">{}</text>)", ax.x(t, w), y,
                       i == 4 ? "end" : "middle", clock(t));
  }
  return out;
}

// Latency timeline: p50/p99 per second as lines, slow events as points,
// probe failures as marks along the bottom; log scale from 50 us to 10 s.
std::string timeline(const Axis& ax, const std::vector<nlohmann::json>& events,
                     const std::vector<live::Sample>& samples, const std::string& victim_cgroup,
                     const std::string& id) {
  const double w = 1000, h = 300, top = 20, bottom = 250;
  const auto y = [&](double ms) {
    const double lo = std::log10(0.05), hi = std::log10(10000.0);
    const double v = std::clamp(std::log10(std::max(ms, 0.05)), lo, hi);
    return bottom - (v - lo) / (hi - lo) * (bottom - top);
  };
  std::string svg =
      fmt::format(R"(<svg id="{}" viewBox="0 0 {} {}" role="img" aria-label="fsync latency timeline">)", id, w, h);
  for (double ms : {0.1, 1.0, 10.0, 100.0, 1000.0}) {
    svg += fmt::format(
        R"(<line x1="60" x2="{}" y1="{:.1f}" y2="{:.1f}" class="grid"/><text x="55" y="{:.1f}" class="tick" text-anchor="end">{} ms</text>)",
        w - 20, y(ms), y(ms), y(ms) + 4, ms);
  }
  svg += time_ticks(ax, w, bottom + 16);
  for (const auto& [q, cls] : {std::pair{"p50", "p50"}, std::pair{"p99", "p99"}}) {
    std::string points;
    for (const auto& s : samples) {
      for (const auto& v : s.victims) {
        if (v.labels.cgroup != victim_cgroup || !v.calls) continue;
        const double ms = (std::string(q) == "p50" ? v.p50_s : v.p99_s) * 1e3;
        points += fmt::format("{:.1f},{:.1f} ", ax.x(s.realtime_ns / 1e9, w), y(ms));
      }
    }
    if (!points.empty()) svg += fmt::format(R"(<polyline class="{}" points="{}"/>)", cls, points);
  }
  int n = 0;
  for (const auto& e : events) {
    const double t = seconds_of(e.value("time", ""));
    if (e.value("event", "") == "slow_fsync") {
      if (e.contains("victim") && e["victim"].value("cgroup", "") != victim_cgroup) continue;
      ++n;
      svg += fmt::format(
          R"(<circle class="slow v-{}" cx="{:.1f}" cy="{:.1f}" r="3"><title>{} {:.1f} ms, {}</title></circle>)",
          esc(e.value("verdict", "")), ax.x(t, w), y(e.value("duration_ms", 0.0)), esc(e.value("op", "")),
          e.value("duration_ms", 0.0), esc(e.value("verdict", "")));
    } else if (e.value("event", "") == "probe" && e.value("result", "") != "success") {
      svg += fmt::format(
          R"(<path class="probefail" d="M{:.1f},{} l-4,8 l8,0 z"><title>probe {} of {}/{}</title></path>)", ax.x(t, w),
          bottom + 22, esc(e.value("result", "")), esc(e.value("namespace", "")), esc(e.value("pod", "")));
    }
  }
  svg += fmt::format(R"(<text x="60" y="14" class="tick">{} slow calls</text></svg>)", n);
  std::string legend = R"(<div class="legend"><span class="swatch" style="background:#4e79a7;height:3px"></span>p50 per second)"
                       R"(<span class="swatch" style="background:#e15759;height:3px"></span>p99 per second)";
  for (const auto& [verdict, color] : {std::pair{"neighbor", "#e15759"}, std::pair{"self", "#4e79a7"},
                                       std::pair{"cpu", "#edc948"}, std::pair{"device", "#76b7b2"},
                                       std::pair{"journal", "#f28e2b"}}) {
    legend += fmt::format(R"(<span class="swatch dot" style="background:{}"></span>slow call: {})", color, verdict);
  }
  return svg + legend + R"(<span class="swatch tri"></span>probe failure (any pod)</div>)";
}

// What the victim waited for, second by second: its blamed time per kind,
// stacked, in milliseconds per second of wall time.
std::string kinds_over_time(const Axis& ax, const std::vector<live::Sample>& samples, const std::string& cgroup,
                            const std::string& id) {
  static const char* kKinds[] = {"own_io", "neighbor_io", "journal", "writeback",
                                 "device", "cpu",         "cpu_throttled", "other"};
  const double w = 1000, h = 220, bottom = 190, topy = 20;
  std::vector<std::pair<double, std::map<std::string, double>>> rows;  // x, kind -> ms per second
  double peak = 1e-9;
  for (const auto& s : samples) {
    for (const auto& v : s.victims) {
      if (v.labels.cgroup != cgroup) continue;
      std::map<std::string, double> per_s;
      double sum = 0;
      for (const auto& [k, sec] : v.kinds_s) {
        per_s[k] = sec * 1e3 / std::max(0.001, s.interval_s);
        sum += per_s[k];
      }
      peak = std::max(peak, sum);
      rows.push_back({ax.x(s.realtime_ns / 1e9, w), std::move(per_s)});
    }
  }
  std::string svg = fmt::format(
      R"(<svg id="{}" viewBox="0 0 {} {}" role="img" aria-label="wait by kind over time">)", id, w, h);
  svg += fmt::format(R"(<text x="62" y="{}" class="tick">{:.0f} ms waited per second</text>)", topy - 6, peak);
  svg += fmt::format(R"(<text x="55" y="{}" class="tick" text-anchor="end">0</text>)", bottom + 4);
  svg += time_ticks(ax, w, bottom + 16);
  std::vector<double> base(rows.size(), 0);
  std::string legend;
  for (const char* k : kKinds) {
    bool any = false;
    std::string upper, lower;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto it = rows[i].second.find(k);
      const double ms = it == rows[i].second.end() ? 0 : it->second;
      any = any || ms > 0;
      lower = fmt::format("{:.1f},{:.1f} ", rows[i].first, bottom - base[i] / peak * (bottom - topy)) + lower;
      base[i] += ms;
      upper += fmt::format("{:.1f},{:.1f} ", rows[i].first, bottom - base[i] / peak * (bottom - topy));
    }
    if (!any) continue;
    svg += fmt::format(R"(<polygon fill="{}" opacity="0.85" points="{}{}"><title>{}</title></polygon>)", kind_color(k),
                       upper, lower, k);
    legend += fmt::format(R"(<span class="swatch" style="background:{}"></span>{} )", kind_color(k), k);
  }
  return svg + "</svg><div class=\"legend\">" + legend + "</div>";
}

// Stacked bytes per second of the top cgroups on the victims' devices.
std::string throughput(const Axis& ax, const std::vector<live::Sample>& samples, const std::set<std::string>& devices,
                       const std::string& id) {
  std::map<std::string, double> total;
  std::map<std::string, std::string> name;  // cgroup -> namespace/pod, or the cgroup outside pods
  for (const auto& s : samples) {
    for (const auto& io : s.io) {
      if (!devices.count(io.device)) continue;
      total[io.labels.cgroup] += static_cast<double>(io.bytes);
      name[io.labels.cgroup] = io.labels.pod.empty() ? io.labels.cgroup : io.labels.ns + "/" + io.labels.pod;
    }
  }
  std::vector<std::pair<double, std::string>> top;
  for (const auto& [cg, b] : total) top.push_back({b, cg});
  std::sort(top.rbegin(), top.rend());
  if (top.size() > 5) top.resize(5);
  const double w = 1000, h = 220, bottom = 190, topy = 20;
  double peak = 1;
  for (const auto& s : samples) {
    double sum = 0;
    for (const auto& io : s.io) {
      if (devices.count(io.device)) sum += static_cast<double>(io.bytes) / std::max(0.001, s.interval_s);
    }
    peak = std::max(peak, sum);
  }
  std::string svg =
      fmt::format(R"(<svg id="{}" viewBox="0 0 {} {}" role="img" aria-label="throughput by cgroup">)", id, w, h);
  svg += fmt::format(R"(<text x="62" y="{}" class="tick">{:.0f} MB/s</text>)", topy - 6, peak / 1e6);
  svg += fmt::format(R"(<text x="55" y="{}" class="tick" text-anchor="end">0</text>)", bottom + 4);
  svg += time_ticks(ax, w, bottom + 16);
  std::vector<double> base(samples.size(), 0);
  std::string legend;
  for (std::size_t c = 0; c < top.size(); ++c) {
    std::string upper, lower;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      double rate = 0;
      for (const auto& io : samples[i].io) {
        if (devices.count(io.device) && io.labels.cgroup == top[c].second) {
          rate += static_cast<double>(io.bytes) / std::max(0.001, samples[i].interval_s);
        }
      }
      const double x = ax.x(samples[i].realtime_ns / 1e9, w);
      lower = fmt::format("{:.1f},{:.1f} ", x, bottom - base[i] / peak * (bottom - topy)) + lower;
      base[i] += rate;
      upper += fmt::format("{:.1f},{:.1f} ", x, bottom - base[i] / peak * (bottom - topy));
    }
    svg += fmt::format(R"(<polygon fill="{}" opacity="0.8" points="{}{}"><title>{}</title></polygon>)", palette(c),
                       upper, lower, esc(name[top[c].second]));
    legend += fmt::format(R"(<span class="swatch" style="background:{}"></span>{} )", palette(c),
                          esc(name[top[c].second]));
  }
  svg += "</svg>";
  return svg + "<div class=\"legend\">" + legend + "</div>";
}

std::string kind_bar(const nlohmann::json& kinds) {
  double total = 0;
  for (const auto& [k, v] : kinds.items()) total += v.get<double>();
  if (total <= 0) return "<p>No waiting recorded.</p>";
  std::string bar = R"(<div class="bar">)", legend;
  for (const auto& [k, v] : kinds.items()) {
    const double share = v.get<double>() / total;
    if (share < 0.001) continue;
    bar += fmt::format(R"(<span style="width:{:.2f}%;background:{}" title="{} {:.1f}%"></span>)", share * 100,
                       kind_color(k), k, share * 100);
    legend +=
        fmt::format(R"(<span class="swatch" style="background:{}"></span>{} {:.1f}% )", kind_color(k), k, share * 100);
  }
  return bar + "</div><div class=\"legend\">" + legend + "</div>";
}

}  // namespace

std::string render_html(const nlohmann::json& summary, const nlohmann::json& host,
                        const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples) {
  Axis ax;
  ax.t0 = 1e300;
  ax.t1 = 0;
  for (const auto& s : samples) {
    ax.t0 = std::min(ax.t0, s.realtime_ns / 1e9);
    ax.t1 = std::max(ax.t1, s.realtime_ns / 1e9);
  }
  for (const auto& e : events) {
    const double t = seconds_of(e.value("time", ""));
    if (t > 0) {
      ax.t0 = std::min(ax.t0, t);
      ax.t1 = std::max(ax.t1, t);
    }
  }
  if (ax.t1 <= ax.t0) ax.t1 = ax.t0 + 1;
  const auto& victims = summary.value("victims", nlohmann::json::array());
  std::string html = R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>stallwatch capture</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd}
.verdict{font-size:17px;background:#fff4e5;border-left:4px solid #e15759;padding:10px 14px;margin:12px 0}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #eee}
.grid{stroke:#e3e3e3}.tick{font-size:11px;fill:#666}
.p50{fill:none;stroke:#4e79a7;stroke-width:1.5}.p99{fill:none;stroke:#e15759;stroke-width:1.5}
.slow{fill:#e15759;opacity:.7}.v-cpu{fill:#edc948}.v-device{fill:#76b7b2}.v-journal{fill:#f28e2b}.v-self{fill:#4e79a7}
.probefail{fill:#000}
.bar{display:flex;height:22px;border:1px solid #ccc}.bar span{display:block;height:100%}
.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
.swatch.dot{border-radius:50%}.swatch.tri{width:0;height:0;border:5px solid transparent;border-bottom:9px solid #000;border-top:0}
h3{font-size:14px;margin:16px 0 6px;color:#444}.legend{font-size:12px;color:#444;margin:4px 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums}.meta{color:#666;font-size:12px}
</style></head><body>)";
  // Bundles before node names were recorded have none.
  // A window of the flight recorder says so, and which window was asked for.
  const bool recorded = summary.contains("capture") && summary["capture"].value("source", "") == "flight recorder";
  const std::string what = recorded ? "stallwatch flight recorder" : "stallwatch capture";
  html += host.contains("node") ? "<h1>" + what + " on node <span id=\"node\">" + esc(host.value("node", "")) +
                                      "</span></h1>"
                                : "<h1>" + what + "</h1>";
  if (recorded) {
    html += "<p class=\"meta\" id=\"window\">The window " + esc(summary["capture"].value("started", "")) + " to " +
            esc(summary["capture"].value("ended", "")) + ", rendered from " +
            esc(summary["capture"].value("recorder", "")) + ".</p>";
  }
  html +=
      fmt::format("<p class=\"meta\">{} to {} UTC · kernel {} · {} slow fsync events, {} probe events · rungs: {}</p>",
                  clock(ax.t0), clock(ax.t1), esc(host.value("kernel", "?")), summary["events"].value("slow_fsync", 0),
                  summary["events"].value("probe", 0), esc(host.contains("hooks") ? listed(host["hooks"], false) : "?"));
  if (summary.contains("capture") && summary["capture"].value("incomplete", false)) {
    html += "<p class=\"verdict\" id=\"incomplete\" style=\"color:#b00\">Incomplete bundle: " +
            esc(summary["capture"].value("ended_because", "")) + ". Shown: what it had written until then.</p>";
  }
  html += "<p class=\"verdict\" id=\"verdict\">" + esc(summary.value("sentence", "")) + "</p>";
  if (victims.empty()) html += "<p>No victim made an fsync call during the capture.</p>";
  // One section per victim, the one that waited longest first; the first
  // keeps the plain element ids.
  for (std::size_t i = 0; i < victims.size(); ++i) {
    const auto& victim = victims[i];
    const std::string cgroup = victim["labels"].value("cgroup", "");
    const std::string sfx = i == 0 ? "" : "-" + std::to_string(i);
    std::set<std::string> devices;
    for (const auto& s : samples) {
      for (const auto& v : s.victims) {
        if (v.labels.cgroup == cgroup) devices.insert(v.devices.begin(), v.devices.end());
      }
    }
    html += fmt::format(R"(<section class="victim" id="victim-{}" data-cgroup="{}"><h2>Victim {}</h2>)", i,
                        esc(cgroup), esc(who(victim["labels"])));
    if (victims.size() > 1) html += "<p class=\"sentence\">" + esc(victim.value("sentence", "")) + "</p>";
    html += "<h3>fsync latency</h3>" + timeline(ax, events, samples, cgroup, "timeline" + sfx);
    html += "<h3>Throughput on its disks, top cgroups</h3>" + throughput(ax, samples, devices, "throughput" + sfx);
    html += "<h3>What it waited for, second by second (all its calls)</h3>" +
            kinds_over_time(ax, samples, cgroup, "kinds" + sfx);
    html += "<h3>Where its time went (all its calls)</h3>" +
            kind_bar(victim.value("kinds_s", nlohmann::json::object()));
    html += fmt::format(
        "<h3>Culprits (its slow calls)</h3><table id=\"culprits{}\"><tr><th>#</th><th>namespace/pod</th>"
        "<th>container</th><th>cgroup</th><th>kind</th><th class=\"n\">blamed (slow calls)</th>"
        "<th class=\"n\">share</th></tr>",
        sfx);
    int rank = 0;
    for (const auto& c : victim.value("culprits", nlohmann::json::array())) {
      const auto& l = c["labels"];
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{:.1f} ms</td><td "
          "class=\"n\">{:.1f}%</td></tr>",
          ++rank, esc(l.value("pod", "").empty() ? "-" : l.value("namespace", "") + "/" + l.value("pod", "")),
          esc(l.value("container", "")), esc(l.value("cgroup", "")), esc(c.value("kind", "")),
          c.value("seconds", 0.0) * 1e3, c.value("share", 0.0) * 100);
    }
    if (rank == 0) html += "<tr><td colspan=\"7\">No slow call named a culprit.</td></tr>";
    html += "</table></section>";
  }
  html +=
      "<h2>Victims</h2><table id=\"victims\"><tr><th>victim</th><th class=\"n\">calls</th><th class=\"n\">p50</th>"
      "<th class=\"n\">p99 (worst second)</th><th class=\"n\">slow</th><th>verdicts of the slow calls</th></tr>";
  for (const auto& v : victims) {
    html += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">&le; {:g} ms</td><td class=\"n\">&le; {:g} ms</td><td "
        "class=\"n\">{}</td><td>{}</td></tr>",
        esc(who(v["labels"])), v.value("calls", 0), v.value("p50_ms", 0.0), v.value("p99_ms", 0.0),
        v.value("slow_events", 0), esc(listed(v["verdicts"], true)));
  }
  html += "</table><p class=\"meta\">p50 and p99 are the bounds of the histogram buckets they fall in, per "
          "second; the culprits' shares are of the blame in the slow calls' events.</p></body></html>\n";
  return html;
}

}  // namespace stallwatch::report
