// `stallwatch run`: load the hooks, serve /metrics until SIGINT/SIGTERM.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/version.h"
#include "exporters/prometheus/collector.h"
#include "exporters/prometheus/metrics_server.h"
#include "identity/cgroup_paths.h"
#include "identity/device_names.h"
#include "loader/fsync_probes.h"
#include "loader/host_facts.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

namespace {

// Waits for SIGINT or SIGTERM, which main() blocked before any thread started.
int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  for (;;) {
    const int sig = sigwaitinfo(&set, nullptr);
    if (sig > 0) return sig;
  }
}

}  // namespace

int run_agent(const Options& options) {
  const auto facts = loader::read_host_facts();
  if (auto ok = check_host(facts); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  auto hook = loader::parse_fsync_hook(options.fsync_hook);
  if (!hook) {
    spdlog::error("{}", hook.error().message);
    return 2;
  }
  // Checked before anything loads, so bad input never leaves programs behind.
  if (auto ports = exporters::to_civetweb_ports(options.listen_address); !ports) {
    spdlog::error("{}", ports.error().message);
    return 2;
  }
  loader::route_libbpf_output();

  const auto tracefs = loader::ensure_tracefs(true);
  if (tracefs && tracefs->mounted_by_us) spdlog::info("mounted tracefs at {}", tracefs->path);

  std::vector<loader::RungReport> report;
  auto probes = loader::FsyncProbes::load({*hook, options.fsync_map_entries}, tracefs, report);
  if (!probes) {
    spdlog::error("{}", probes.error().message);
    return 1;
  }
  reader::FsyncMapReader fsync_reader(probes->hist_fd(), probes->drops_fd());
  auto cgroups = std::make_shared<identity::CgroupPaths>(facts.cgroups.cgroup2_mount);
  auto devices = std::make_shared<identity::DeviceNames>();
  exporters::Labeler labeler{[cgroups](std::uint64_t id) { return cgroups->name(id); },
                             [devices](std::uint32_t dev) { return devices->name(dev); }};
  auto collector = std::make_shared<exporters::AgentCollector>(
      [&fsync_reader] { return fsync_reader.snapshot(); }, std::move(labeler),
      std::vector<exporters::HookInfo>{{"fsync", std::string(probes->mode())},
                                       {"fsync_io_uring", probes->io_uring() ? "tracepoint" : "off"}},
      build_info());

  auto server = exporters::MetricsServer::start(options.listen_address, collector);
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  exporters::MetricsServer::set_healthy(true);
  spdlog::info(
      "stallwatch {} on kernel {}: fsync hook {} (io_uring {}), cgroup {} at {}; "
      "serving /metrics and /healthz on {} (port {})",
      build_info().version, facts.kernel_release, probes->mode(),
      probes->io_uring() ? "traced" : "not traced", loader::to_string(facts.cgroups.layout),
      facts.cgroups.cgroup2_mount, options.listen_address, (*server)->port());
  // Logged after start-up so that a failing start prints its one error line only.
  for (const auto& r : report) {
    if (!r.chosen) spdlog::warn("fsync rung {} not used: {}", r.rung, r.detail);
  }

  const int sig = wait_for_stop_signal();
  spdlog::info("received {}, detaching", sig == SIGINT ? "SIGINT" : "SIGTERM");
  exporters::MetricsServer::set_healthy(false);
  server->reset();  // stop serving before the maps go away
  spdlog::debug("metrics server stopped");
  probes = fail("stopped");
  spdlog::debug("programs detached");
  return 0;
}

}  // namespace stallwatch::cli
