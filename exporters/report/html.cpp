#include "exporters/report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "exporters/report/charts.h"
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

std::string clock(double t) {
  const std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// A chart's place: the canvas Chart.js draws on, in a box of fixed height
// so that narrow windows keep the axes readable.
std::string chart(const std::string& id, const std::string& label, int height) {
  return fmt::format(R"(<div class="chart" style="height:{}px"><canvas id="{}" role="img" aria-label="{}"></canvas></div>)",
                     height, id, label);
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

// What the agent saw of the host: where the numbers came from.
std::string host_facts(const nlohmann::json& host) {
  std::string rows;
  const auto row = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) rows += "<tr><th>" + esc(name) + "</th><td>" + esc(value) + "</td></tr>";
  };
  const auto text = [&](const char* key) {
    if (!host.contains(key)) return std::string();
    const auto& v = host[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "yes" : "no");
    if (v.is_array()) {
      std::string out;
      for (const auto& x : v) out += (out.empty() ? "" : ", ") + (x.is_string() ? x.get<std::string>() : x.dump());
      return out;
    }
    if (v.is_object()) return listed(v, false);
    return v.dump();
  };
  row("node", text("node"));
  row("kernel", text("kernel"));
  row("kernel BTF", text("btf"));
  row("cgroups", text("cgroup_layout") + (host.contains("cgroup2_mount") ? ", cgroup2 at " + text("cgroup2_mount") : ""));
  row("io controller on cgroup2", text("io_controller_on_cgroup2"));
  row("hooks (rungs)", text("hooks"));
  row("victims selected by", text("victim_selectors"));
  row("slow thresholds", text("slow_threshold") + (host.contains("probe_slow_threshold")
                                                       ? " fsync, " + text("probe_slow_threshold") + " probes"
                                                       : ""));
  row("capabilities", text("capabilities"));
  return rows.empty() ? "" : "<h2>Host</h2><table id=\"host\">" + rows + "</table>";
}

}  // namespace

std::string render_html(const nlohmann::json& summary, const nlohmann::json& host,
                        const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples) {
  // One time axis for every chart: the first sample's second to the last
  // event or sample.
  double t0 = 1e300, t1 = 0;
  for (const auto& s : samples) {
    t0 = std::min(t0, s.realtime_ns / 1e9 - s.interval_s);
    t1 = std::max(t1, s.realtime_ns / 1e9);
  }
  for (const auto& e : events) {
    const double t = seconds_of(e.value("time", ""));
    if (t > 0) {
      t0 = std::min(t0, t);
      t1 = std::max(t1, t);
    }
  }
  if (t1 <= t0) t1 = t0 + 1;
  nlohmann::json charts = {{"t0", t0}, {"t1", t1}, {"victims", nlohmann::json::array()}};
  const auto& victims = summary.value("victims", nlohmann::json::array());
  std::string html = R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>stallwatch capture</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd}
.verdict{font-size:17px;background:#fff4e5;border-left:4px solid #e15759;padding:10px 14px;margin:12px 0}
.chart{position:relative;width:100%;background:#fafafa;border:1px solid #eee}
.ramp{display:inline-block;width:120px;height:10px;vertical-align:middle;border:1px solid #ccc}
.chart-error{color:#b00;font-weight:bold}
.bar{display:flex;height:22px;border:1px solid #ccc}.bar span{display:block;height:100%}
.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
h3{font-size:14px;margin:16px 0 6px;color:#444}.legend{font-size:12px;color:#444;margin:4px 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.meta{color:#666;font-size:12px}
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
                  clock(t0), clock(t1), esc(host.value("kernel", "?")), summary["events"].value("slow_fsync", 0),
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
    charts["victims"].push_back(victim_charts(events, samples, cgroup, devices));
    html += "<h3>fsync latency, second by second (all its calls)</h3>" +
            chart("timeline" + sfx, "fsync latency heat map with p50 and p99", 260) +
            "<div class=\"legend\" id=\"ramp" + sfx + "\"></div>";
    html += "<h3>Slow calls by verdict, and failed probes (its slow calls)</h3>" +
            chart("slowcalls" + sfx, "slow calls by verdict", 220);
    html += "<h3>Throughput on its disks, by workload</h3>" +
            chart("throughput" + sfx, "throughput by workload", 220);
    html += "<h3>What it waited for, second by second (all its calls)</h3>" +
            chart("kinds" + sfx, "wait by kind over time", 220);
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
          "second; the culprits' shares are of the blame in the slow calls' events.</p>";
  html += host_facts(host);
  return html + chart_scripts(charts) + "</body></html>\n";
}

}  // namespace stallwatch::report
