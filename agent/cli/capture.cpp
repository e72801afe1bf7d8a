// `stallwatch capture`: a bounded recording for an incident. Records for
// --duration (or until Ctrl-C), or keeps the last --pre of events and
// one-second samples in memory until --trigger fires and then records
// --post more. Writes a bundle directory: events.jsonl, timeseries.jsonl,
// metrics-start.prom, metrics-end.prom, host.json, summary.json and
// report.html. Needs no network, Prometheus or Kubernetes.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "capture/bundle.h"
#include "capture/recorder.h"
#include "capture/trigger.h"
#include "cli/logging.h"
#include "cli/options.h"
#include "cli/session.h"
#include "common/clock.h"
#include "common/duration.h"
#include "events/probe_event.h"
#include "exporters/report/charts.h"
#include "exporters/report/html.h"
#include "exporters/report/summary.h"
#include "identity/node_name.h"
#include "live/sampler.h"
#include "loader/host_facts.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

using capture::parse_size;
using capture::write_file;
using capture::Recorder;
using capture::Trigger;

namespace fs = std::filesystem;

namespace {

std::string utc_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

int run_capture(const Options& options) {
  std::optional<std::uint64_t> duration_ns;
  if (!options.capture_duration.empty()) {
    auto d = parse_duration_ns(options.capture_duration, 24 * kHourNs);
    if (!d || *d == 0) {
      spdlog::error("--duration: {}", d ? "must be more than 0" : d.error().message);
      return 2;
    }
    duration_ns = *d;
  }
  std::optional<Trigger> trigger;
  if (!options.capture_trigger.empty()) {
    auto t = Trigger::parse(options.capture_trigger);
    if (!t) {
      spdlog::error("{}", t.error().message);
      return 2;
    }
    trigger = *t;
  }
  auto pre = parse_duration_ns(options.capture_pre);
  auto post = parse_duration_ns(options.capture_post);
  auto max_size = parse_size(options.capture_max_size);
  if (!pre || !post || !max_size) {
    spdlog::error("{}", !pre    ? "--pre: " + pre.error().message
                        : !post ? "--post: " + post.error().message
                                : "--max-size: " + max_size.error().message);
    return 2;
  }
  fs::path dir = options.capture_out;
  if (dir.empty()) {
    // Bundles gathered from several nodes keep apart by name.
    auto node = identity::node_name();
    if (!node) {
      spdlog::error("{}", node.error().message);
      return 2;
    }
    dir = "stallwatch-capture-" + *node + "-" + utc_stamp();
  }
  if (auto ok = capture::prepare_bundle_dir(dir, "--out"); !ok) {
    spdlog::error("{}", ok.error().message);
    return fs::is_directory(dir) ? 2 : 1;
  }

  Session* session_ptr = nullptr;
  auto recorder = std::make_shared<Recorder>(dir, trigger, std::chrono::nanoseconds(*pre), *max_size);
  auto session = Session::start(options, {[recorder](const nlohmann::json& e) { recorder->event(e); },
                                          [recorder] {
                                            return std::pair{recorder->seen(), std::uint64_t{0}};
                                          }});
  if (!session) return session.error();
  session_ptr = session->get();
  session_ptr->log_started("; capturing to " + dir.string());
  const std::int64_t started = capture::wall_ns();
  const std::string start_prom = session_ptr->metrics_text();
  const std::string host = session_ptr->host_json(options).dump(2) + "\n";
  write_file(dir / "metrics-start.prom", start_prom);
  write_file(dir / "host.json", host);
  // What is not data: both metrics snapshots (the end one holds the new
  // series too: three times the start's, measured about two), host.json,
  // and the summary's and report's fixed parts (its inlined scripts).
  const std::uint64_t fixed = 4 * start_prom.size() + host.size() + report::chart_scripts_size() + 32 * 1024;
  if (fixed >= *max_size) {
    spdlog::error("--max-size {} is below what the metrics snapshots and the report's scripts take here (about {} KB)",
                  options.capture_max_size, fixed / 1000);
    return 2;
  }
  recorder->set_budget(*max_size - fixed);
  mark_running();

  live::Sampler sampler(session_ptr->labeler());
  const bool progress = options.progress && ::isatty(STDERR_FILENO);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  const auto mono = [] { return std::chrono::steady_clock::now(); };
  const auto begin = mono();
  auto last = begin;
  std::string why = "stopped";
  // The first sample is the baseline the next one's rates start from; if
  // it cannot be read the next readable one serves.
  if (auto first = session_ptr->maps().snapshot(); first) {
    (void)sampler.next(*first, capture::wall_ns(), 0);
  } else {
    spdlog::warn("first sample not read: {}", first.error().message);
  }
  for (;;) {
    const timespec second{1, 0};
    if (sigtimedwait(&stop, nullptr, &second) > 0) {
      why = "interrupted";
      break;
    }
    session_ptr->tick();
    const auto now = mono();
    if (auto snap = session_ptr->maps().snapshot(); snap) {
      if (auto s = sampler.next(*snap, capture::wall_ns(), std::chrono::duration<double>(now - last).count()))
        recorder->sample(*s);
    }
    last = now;
    const double elapsed = std::chrono::duration<double>(now - begin).count();
    if (progress) {
      std::fprintf(stderr, "\r  %6.0fs  events %-6llu %7.2f MB  triggers %-4llu %s   ", elapsed,
                   static_cast<unsigned long long>(recorder->seen()), recorder->bytes() / 1e6,
                   static_cast<unsigned long long>(recorder->matches()),
                   recorder->recording() ? (trigger ? "triggered, recording" : "recording")
                                         : ("waiting for " + trigger->text).c_str());
    }
    if (recorder->full()) {
      why = recorder->write_error().empty() ? "--max-size " + options.capture_max_size + " reached"
                                            : recorder->write_error();
      break;
    }
    if (!trigger && duration_ns && elapsed * 1e9 >= static_cast<double>(*duration_ns)) {
      why = "duration reached";
      break;
    }
    if (trigger && recorder->recording() &&
        static_cast<double>(capture::wall_ns() - recorder->triggered_at()) >= static_cast<double>(*post)) {
      why = "post-trigger window recorded";
      break;
    }
    if (trigger && !recorder->recording() && duration_ns && elapsed * 1e9 >= static_cast<double>(*duration_ns)) {
      why = "duration reached before the trigger";
      break;
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  recorder->finish();
  const std::int64_t ended = capture::wall_ns();
  write_file(dir / "metrics-end.prom", session_ptr->metrics_text());
  const auto events = recorder->events();
  const auto samples = recorder->samples();
  auto summary = report::summarize(events, samples);
  summary["capture"] = {{"started", rfc3339(started)},
                        {"ended", rfc3339(ended)},
                        {"duration_s", static_cast<double>(ended - started) / 1e9},
                        {"trigger", trigger ? trigger->text : ""},
                        {"triggered_at", recorder->triggered_at() ? rfc3339(recorder->triggered_at()) : ""},
                        {"trigger_event", recorder->trigger_event()},
                        {"trigger_matches", recorder->matches()},
                        {"ended_because", why},
                        {"truncated", recorder->full()},
                        {"max_size_bytes", *max_size},
                        {"data_bytes", recorder->bytes()}};
  const bool ok = capture::write_report(dir, summary, session_ptr->host_json(options), events, samples);
  session->reset();
  std::error_code ec;
  std::uintmax_t total = 0;
  for (const auto& f : fs::directory_iterator(dir, ec)) total += f.is_regular_file() ? f.file_size() : 0;
  if (recorder->full()) {
    spdlog::warn("capture stopped early: {}; the bundle holds what was recorded until then", why);
  }
  if (!ok) {
    spdlog::error("bundle {} is incomplete: summary or report could not be written", dir.string());
    return 1;
  }
  if (trigger && !recorder->triggered_at()) {
    spdlog::warn("the trigger {} never fired; the bundle holds the last {} before the end", trigger->text,
                 options.capture_pre);
  }
  spdlog::info("bundle {}: {} events, {} samples, {} bytes ({}); {}", dir.string(), events.size(), samples.size(),
               total, why, summary.value("sentence", ""));
  return 0;
}

}  // namespace stallwatch::cli
