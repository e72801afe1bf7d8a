// `stallwatch run`: load the hooks, serve /metrics until SIGINT/SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "blame/probe_event.h"
#include "blame/slow_event.h"
#include "blame/victims.h"
#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/selftest.h"
#include "cli/startup.h"
#include "cli/version.h"
#include "exporters/jsonl/event_log.h"
#include "exporters/prometheus/collector.h"
#include "exporters/prometheus/metrics_server.h"
#include "identity/device_names.h"
#include "identity/identity.h"
#include "identity/pod_addresses.h"
#include "loader/cgroup_probes.h"
#include "loader/host_facts.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "reader/map_reader.h"
#include "reader/ring_events.h"

namespace stallwatch::cli {

namespace {

Result<SelfTest> run_selftest(const reader::MapFds& fds, const std::string& cgroup2,
                              const loader::FsyncProbes& fsync) {
  reader::MapReader maps(fds);
  return run_fsync_selftest(maps, cgroup2, fsync.io_uring(), fsync.mode() == "fentry");
}

using namespace std::chrono_literals;

// Requests the device never completed (a removed disk, a lost command) are
// freed after this long; the block layer's own timeout is 30 s by default.
constexpr auto kStaleRequest = 120s;
// Bios that never joined a request (merged away unseen, device gone).
constexpr auto kStaleBio = 30s;

// Waits for SIGINT or SIGTERM, which main() blocked before any thread
// started, calling tick every period meanwhile.
template <typename F>
int wait_for_stop_signal(std::chrono::seconds period, F&& tick) {
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

}  // namespace

int run_agent(const Options& options) {
  // A scrape builds its text (hundreds of KiB on a busy node) on a civetweb
  // thread. glibc would raise its mmap threshold after the first such free
  // and then keep megabytes at the top of that thread's arena for good; a
  // fixed threshold sends big buffers to mmap and back to the kernel.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
  const auto facts = loader::read_host_facts();
  if (auto ok = check_host(facts); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  // Usage errors are caught before anything loads, so they never leave programs behind.
  auto configs = parse_configs(options);
  if (!configs) {
    spdlog::error("{}", configs.error().message);
    return 2;
  }
  if (auto ports = exporters::to_civetweb_ports(options.listen_address); !ports) {
    spdlog::error("{}", ports.error().message);
    return 2;
  }
  configs->block.blame_owner = facts.cgroups.io_on_v2;
  std::unique_ptr<exporters::EventLog> event_log;
  if (configs->blame.hook != loader::BlameHook::kOff || configs->probe.hook != loader::ProbeHook::kOff) {
    auto log = exporters::EventLog::open(options.events_file.empty()
                                             ? exporters::default_events_path(options.state_dir)
                                             : options.events_file);
    if (!log) {
      spdlog::error("{}", log.error().message);
      return 1;
    }
    event_log = std::move(*log);
  }
  loader::route_libbpf_output();

  const auto tracefs = loader::ensure_tracefs(true);
  if (tracefs && tracefs->mounted_by_us) spdlog::info("mounted tracefs at {}", tracefs->path);

  std::vector<loader::RungReport> report;
  auto loaded = load_all(*configs, tracefs, report);
  if (!loaded) {
    spdlog::error("{}", loaded.error().message);
    return 1;
  }
  auto& fsync = loaded->fsync;
  auto& block = loaded->block;
  auto cgroup_probes = loader::CgroupProbes::load(report);

  const auto map_fds = [&] {
    reader::MapFds fds{fsync.hist_fd(), fsync.drops_fd()};
    if (block) {
      fds.blk_hist = block->hist_fd();
      fds.blk_io = block->io_fd();
      fds.blk_rq = block->rq_fd();
      fds.blk_bio = block->bio_fd();
      fds.blk_drops = block->drops_fd();
    }
    if (cgroup_probes) fds.cgroup_drops = cgroup_probes->drops_fd();
    if (loaded->probe) {
      fds.probe_hist = loaded->probe->hist_fd();
      fds.probe_drops = loaded->probe->drops_fd();
    }
    if (loaded->blame) {
      fds.blame = loaded->blame->maps().blame;
      fds.blame_dev = loaded->blame->maps().blame_dev;
      fds.blame_drops = loaded->blame->drops_fd();
    }
    return fds;
  };
  auto selftest = run_selftest(map_fds(), facts.cgroups.cgroup2_mount, fsync);
  if (selftest && selftest->duplicates() && fsync.mode() == "fentry" &&
      configs->fsync.hook == loader::FsyncHook::kAuto) {
    // The fentry rung counted a call twice here: drop it, keep the tracepoints.
    // Logged now although start-up is not done: it explains the rung change.
    spdlog::warn("fsync self-test counted calls twice on the fentry rung; using tracepoint");
    std::vector<loader::RungReport> again;
    auto config = configs->fsync;
    config.hook = loader::FsyncHook::kTracepoint;
    auto tracepoint = loader::FsyncProbes::load(config, tracefs, again);
    if (!tracepoint) {
      spdlog::error("{}", tracepoint.error().message);
      return 1;
    }
    fsync = std::move(*tracepoint);
    selftest = run_selftest(map_fds(), facts.cgroups.cgroup2_mount, fsync);
  }
  std::vector<exporters::SelfTestInfo> selftest_rows;
  std::string selftest_line;
  if (selftest) {
    for (const auto& r : selftest->rows) {
      selftest_rows.push_back({r.op, r.expected, r.seen});
      selftest_line += fmt::format("{}{} {}/{}", selftest_line.empty() ? "" : ", ", r.op, r.seen, r.expected);
    }
  }
  reader::MapReader maps(map_fds());
  const bool block_owner = block && block->sees_owner() && facts.cgroups.io_on_v2;
  auto identity = std::make_shared<identity::Identity>(identity::Identity::Config{
      options.cgroup_root.empty() ? facts.cgroups.cgroup2_mount : options.cgroup_root,
      options.pod_logs_dir, options.runtime_state_dirs, options.max_series,
      std::chrono::seconds(options.stale_after_s)});
  // A pod appearing or going: re-read the pods' addresses at the next tick.
  auto cgroups_changed = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<reader::RingEvents> cgroup_events;
  if (cgroup_probes) {
    auto events = reader::RingEvents::start_typed<sw_cgroup_event>(cgroup_probes->events_fd(), [identity, cgroups_changed](sw_cgroup_event e) {
      *cgroups_changed = true;
      if (e.hierarchy_id != 0) return;  // a v1 hierarchy: its ids are not cgroup2 ids
      e.path[SW_CGROUP_PATH_MAX - 1] = '\0';
      if (e.type == SW_CGROUP_MKDIR) {
        identity->on_mkdir(e.id, e.path);
      } else {
        identity->on_rmdir(e.id);
      }
    });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return 1;
    }
    cgroup_events = std::move(*events);
  }
  auto devices = std::make_shared<identity::DeviceNames>();
  exporters::Labeler labeler{[identity](std::uint64_t id) { return identity->labels(id); },
                             [devices](std::uint32_t dev) { return devices->name(dev); },
                             [devices](std::uint32_t dev) { return devices->partition_name(dev); },
                             block_owner};
  std::vector<exporters::HookInfo> hooks = {
      {"fsync", std::string(fsync.mode())},
      {"fsync_io_uring", fsync.io_uring() ? "tracepoint" : "off"},
      {"block", block ? std::string(block->mode()) : "off"}};
  if (block) hooks.push_back({"block_attribution", block_owner ? "owner" : "submitter"});
  hooks.push_back({"cgroup_events", cgroup_probes ? std::string(cgroup_probes->mode()) : "off"});
  hooks.push_back({"blame", loaded->blame ? std::string(loaded->blame->mode()) : "off"});
  hooks.push_back({"probe", loaded->probe ? std::string(loaded->probe->mode()) : "off"});
  auto collector = std::make_shared<exporters::AgentCollector>(
      [&maps] { return maps.snapshot(); }, std::move(labeler),
      [identity] { return exporters::IdentityStats{identity->tracked(), identity->series_dropped()}; },
      hooks, build_info(), selftest_rows);

  std::unique_ptr<blame::Victims> victims;
  std::unique_ptr<reader::RingEvents> slow_events, probe_events;
  blame::SlowFsyncHistory fsync_history;
  auto addresses = std::make_shared<identity::PodAddresses>(
      "/proc", options.cgroup_root.empty() ? facts.cgroups.cgroup2_mount : options.cgroup_root);
  std::unique_ptr<blame::ProbeEventQueue> probe_queue;
  if (loaded->probe) {
    addresses->refresh(*identity);
    const auto namer = [addresses](const identity::Address& a, int family) { return addresses->lookup(a, family); };
    collector->enable_probes(namer);
    probe_queue = std::make_unique<blame::ProbeEventQueue>(
        blame::ProbeContext{[identity](std::uint64_t id) { return identity->labels(id); }, namer,
                            blame::realtime_offset_ns()},
        fsync_history, [log = event_log.get()](const std::string& line) { log->write(line); });
    auto events = reader::RingEvents::start_typed<sw_probe_event>(
        loaded->probe->events_fd(), [q = probe_queue.get()](const sw_probe_event& e) { q->push(e); });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return 1;
    }
    probe_events = std::move(*events);
  }
  std::atomic<std::size_t> victim_processes{0}, victim_cgroups{0};
  if (loaded->blame) {
    victims = std::make_unique<blame::Victims>(configs->victims, loaded->blame->maps().victim_tasks,
                                               loaded->blame->maps().victim_cgroups);
    blame::EventContext ctx{[identity](std::uint64_t id) { return identity->labels(id); },
                            [devices](std::uint32_t dev) { return devices->name(dev); },
                            {},
                            blame::realtime_offset_ns()};
    for (const auto& h : hooks) ctx.hooks.emplace_back(h.subsystem, h.mode);
    auto events = reader::RingEvents::start_typed<sw_blame_event>(
        loaded->blame->maps().blame_events,
        [ctx = std::move(ctx), log = event_log.get(), history = &fsync_history](const sw_blame_event& e) {
          const auto event = blame::slow_event(e, ctx);
          log->write(event.dump());
          history->add(event, e.start_ns, e.start_ns + e.wall_ns);
        });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return 1;
    }
    slow_events = std::move(*events);
    collector->enable_blame(std::make_shared<exporters::CulpritBudget>(options.blame_top_culprits),
                            [&victim_processes, &victim_cgroups, log = event_log.get()] {
                              return exporters::BlameStats{victim_processes, victim_cgroups, log->written(),
                                                           log->failed()};
                            });
  }
  const auto refresh_victims = [&] {
    if (!victims) return;
    auto counts = victims->refresh(victims->wants_cgroups() ? identity->live()
                                                            : std::vector<std::pair<std::uint64_t, identity::Labels>>{});
    if (!counts) {
      spdlog::warn("victims: {}", counts.error().message);
      return;
    }
    victim_processes = counts->processes;
    victim_cgroups = counts->cgroups;
  };
  refresh_victims();

