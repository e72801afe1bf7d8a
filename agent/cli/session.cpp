#include "cli/session.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include "blame/probe_event.h"
#include "blame/slow_event.h"
#include "blame/victims.h"
#include "cli/preflight.h"
#include "cli/selftest.h"
#include "cli/version.h"
#include "identity/device_names.h"
#include "identity/identity.h"
#include "identity/pod_addresses.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "reader/map_reader.h"
#include "reader/ring_events.h"

namespace stallwatch::cli {

namespace {

using namespace std::chrono_literals;

// Requests the device never completed (a removed disk, a lost command) are
// freed after this long; the block layer's own timeout is 30 s by default.
constexpr auto kStaleRequest = 120s;
// Bios that never joined a request (merged away unseen, device gone).
constexpr auto kStaleBio = 30s;

Result<SelfTest> run_selftest(const reader::MapFds& fds, const std::string& cgroup2,
                              const loader::FsyncProbes& fsync) {
  reader::MapReader maps(fds);
  return run_fsync_selftest(maps, cgroup2, fsync.io_uring(), fsync.rung() == loader::Rung::kFentry);
}

reader::MapFds map_fds(const Loaded& loaded, const Result<loader::CgroupProbes>& cgroup_probes) {
  reader::MapFds fds{loaded.fsync.hist_fd(), loaded.fsync.drops_fd()};
  if (loaded.block) {
    fds.blk_hist = loaded.block->hist_fd();
    fds.blk_io = loaded.block->io_fd();
    fds.blk_rq = loaded.block->rq_fd();
    fds.blk_bio = loaded.block->bio_fd();
    fds.blk_drops = loaded.block->drops_fd();
  }
  if (cgroup_probes) fds.cgroup_drops = cgroup_probes->drops_fd();
  if (loaded.probe) {
    fds.probe_hist = loaded.probe->hist_fd();
    fds.probe_drops = loaded.probe->drops_fd();
  }
  if (loaded.blame) {
    fds.blame = loaded.blame->maps().blame;
    fds.blame_dev = loaded.blame->maps().blame_dev;
    fds.blame_drops = loaded.blame->drops_fd();
  }
  return fds;
}

}  // namespace

std::expected<std::unique_ptr<Session>, int> Session::start(const Options& options, EventSink sink) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  s->sink_ = std::move(sink);
  s->facts_ = loader::read_host_facts();
  if (auto ok = check_host(s->facts_); !ok) {
    spdlog::error("{}", ok.error().message);
    return std::unexpected(1);
  }
  // Usage errors are caught before anything loads, so they never leave programs behind.
  auto configs = parse_configs(options);
  if (!configs) {
    spdlog::error("{}", configs.error().message);
    return std::unexpected(2);
  }
  s->configs_ = std::move(*configs);
  s->configs_.block.blame_owner = s->facts_.cgroups.io_on_v2;
  loader::route_libbpf_output();
  const auto tracefs = loader::ensure_tracefs(true);
  if (tracefs && tracefs->mounted_by_us) spdlog::info("mounted tracefs at {}", tracefs->path);

  s->loaded_ = load_all(s->configs_, tracefs, s->report_);
  if (!s->loaded_) {
    spdlog::error("{}", s->loaded_.error().message);
    return std::unexpected(1);
  }
  auto& loaded = *s->loaded_;
  s->cgroup_probes_ = loader::CgroupProbes::load(s->report_);
  const auto& cgroup2 = s->facts_.cgroups.cgroup2_mount;

