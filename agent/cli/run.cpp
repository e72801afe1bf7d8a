// `stallwatch run`: load the hooks, serve /metrics and write the event log
// until SIGINT/SIGTERM; SIGHUP reopens the event log.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "capture/flight_recorder.h"
#include "capture/trigger.h"
#include "cli/logging.h"
#include "cli/options.h"
#include "cli/other_agent.h"
#include "cli/preflight.h"
#include "cli/session.h"
#include "common/clock.h"
#include "common/duration.h"
#include "events/event_line.h"
#include "exporters/jsonl/event_log.h"
#include "exporters/jsonl/rate_limit.h"
#include "exporters/prometheus/metrics_server.h"
#include "live/sampler.h"
#include "loader/host_facts.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

namespace {

// Whose event this is, for the per-victim limit: a slow call's victim
// cgroup, a probe's pod (or its address when no pod owns it).
std::string victim_key(const nlohmann::json& e) {
  if (const auto v = e.find("victim"); v != e.end() && v->is_object()) return v->value("cgroup", "");
  return e.value("namespace", "") + "/" + e.value("pod", "");
}

}  // namespace

// Waits for SIGINT or SIGTERM, which main() blocked before any thread
// started, calling tick every period meanwhile, and hup on SIGHUP.
int wait_for_stop_signal(std::chrono::seconds period, const std::function<void()>& tick,
                         const std::function<void()>& hup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  const timespec timeout{static_cast<time_t>(period.count()), 0};
  for (;;) {
    const int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGHUP) {
      hup();
    } else if (sig > 0) {
      return sig;
    } else {
      tick();
    }
  }
}