  auto server = exporters::MetricsServer::start(options.listen_address, collector);
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  exporters::MetricsServer::set_healthy(true);
  spdlog::info(
      "stallwatch {} on kernel {}: fsync hook {} (io_uring {}), block hook {}{}, cgroup {} at {}; "
      "serving /metrics and /healthz on {} (port {})",
      build_info().version, facts.kernel_release, fsync.mode(),
      fsync.io_uring() ? "traced" : "not traced", block ? block->mode() : "off",
      block ? (block_owner ? " (I/O charged to the owning cgroup)" : " (I/O charged to the submitter)")
            : "",
      loader::to_string(facts.cgroups.layout), facts.cgroups.cgroup2_mount, options.listen_address,
      (*server)->port());
  // Logged after start-up so that a failing start prints its one error line only.
  for (const auto& r : report) {
    if (!r.chosen) spdlog::warn("{} rung {} not used: {}", r.subsystem, r.rung, r.detail);
  }
  if (selftest) {
    spdlog::info("fsync self-test on {}: {}", selftest->dir, selftest_line);
  } else {
    spdlog::warn("fsync self-test could not run: {}", selftest.error().message);
  }

  if (victims) {
    std::string selectors;
    for (const auto& v : configs->victims) selectors += (selectors.empty() ? "" : ", ") + v.text;
    spdlog::info("blame: victims {} ({} processes, {} cgroups now); slow events (>= {}) to {}", selectors,
                 victim_processes.load(), victim_cgroups.load(), options.slow_threshold,
                 event_log->path() == "-" ? "stdout" : event_log->path());
  }
  if (!cgroup_probes) {
    spdlog::warn("cgroup events not traced ({}): short-lived cgroups may stay unknown:<id>",
                 cgroup_probes.error().message);
  }
  // Victims are re-resolved every second: a new etcd is followed within one.
  const int sig = wait_for_stop_signal(std::chrono::seconds(1), [&] {
    refresh_victims();
    if (probe_queue) {
      addresses->refresh(*identity, cgroups_changed->exchange(false) ? std::chrono::milliseconds(0)
                                                                      : std::chrono::milliseconds(5000));
      probe_queue->flush(blame::monotonic_ns());
    }
    if (const auto n = maps.sweep(kStaleRequest, kStaleBio); n) {
      spdlog::warn("freed {} block requests that never completed", n);
    }
    if (const auto gone = identity->expire(); !gone.empty()) {
      spdlog::debug("forgot {} removed cgroups, {} series freed", gone.size(), maps.forget(gone));
      // Scrapes run on civetweb's threads, each with its own malloc arena;
      // give what churn freed back, or RSS only ever ratchets up.
      malloc_trim(0);
    }
  });
  spdlog::info("received {}, detaching", sig == SIGINT ? "SIGINT" : "SIGTERM");
  exporters::MetricsServer::set_healthy(false);
  server->reset();  // stop serving before the maps go away
  spdlog::debug("metrics server stopped");
  cgroup_events.reset();  // ring buffers before the programs that feed them
  slow_events.reset();
  probe_events.reset();
  if (probe_queue) probe_queue->flush(0, true);
  cgroup_probes = fail("stopped");
  loaded = fail("stopped");
  spdlog::debug("programs detached");
  return 0;
}

}  // namespace stallwatch::cli