  auto selftest = run_selftest(map_fds(loaded, s->cgroup_probes_), cgroup2, loaded.fsync);
  if (selftest && selftest->duplicates() && loaded.fsync.rung() == loader::Rung::kFentry &&
      s->configs_.fsync.hook == loader::Rung::kAuto) {
    // The fentry rung counted a call twice here: drop it, keep the tracepoints.
    // Logged now although start-up is not done: it explains the rung change.
    spdlog::warn("fsync self-test counted calls twice on the fentry rung; using tracepoint");
    std::vector<loader::RungReport> again;
    auto config = s->configs_.fsync;
    config.hook = loader::Rung::kTracepoint;
    auto tracepoint = loader::FsyncProbes::load(config, tracefs, again);
    if (!tracepoint) {
      spdlog::error("{}", tracepoint.error().message);
      return std::unexpected(1);
    }
    loaded.fsync = std::move(*tracepoint);
    selftest = run_selftest(map_fds(loaded, s->cgroup_probes_), cgroup2, loaded.fsync);
  }
  std::vector<exporters::SelfTestInfo> selftest_rows;
  if (selftest) {
    s->selftest_dir_ = selftest->dir;
    for (const auto& r : selftest->rows) {
      selftest_rows.push_back({r.op, r.expected, r.seen});
      s->selftest_line_ += fmt::format("{}{} {}/{}", s->selftest_line_.empty() ? "" : ", ", r.op, r.seen, r.expected);
    }
  } else {
    s->selftest_error_ = selftest.error().message;
  }
  s->maps_ = std::make_unique<reader::MapReader>(map_fds(loaded, s->cgroup_probes_));
  s->block_owner_ = loaded.block && loaded.block->sees_owner() && s->facts_.cgroups.io_on_v2;
  const std::string cgroup_root = options.cgroup_root.empty() ? cgroup2 : options.cgroup_root;
  s->identity_ = std::make_shared<identity::Identity>(identity::Identity::Config{
      cgroup_root, options.pod_logs_dir, options.runtime_state_dirs, options.max_series,
      std::chrono::seconds(options.stale_after_s)});
  auto identity = s->identity_;
  if (s->cgroup_probes_) {
    auto events = reader::RingEvents::start_typed<sw_cgroup_event>(
        s->cgroup_probes_->events_fd(), [identity, changed = s->cgroups_changed_](sw_cgroup_event e) {
          *changed = true;  // a pod appearing or going: re-read the pods' addresses
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
      return std::unexpected(1);
    }
    s->cgroup_events_ = std::move(*events);
  }
  s->devices_ = std::make_shared<identity::DeviceNames>();
  auto devices = s->devices_;
  s->labeler_ = {[identity](std::uint64_t id) { return identity->labels(id); },
                 [devices](std::uint32_t dev) { return devices->name(dev); },
                 [devices](std::uint32_t dev) { return devices->partition_name(dev); }, s->block_owner_};
  const auto name = [](loader::Rung r) { return std::string(loader::to_string(r)); };
  s->hooks_ = {{"fsync", name(loaded.fsync.rung())},
               {"fsync_io_uring", name(loaded.fsync.io_uring() ? loader::Rung::kTracepoint : loader::Rung::kOff)},
               {"block", name(rung_of(loaded.block))}};
  if (loaded.block) s->hooks_.push_back({"block_attribution", s->block_owner_ ? "owner" : "submitter"});
  s->hooks_.push_back({"cgroup_events", name(s->cgroup_probes_ ? s->cgroup_probes_->rung() : loader::Rung::kOff)});
  s->hooks_.push_back({"blame", name(rung_of(loaded.blame))});
  s->hooks_.push_back({"probe", name(rung_of(loaded.probe))});
  auto* maps = s->maps_.get();
  s->collector_ = std::make_shared<exporters::AgentCollector>(
      [maps] { return maps->snapshot(); }, s->labeler_,
      [identity] { return exporters::IdentityStats{identity->tracked(), identity->series_dropped()}; }, s->hooks_,
      build_info(), selftest_rows);

  s->fsync_history_ = std::make_unique<blame::SlowFsyncHistory>();
  s->addresses_ = std::make_shared<identity::PodAddresses>("/proc", cgroup_root);
  auto* raw = s.get();
  if (loaded.probe) {
    s->addresses_->refresh(*identity);
    const auto namer = [addresses = s->addresses_](const identity::Address& a, int family) {
      return addresses->lookup(a, family);
    };
    s->collector_->enable_probes(namer);
    s->probe_queue_ = std::make_unique<blame::ProbeEventQueue>(
        blame::ProbeContext{[identity](std::uint64_t id) { return identity->labels(id); }, namer,
                            blame::realtime_offset_ns()},
        *s->fsync_history_, [raw](const nlohmann::json& event) { raw->sink_.write(event); });
    auto events = reader::RingEvents::start_typed<sw_probe_event>(
        loaded.probe->events_fd(), [q = s->probe_queue_.get()](const sw_probe_event& e) { q->push(e); });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return std::unexpected(1);
    }
    s->probe_events_ = std::move(*events);
  }
  if (loaded.blame) {
    s->victims_ = std::make_unique<blame::Victims>(s->configs_.victims);
    blame::EventContext ctx{[identity](std::uint64_t id) { return identity->labels(id); },
                            [devices](std::uint32_t dev) { return devices->name(dev); },
                            {},
                            blame::realtime_offset_ns()};
    for (const auto& h : s->hooks_) ctx.hooks.emplace_back(h.subsystem, h.mode);
    auto events = reader::RingEvents::start_typed<sw_blame_event>(
        loaded.blame->maps().blame_events, [ctx = std::move(ctx), raw](const sw_blame_event& e) {
          const auto event = blame::slow_event(e, ctx);
          raw->sink_.write(event);
          raw->fsync_history_->add(event, e.start_ns, e.start_ns + e.wall_ns);
        });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return std::unexpected(1);
    }
    s->slow_events_ = std::move(*events);
    s->collector_->enable_blame(std::make_shared<exporters::CulpritBudget>(options.blame_top_culprits), [raw] {
      const auto [written, failed] = raw->sink_.stats ? raw->sink_.stats() : std::pair<std::uint64_t, std::uint64_t>{};
      return exporters::BlameStats{raw->victim_processes_, raw->victim_cgroups_, written, failed};
    });
  }
  s->refresh_victims();
  return s;
}