int run_agent(const Options& options) {
  // A scrape builds its text (hundreds of KiB on a busy node) on an HTTP
  // thread. glibc would raise its mmap threshold after the first such free
  // and then keep megabytes at the top of that thread's arena for good; a
  // fixed threshold sends big buffers to mmap and back to the kernel.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
  const auto address = exporters::parse_listen_address(options.listen_address);
  if (!address) {
    spdlog::error("{}", address.error().message);
    return 2;
  }
  const auto web = exporters::load_web_config(options.web_config_file);
  if (!web) {
    spdlog::error("{}", web.error().message);
    return 2;
  }
  const auto max_size = capture::parse_size(options.events_max_size);
  if (!max_size) {
    spdlog::error("--events-max-size: {}", max_size.error().message);
    return 2;
  }
  const auto recorder_size = capture::parse_size(options.recorder_max_size, true);
  const auto recorder_age = parse_duration_ns(options.recorder_max_age, 366 * 24 * kHourNs);
  if (!recorder_size || !recorder_age) {
    spdlog::error("{}", !recorder_size ? "--recorder-max-size: " + recorder_size.error().message
                                       : "--recorder-max-age: " + recorder_age.error().message);
    return 2;
  }
  if (*recorder_size > 0 && *recorder_size < capture::FlightRecorder::kMinBytes) {
    spdlog::error("--recorder-max-size: '{}' is too small (1MiB at least, or 0: off)", options.recorder_max_size);
    return 2;
  }
  if (const auto other = find_other_agent()) {
    spdlog::error("another stallwatch agent runs on this node (pid {}: {}); a second would trace every call twice. "
                  "Stop that one first",
                  other->pid, other->command);
    return 1;
  }
  // Missing privileges first: they explain an unwritable state directory too.
  if (auto ok = check_host(loader::read_host_facts()); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  // SIGHUP is run's alone (the log reopens): blocked before the event
  // log's writer and the session's threads exist, so they inherit it.
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);
  // Before anything loads: an unwritable event log is the user's to fix.
  exporters::EventLogConfig log_config;
  log_config.path =
      options.events_file.empty() ? exporters::default_events_path(options.state_dir) : options.events_file;
  log_config.max_bytes = *max_size;
  log_config.keep = options.events_keep;
  log_config.hold_until_header = true;  // the start event, once the hooks are known, comes first
  auto log = exporters::EventLog::open(log_config);
  if (!log) {
    spdlog::error("{}", log.error().message);
    return 1;
  }
  std::shared_ptr<exporters::EventLog> event_log = std::move(*log);
  std::shared_ptr<capture::FlightRecorder> recorder;
  if (*recorder_size > 0) {
    capture::FlightRecorderConfig rc;
    rc.dir = std::filesystem::path(options.state_dir) / "recorder";
    rc.max_bytes = *recorder_size;
    rc.max_age_ns = static_cast<std::int64_t>(*recorder_age);
    auto r = capture::FlightRecorder::open(rc);
    if (!r) {
      spdlog::error("{} (--recorder-max-size=0 turns it off)", r.error().message);
      return 1;
    }
    recorder = std::move(*r);
  }
  // Ring-buffer reader threads call in and share the limiter.
  auto limit = std::make_shared<exporters::RateLimit>(options.events_rate, options.events_rate * 10);
  auto session = Session::start(options, {[event_log, limit, recorder](const nlohmann::json& e) {
                                            // Every event, past the log's rate limit too: the
                                            // recorder has its own bound.
                                            if (recorder) recorder->event(e, realtime_ns());
                                            const auto admit =
                                                limit->admit(victim_key(e), static_cast<double>(monotonic_ns()) / 1e9);
                                            if (!admit.pass) return;
                                            if (admit.suppressed_before == 0) {
                                              return event_log->write(events::event_line(e));
                                            }
                                            nlohmann::json with = e;
                                            with["suppressed"] = admit.suppressed_before;
                                            event_log->write(events::event_line(with));
                                          },
                                          [event_log] {
                                            const auto s = event_log->stats();
                                            return std::pair{s.written, s.failed + s.dropped};
                                          }});
  if (!session) return session.error();
  event_log->set_header(events::event_line((*session)->start_event()));
  (*session)->collector()->enable_event_log([event_log, limit] {
    const auto s = event_log->stats();
    return exporters::EventLogInfo{s.written, s.failed, s.dropped, limit->suppressed_total(), s.rotations};
  });

  if (recorder) {
    recorder->set_host((*session)->host_json(options), realtime_ns());
    (*session)->collector()->enable_recorder([recorder] {
      const auto s = recorder->stats();
      return exporters::RecorderInfo{s.records, s.dropped, s.bytes, s.removed};
    });
  }

  auto server = exporters::MetricsServer::start(*address, *web, (*session)->collector());
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  exporters::MetricsServer::set_healthy(true);
  (*session)->log_started(fmt::format("; serving /metrics and /healthz on {}{}", (*server)->where(),
                                      !web->tls              ? ""
                                      : web->users.empty()   ? " over TLS"
                                                             : " over TLS with basic auth"));
  mark_running();
  if (!web->tls && !web->users.empty()) {
    spdlog::warn("basic auth without TLS: passwords cross the network in clear (add tls_server_config)");
  }
  spdlog::info("events to {}", event_log->path() == "-" ? "stdout" : event_log->path());
  if (recorder) {
    spdlog::info("flight recorder in {} (at most {} and {}; `stallwatch report --state-dir {} --list`)",
                 recorder->dir().string(), options.recorder_max_size, options.recorder_max_age, options.state_dir);
  }
  live::Sampler sampler((*session)->labeler());
  unsigned ticks = 0;
  // Victims are re-resolved every second: a new etcd is followed within one.
  // The recorder gets a sample every second and the metrics every 10 s.
  auto last = std::chrono::steady_clock::now();
  const int sig = wait_for_stop_signal(
      std::chrono::seconds(1),
      [&] {
        (*session)->tick();
        if (!recorder) return;
        const auto now = std::chrono::steady_clock::now();
        if (auto snap = (*session)->maps().snapshot(); snap) {
          if (auto s = sampler.next(*snap, realtime_ns(), std::chrono::duration<double>(now - last).count())) {
            recorder->sample(*s);
          }
        }
        last = now;
        if (++ticks % 10 == 0) recorder->metrics((*session)->metrics_text(), realtime_ns());
      },
      [&] {
        spdlog::info("received SIGHUP, reopening {}", event_log->path());
        event_log->reopen();
      });
  spdlog::info("received {}, detaching", sig == SIGINT ? "SIGINT" : "SIGTERM");
  exporters::MetricsServer::set_healthy(false);
  server->reset();  // stop serving before the maps go away
  spdlog::debug("metrics server stopped");
  session->reset();
  spdlog::debug("programs detached");
  return 0;
}

}  // namespace stallwatch::cli
