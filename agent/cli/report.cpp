// `stallwatch report`: renders a capture bundle's report again, or makes a
// bundle for any past window from the flight recorder of `stallwatch run`
// (--state-dir, on the node or from a copy), or lists what the recorder
// holds.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "capture/bundle.h"
#include "capture/segments.h"
#include "cli/options.h"
#include "common/clock.h"
#include "common/time_arg.h"
#include "events/event_line.h"
#include "exporters/report/summary.h"
#include "live/sampler.h"

namespace stallwatch::cli {

namespace fs = std::filesystem;

namespace {

int rerender_bundle(const Options& options) {
  const fs::path dir(options.report_dir);
  std::ifstream summary_in(dir / "summary.json"), host_in(dir / "host.json");
  // A capture killed before its end (kill -9, a node reboot) leaves host.json
  // and the lines it had flushed, but no summary: render what is there and
  // say that it was cut short.
  const bool cut_short = !summary_in && host_in && fs::exists(dir / "timeseries.jsonl");
  if (!summary_in && !cut_short) {
    spdlog::error("{} is not a capture bundle: no summary.json", dir.string());
    return 1;
  }
  auto summary = cut_short ? nlohmann::json::object() : nlohmann::json::parse(summary_in, nullptr, false);
  auto host = nlohmann::json::parse(host_in, nullptr, false);
  if (summary.is_discarded()) {
    spdlog::error("{}/summary.json is not JSON", dir.string());
    return 1;
  }
  if (host.is_discarded()) host = nlohmann::json::object();
  std::vector<nlohmann::json> events;
  std::vector<live::Sample> samples;
  std::size_t bad = 0;
  {
    std::ifstream in(dir / "events.jsonl");
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      j.is_discarded() ? ++bad : (events.push_back(std::move(j)), 0);
    }
  }
  {
    std::ifstream in(dir / "timeseries.jsonl");
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      j.is_discarded() ? ++bad : (samples.push_back(live::Sample::from_json(j)), 0);
    }
  }
  auto fresh = report::summarize(events, samples);
  if (summary.contains("capture")) fresh["capture"] = summary["capture"];
  if (cut_short) {
    fresh["capture"] = {{"ended_because", "cut short: the capture ended without writing its summary (killed?)"},
                        {"incomplete", true},
                        {"unreadable_lines", bad}};
  }
  if (!capture::write_report(dir, fresh, host, events, samples)) {
    spdlog::error("cannot write {}/report.html", dir.string());
    return 1;
  }
  if (cut_short) {
    spdlog::warn("{} was cut short (no summary.json): the report covers the {} samples and {} events it had written",
                 dir.string(), samples.size(), events.size());
  }
  if (bad) spdlog::warn("{} lines of the bundle were not JSON (a capture cut short?): left out", bad);
  spdlog::info("{}: {} events, {} samples; {}", (dir / "report.html").string(), events.size(), samples.size(),
               fresh.value("sentence", ""));
  return 0;
}


// The recorder under a state directory, or the directory itself.
fs::path recorder_dir(const fs::path& state_dir) {
  return fs::is_directory(state_dir / "recorder") ? state_dir / "recorder" : state_dir;
}

std::string stamp(std::int64_t ns) {
  std::string s = rfc3339(ns);  // 2026-12-04T03:12:00.000000Z
  return s.substr(0, 4) + s.substr(5, 2) + s.substr(8, 2) + "T" + s.substr(11, 2) + s.substr(14, 2) + s.substr(17, 2) + "Z";
}

int list_recorder(const fs::path& dir) {
  const auto h = capture::survey(dir);
  if (h.segments == 0) {
    spdlog::error("{} holds no flight recorder segments (is it the agent's --state-dir?)", dir.string());
    return 1;
  }
  std::printf("flight recorder %s: %llu segments, %.1f MB, %s to %s\n", dir.c_str(),
              static_cast<unsigned long long>(h.segments), static_cast<double>(h.bytes) / 1e6,
              rfc3339(h.first_ns).c_str(), rfc3339(h.last_ns).c_str());
  if (h.torn) std::printf("%llu records were torn (a crash or a full disk) and are left out\n",
                          static_cast<unsigned long long>(h.torn));
  std::printf("%-20s %12s %13s\n", "hour (UTC)", "slow fsyncs", "probe events");
  for (const auto& [hour, n] : h.per_hour) {
    std::printf("%-20s %12llu %13llu\n", rfc3339(hour).substr(0, 16).append("Z").c_str(),
                static_cast<unsigned long long>(n.first), static_cast<unsigned long long>(n.second));
  }
  return 0;
}

