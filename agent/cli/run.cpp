// `stallwatch run`: load the hooks, serve /metrics and write the event log
// until SIGINT/SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/session.h"
#include "exporters/jsonl/event_log.h"
#include "exporters/prometheus/metrics_server.h"
#include "loader/host_facts.h"

namespace stallwatch::cli {

// Waits for SIGINT or SIGTERM, which main() blocked before any thread
// started, calling tick every period meanwhile.
int wait_for_stop_signal(std::chrono::seconds period, const std::function<void()>& tick) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const timespec timeout{static_cast<time_t>(period.count()), 0};
  for (;;) {
    const int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0) return sig;
    tick();
  }
}

int run_agent(const Options& options) {
  // A scrape builds its text (hundreds of KiB on a busy node) on a civetweb
  // thread. glibc would raise its mmap threshold after the first such free
  // and then keep megabytes at the top of that thread's arena for good; a
  // fixed threshold sends big buffers to mmap and back to the kernel.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
  if (auto ports = exporters::to_civetweb_ports(options.listen_address); !ports) {
    spdlog::error("{}", ports.error().message);
    return 2;
  }
  // Missing privileges first: they explain an unwritable state directory too.
  if (auto ok = check_host(loader::read_host_facts()); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  // Before anything loads: an unwritable event log is the user's to fix.
  auto log = exporters::EventLog::open(options.events_file.empty() ? exporters::default_events_path(options.state_dir)
                                                                   : options.events_file);
  if (!log) {
    spdlog::error("{}", log.error().message);
    return 1;
  }
  std::shared_ptr<exporters::EventLog> event_log = std::move(*log);
  auto session = Session::start(options, {[event_log](const nlohmann::json& e) { event_log->write(e.dump()); },
                                          [event_log] {
                                            return std::pair{event_log->written(), event_log->failed()};
                                          }});
  if (!session) return session.error();

  auto server = exporters::MetricsServer::start(options.listen_address, (*session)->collector());
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  exporters::MetricsServer::set_healthy(true);
  (*session)->log_started(
      fmt::format("; serving /metrics and /healthz on {} (port {})", options.listen_address, (*server)->port()));
  spdlog::info("events to {}", event_log->path() == "-" ? "stdout" : event_log->path());
  // Victims are re-resolved every second: a new etcd is followed within one.
  const int sig = wait_for_stop_signal(std::chrono::seconds(1), [&] { (*session)->tick(); });
  spdlog::info("received {}, detaching", sig == SIGINT ? "SIGINT" : "SIGTERM");
  exporters::MetricsServer::set_healthy(false);
  server->reset();  // stop serving before the maps go away
  spdlog::debug("metrics server stopped");
  session->reset();
  spdlog::debug("programs detached");
  return 0;
}

}  // namespace stallwatch::cli