Session::~Session() {
  // Ring buffers before the programs that feed them; delayed probe events out.
  cgroup_events_.reset();
  slow_events_.reset();
  probe_events_.reset();
  if (probe_queue_) probe_queue_->flush(0, true);
}

bool Session::blame_on() const { return loaded_ && loaded_->blame.has_value(); }
bool Session::probes_on() const { return loaded_ && loaded_->probe.has_value(); }
std::string Session::device_name(std::uint32_t dev) const { return devices_->name(dev); }

void Session::refresh_victims() {
  if (!victims_) return;
  const auto set = victims_->resolve(victims_->wants_cgroups() ? identity_->live()
                                                               : std::vector<std::pair<std::uint64_t, identity::Labels>>{});
  if (auto ok = loaded_->blame->set_victims(set.tasks, set.cgroups); !ok) {
    spdlog::warn("victims: {}", ok.error().message);
    return;
  }
  victim_processes_ = set.tasks.size();
  victim_cgroups_ = set.cgroups.size();
}

void Session::tick() {
  refresh_victims();
  if (probe_queue_) {
    addresses_->refresh(*identity_, cgroups_changed_->exchange(false) ? std::chrono::milliseconds(0)
                                                                       : std::chrono::milliseconds(5000));
    probe_queue_->flush(blame::monotonic_ns());
  }
  if (const auto n = maps_->sweep(kStaleRequest, kStaleBio); n) {
    spdlog::warn("freed {} block requests that never completed", n);
  }
  if (const auto gone = identity_->expire(); !gone.empty()) {
    spdlog::debug("forgot {} removed cgroups, {} series freed", gone.size(), maps_->forget(gone));
    // Scrapes run on civetweb's threads, each with its own malloc arena;
    // give what churn freed back, or RSS only ever ratchets up.
    malloc_trim(0);
  }
}

void Session::log_started(const std::string& serving) const {
  const auto& loaded = *loaded_;
  spdlog::info("stallwatch {} on kernel {}: fsync hook {} (io_uring {}), block hook {}{}, cgroup {} at {}{}",
               build_info().version, facts_.kernel_release, loader::to_string(loaded.fsync.rung()),
               loaded.fsync.io_uring() ? "traced" : "not traced", loader::to_string(rung_of(loaded.block)),
               loaded.block ? (block_owner_ ? " (I/O charged to the owning cgroup)" : " (I/O charged to the submitter)")
                            : "",
               loader::to_string(facts_.cgroups.layout), facts_.cgroups.cgroup2_mount, serving);
  // Logged after start-up so that a failing start prints its one error line only.
  for (const auto& r : report_) {
    if (!r.chosen) spdlog::warn("{} rung {} not used: {}", r.subsystem, loader::to_string(r.rung), r.detail);
  }
  if (selftest_error_.empty()) {
    spdlog::info("fsync self-test on {}: {}", selftest_dir_, selftest_line_);
  } else {
    spdlog::warn("fsync self-test could not run: {}", selftest_error_);
  }
  if (victims_) {
    std::string selectors;
    for (const auto& v : configs_.victims) selectors += (selectors.empty() ? "" : ", ") + v.text;
    spdlog::info("blame: victims {} ({} processes, {} cgroups now); slow events at {} and more",
                 selectors, victim_processes_.load(), victim_cgroups_.load(), options_.slow_threshold);
  }
  if (!cgroup_probes_) {
    spdlog::warn("cgroup events not traced ({}): short-lived cgroups may stay unknown:<id>",
                 cgroup_probes_.error().message);
  }
}

}  // namespace stallwatch::cli