int render_window(const Options& options, const fs::path& dir) {
  const std::int64_t now = realtime_ns();
  if (options.report_since.empty()) {
    spdlog::error("--state-dir needs --since (RFC 3339 like 2026-12-04T03:12:00Z, or a duration before now like -2h); "
                  "--list shows what the recorder holds");
    return 2;
  }
  const auto since = parse_time_ns(options.report_since, now);
  const auto until = parse_time_ns(options.report_until, now);
  if (!since || !until) {
    spdlog::error("{}", !since ? "--since: " + since.error().message : "--until: " + until.error().message);
    return 2;
  }
  if (*since >= *until) {
    spdlog::error("--since {} is not before --until {}", rfc3339(*since), rfc3339(*until));
    return 2;
  }
  if (capture::list_segments(dir).empty()) {
    spdlog::error("{} holds no flight recorder segments (is it the agent's --state-dir?)", dir.string());
    return 1;
  }
  auto w = capture::read_window(dir, *since, *until);
  if (w.samples.empty() && w.events.empty()) {
    const auto h = capture::survey(dir);
    spdlog::error("the flight recorder holds nothing from {} to {}; it holds {} to {}", rfc3339(*since),
                  rfc3339(*until), rfc3339(h.first_ns), rfc3339(h.last_ns));
    return 1;
  }
  fs::path out = options.report_out;
  if (out.empty()) out = "stallwatch-report-" + w.host.value("node", std::string("node")) + "-" + stamp(*since);
  if (auto ok = capture::prepare_bundle_dir(out, "--out"); !ok) {
    spdlog::error("{}", ok.error().message);
    return 2;
  }
  std::string events_text, series_text;
  for (const auto& e : w.events) events_text += events::event_line(e) + "\n";
  for (const auto& s : w.samples) series_text += s.to_json().dump() + "\n";
  bool ok = capture::write_file(out / "events.jsonl", events_text) &&
            capture::write_file(out / "timeseries.jsonl", series_text) &&
            capture::write_file(out / "host.json", w.host.dump(2) + "\n");
  if (!w.metrics_first.empty()) {
    ok = ok && capture::write_file(out / "metrics-start.prom", w.metrics_first) &&
         capture::write_file(out / "metrics-end.prom", w.metrics_last);
  }
  auto summary = report::summarize(w.events, w.samples);
  const std::int64_t first = w.samples.empty() ? *since : w.samples.front().realtime_ns;
  const std::int64_t last = w.samples.empty() ? *until : w.samples.back().realtime_ns;
  summary["capture"] = {{"source", "flight recorder"},
                        {"recorder", fs::absolute(dir).string()},
                        {"started", rfc3339(*since)},
                        {"ended", rfc3339(*until)},
                        {"duration_s", static_cast<double>(*until - *since) / 1e9},
                        {"first_sample", rfc3339(first)},
                        {"last_sample", rfc3339(last)},
                        {"ended_because", "a window of the flight recorder"},
                        {"metrics_snapshots", w.metrics_first.empty() ? "none in the window"
                                                                      : rfc3339(w.metrics_first_ns) + " and " +
                                                                            rfc3339(w.metrics_last_ns)},
                        {"unreadable_records", w.torn}};
  if (!ok || !capture::write_report(out, summary, w.host, w.events, w.samples)) {
    spdlog::error("cannot write the bundle to {}", out.string());
    return 1;
  }
  if (w.torn) spdlog::warn("{} records of the recorder were torn (a crash or a full disk): left out", w.torn);
  spdlog::info("{}: {} to {}, {} events, {} samples; {}", (out / "report.html").string(), rfc3339(*since),
               rfc3339(*until), w.events.size(), w.samples.size(), summary.value("sentence", ""));
  return 0;
}

}  // namespace

int run_report(const Options& options) {
  const bool from_recorder = !options.report_state_dir.empty();
  if (from_recorder == !options.report_dir.empty()) {
    spdlog::error("report takes a bundle directory, or --state-dir with --since/--until or --list, not {}",
                  from_recorder ? "both" : "neither");
    return 2;
  }
  if (!from_recorder) {
    if (options.report_list || !options.report_since.empty() || !options.report_out.empty()) {
      spdlog::error("--list, --since, --until and --out go with --state-dir (a bundle is rendered in place)");
      return 2;
    }
    return rerender_bundle(options);
  }
  if (!fs::is_directory(options.report_state_dir)) {
    spdlog::error("--state-dir {}: not a directory", options.report_state_dir);
    return 2;
  }
  const fs::path dir = recorder_dir(options.report_state_dir);
  return options.report_list ? list_recorder(dir) : render_window(options, dir);
}

}  // namespace stallwatch::cli
