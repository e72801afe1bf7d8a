#include "cli/session.h"

#include <malloc.h>
#include <unistd.h>
#include <algorithm>
#include <spdlog/spdlog.h>

#include "blame/victims.h"
#include "cli/preflight.h"
#include "cli/selftest.h"
#include "cli/version.h"
#include "common/clock.h"
#include "events/event_line.h"
#include "events/probe_event.h"
#include "events/slow_event.h"
#include "events/start_event.h"
#include "exporters/prometheus/text_format.h"
#include "identity/device_names.h"
#include "identity/identity.h"
#include "identity/io_charge.h"
#include "identity/node_name.h"
#include "identity/pod_addresses.h"
#include "identity/storage_stacks.h"
#include "identity/processes.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "loader/vmlinux_btf.h"
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

Result<SelfTest> run_selftest(const reader::MapFds& fds, const std::string& cgroup2, const loader::FsyncProbes& fsync) {
  reader::MapReader maps(fds);
  return run_fsync_selftest(maps, cgroup2, fsync.io_uring(), fsync.rung() == loader::Rung::kFentry);
}

reader::MapFds map_fds(const Loaded& loaded, const Result<loader::CgroupProbes>& cgroup_probes) {
  reader::MapFds fds{loaded.fsync.hist_fd(), loaded.fsync.drops_fd()};
  if (loaded.block) {
    fds.blk_hist = loaded.block->hist_fd();
    fds.blk_io = loaded.block->io_fd();
    fds.blk_rq = loaded.block->rq_fd();
    fds.blk_rq_key = loaded.block->rq_key_fd();
    fds.blk_rq_slot = loaded.block->rq_slot_fd();
    fds.blk_bio = loaded.block->bio_fd();
    fds.blk_bio_key = loaded.block->bio_key_fd();
    fds.blk_bio_slot = loaded.block->bio_slot_fd();
    fds.blk_drops = loaded.block->drops_fd();
    fds.blame_cost_stats = loaded.block->cost_stats_fd();
    fds.blk_forget_request = loaded.block->forget_request_fd();
  }
  if (cgroup_probes) fds.cgroup_drops = cgroup_probes->drops_fd();
  const auto add_programs = [&fds](const auto& probes) {
    for (auto& p : probes.loaded_programs()) fds.programs.push_back(std::move(p));
  };
  add_programs(loaded.fsync);
  if (loaded.block) add_programs(*loaded.block);
  if (cgroup_probes) add_programs(*cgroup_probes);
  if (loaded.probe) add_programs(*loaded.probe);
  if (loaded.blame) add_programs(*loaded.blame);
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

// The v1 blkio hierarchy's mount point on a hybrid host, "" when none.
std::string blkio_mount(const std::vector<std::string>& v1_mounts) {
  for (const auto& m : v1_mounts) {
    if (::access((m + "/blkio.throttle.io_serviced").c_str(), F_OK) == 0) return m;
  }
  return "";
}

}  // namespace

std::expected<std::unique_ptr<Session>, int> Session::start(const Options& options, EventSink sink) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  s->sink_ = std::move(sink);
  s->facts_ = loader::read_host_facts();
  // From here on options_.cgroup_root is the hierarchy the agent reads: the
  // one given, else the host's cgroup2 mount.
  s->options_.cgroup_root = resolve_cgroup_root(options.cgroup_root);
  if (s->options_.cgroup_root.empty()) s->options_.cgroup_root = s->facts_.cgroups.cgroup2_mount;
  if (auto ok = check_host(s->facts_); !ok) {
    spdlog::error("{}", ok.error().message);
    return std::unexpected(1);
  }
  // Usage errors are caught before anything loads, so they never leave programs behind.
  auto node = identity::node_name();
  if (!node) {
    spdlog::error("{}", node.error().message);
    return std::unexpected(2);
  }
  s->node_ = std::move(*node);
  auto configs = parse_configs(options);
  if (!configs) {
    spdlog::error("{}", configs.error().message);
    return std::unexpected(2);
  }
  s->configs_ = std::move(*configs);
  s->configs_.block.blame_owner = s->facts_.cgroups.io_on_v2;
  s->configs_.probe.cgroup2_root = s->options_.cgroup_root;
  loader::route_libbpf_output();
  const auto tracefs = loader::ensure_tracefs(true);
  if (tracefs && tracefs->mounted_by_us) spdlog::info("mounted tracefs at {}", tracefs->path);

  if (int rc = s->load_programs(tracefs); rc) return std::unexpected(rc);
  if (int rc = s->start_views(); rc) return std::unexpected(rc);
  if (int rc = s->start_event_streams(); rc) return std::unexpected(rc);
  s->refresh_victims();
  return s;
}

// The ladders, then the start-up self-test (which may drop the fentry rung).
int Session::load_programs(const Result<loader::Tracefs>& tracefs) {
  const loader::SharedVmlinuxBtf one_parse;
  loaded_ = load_all(configs_, tracefs, report_);
  if (!loaded_) {
    spdlog::error("{}", loaded_.error().message);
    return 1;
  }
  auto& loaded = *loaded_;
  cgroup_probes_ = loader::CgroupProbes::load(report_);
  const auto& cgroup2 = facts_.cgroups.cgroup2_mount;

  auto selftest = run_selftest(map_fds(loaded, cgroup_probes_), cgroup2, loaded.fsync);
  if (selftest && selftest->duplicates() && loaded.fsync.rung() == loader::Rung::kFentry &&
      configs_.fsync.hook == loader::Rung::kAuto) {
    // The fentry rung counted a call twice here: drop it, keep the tracepoints.
    // Logged now although start-up is not done: it explains the rung change.
    spdlog::warn("fsync self-test counted calls twice on the fentry rung; using tracepoint");
    std::vector<loader::RungReport> again;
    auto config = configs_.fsync;
    config.hook = loader::Rung::kTracepoint;
    auto tracepoint = loader::FsyncProbes::load(config, tracefs, again);
    if (!tracepoint) {
      spdlog::error("{}", tracepoint.error().message);
      return 1;
    }
    loaded.fsync = std::move(*tracepoint);
    selftest = run_selftest(map_fds(loaded, cgroup_probes_), cgroup2, loaded.fsync);
  }
  if (selftest) {
    selftest_dir_ = selftest->dir;
    for (const auto& r : selftest->rows) {
      selftest_rows_.push_back({r.op, r.expected, r.seen});
      selftest_line_ += fmt::format("{}{} {}", selftest_line_.empty() ? "" : ", ", r.op,
                                    r.made ? fmt::format("{}/{}", r.seen, r.expected) : "not made (io_uring_setup refused)");
    }
  } else {
    selftest_error_ = selftest.error().message;
  }
  return 0;
}

// Map reader, workload identity and the Prometheus collector.
int Session::start_views() {
  auto& loaded = *loaded_;
  maps_ = std::make_unique<reader::MapReader>(map_fds(loaded, cgroup_probes_));
  if (auto ok = maps_->check_forget_request(); !ok) spdlog::warn("{}", ok.error().message);
  block_owner_ = loaded.block && loaded.block->sees_owner() && facts_.cgroups.io_on_v2;
  const std::string& cgroup_root = options_.cgroup_root;
  identity_ = std::make_shared<identity::Identity>(
      identity::Identity::Config{cgroup_root, options_.pod_logs_dir, options_.runtime_state_dirs, options_.max_series,
                                 std::chrono::seconds(options_.stale_after_s)});
  auto identity = identity_;
  if (cgroup_probes_) {
    auto events = reader::RingEvents::start_typed<sw_cgroup_event>(
        cgroup_probes_->events_fd(), [identity, changed = cgroups_changed_](sw_cgroup_event e) {
          *changed = true;                  // a pod appearing or going: re-read the pods' addresses
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
    cgroup_events_ = std::move(*events);
  }
  devices_ = std::make_shared<identity::DeviceNames>();
  auto devices = devices_;
  labeler_ = {[identity](std::uint64_t id) { return identity->labels(id); },
              [devices](std::uint32_t dev) { return devices->name(dev); },
              [devices](std::uint32_t dev) { return devices->partition_name(dev); }, block_owner_};
  const auto name = [](loader::Rung r) { return std::string(loader::to_string(r)); };
  hooks_ = {{"fsync", name(loaded.fsync.rung())},
            {"fsync_io_uring", name(loaded.fsync.io_uring() ? loader::Rung::kTracepoint : loader::Rung::kOff)},
            {"block", name(rung_of(loaded.block))}};
  if (loaded.block) hooks_.push_back({"block_attribution", block_owner_ ? "owner" : "submitter"});
  hooks_.push_back({"cgroup_events", name(cgroup_probes_ ? cgroup_probes_->rung() : loader::Rung::kOff)});
  hooks_.push_back({"blame", name(rung_of(loaded.blame))});
  hooks_.push_back({"probe", name(rung_of(loaded.probe))});
  auto* maps = maps_.get();
  collector_ = std::make_shared<exporters::AgentCollector>(
      [maps] { return maps->snapshot(); }, labeler_,
      [identity] {
        return exporters::IdentityStats{identity->tracked(), identity->series_dropped()};
      },
      hooks_, build_info(node_), selftest_rows_);
  collector_->enable_disk_conditions([health = disk_health_, devices = devices_] {
    std::vector<exporters::DiskConditionInfo> rows;
    for (const auto& [dev, c] : health->conditions()) {
      rows.push_back({devices->name(dev), c.throttled, c.service_ms / 1e3, c.baseline_ms / 1e3});
    }
    return rows;
  });
  collector_->enable_stacks([stacks = stacks_] {
    std::lock_guard lock(stacks->mu);
    return stacks->rows;
  });

  return 0;
}

// Probe and slow-fsync events from their ring buffers into the event sink.
int Session::start_event_streams() {
  auto& loaded = *loaded_;
  auto identity = identity_;
  auto devices = devices_;
  const std::string& cgroup_root = options_.cgroup_root;
  fsync_history_ = std::make_unique<events::SlowFsyncHistory>();
  addresses_ = std::make_shared<identity::PodAddresses>("/proc", cgroup_root);
  auto* raw = this;
  if (loaded.probe) {
    addresses_->refresh(*identity);
    const auto namer = [addresses = addresses_](const identity::Address& a, int family) {
      return addresses->lookup(a, family);
    };
    collector_->enable_probes(namer);
    probe_queue_ = std::make_unique<events::ProbeEventQueue>(
        events::ProbeContext{[identity](std::uint64_t id) { return identity->labels(id); }, namer,
                             realtime_offset_ns(), node_},
        *fsync_history_, [raw](const nlohmann::json& event) { raw->sink_.write(event); });
    auto events = reader::RingEvents::start_typed<sw_probe_event>(
        loaded.probe->events_fd(), [q = probe_queue_.get()](const sw_probe_event& e) { q->push(e); });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return 1;
    }
    probe_events_ = std::move(*events);
  }
  if (loaded.blame) {
    victims_ = std::make_unique<blame::Victims>(configs_.victims);
    io_limits_ = std::make_shared<blame::IoLimits>(options_.cgroup_root, blkio_mount(facts_.cgroups.v1_mounts));
    if (auto ok = loaded.blame->set_victim_comms(victims_->exact_comms()); !ok) {
      spdlog::error("--victim: {}", ok.error().message);
      return 1;
    }
    events::EventContext ctx{[identity](std::uint64_t id) { return identity->labels(id); },
                             [devices](std::uint32_t dev) { return devices->name(dev); },
                             realtime_offset_ns(), node_,
                             [health = disk_health_](std::uint32_t disk) { return health->condition(disk); },
                             [limits = io_limits_](const std::string& victim, std::uint32_t disk) {
                               return limits->limit(victim, disk);
                             }};
    auto events = reader::RingEvents::start_typed<sw_blame_event>(
        loaded.blame->maps().blame_events, [ctx = std::move(ctx), raw](const sw_blame_event& e) {
          const auto event = events::slow_event(e, ctx);
          raw->sink_.write(event);
          raw->fsync_history_->add(event, e.start_ns, e.start_ns + e.wall_ns);
        });
    if (!events) {
      spdlog::error("{}", events.error().message);
      return 1;
    }
    slow_events_ = std::move(*events);
    collector_->enable_blame(std::make_shared<exporters::CulpritBudget>(options_.blame_top_culprits), [raw] {
      const auto [written, failed] = raw->sink_.stats ? raw->sink_.stats() : std::pair<std::uint64_t, std::uint64_t>{};
      return exporters::BlameStats{raw->victim_processes_, raw->victim_cgroups_, written, failed};
    });
  }
  return 0;
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
  const auto live =
      victims_->wants_cgroups() ? identity_->live() : std::vector<std::pair<std::uint64_t, identity::Labels>>{};
  const auto set = victims_->resolve(
      live, victims_->wants_processes() ? identity::list_processes() : std::vector<identity::Process>{});
  if (auto ok = loaded_->blame->set_victims(set.tasks, set.cgroups); !ok) {
    spdlog::warn("victims: {}", ok.error().message);
    return;
  }
  victim_processes_ = set.tasks.size();
  victim_cgroups_ = set.cgroups.size();
  if (configs_.block.blame_owner) {
    // Flusher requests name the cgroup the io controller charges; one
    // standing for a victim alone is that victim's (io_charge.h).
    std::map<std::uint64_t, std::string> paths;
    for (const auto& [id, labels] : live) {
      if (set.cgroups.count(id)) paths[id] = labels.cgroup;
    }
    if (auto ok = loaded_->blame->set_owner_aliases(identity::owner_aliases(options_.cgroup_root, paths)); !ok) {
      spdlog::warn("victims: {}", ok.error().message);
    }
  }
  if (!io_limits_) return;
  std::vector<std::string> paths;
  for (const auto id : set.cgroups) paths.push_back(identity_->labels(id).cgroup);
  io_limits_->refresh(paths, std::chrono::nanoseconds(monotonic_ns()));
}

// Which disks serve each filesystem on a stack: the kernel's windows on
// such a filesystem watch them all (as one group where there are several);
// the info series join the metrics.
void Session::refresh_stacks() {
  const auto now = std::chrono::steady_clock::now();
  if (stacks_checked_ != std::chrono::steady_clock::time_point{} && now - stacks_checked_ < std::chrono::seconds(10)) {
    return;
  }
  stacks_checked_ = now;
  const auto stacks = identity::host_storage_stacks().resolve();
  const auto plan = identity::watch_plan(stacks);
  std::vector<exporters::StackInfo> rows;
  for (const auto& [dev, fs] : stacks) {
    const auto key = devices_->name(plan.disk_of.at(dev));
    for (auto disk : fs.disks) rows.push_back({devices_->name(dev), fs.fstype, devices_->name(disk), key});
  }
  if (loaded_ && loaded_->blame) {
    if (auto ok = loaded_->blame->set_stacked_disks(plan.disk_of, plan.group_of, plan.bio_devs); !ok) {
      spdlog::warn("storage stacks: {}", ok.error().message);
    }
  }
  std::lock_guard lock(stacks_->mu);
  // Each mapping is logged when it first appears or changes: a node starts
  // and stops containers (each an overlay) all day.
  for (const auto& [dev, fs] : stacks) {
    if (auto it = stacks_->logged.find(dev); it != stacks_->logged.end() && it->second == fs.disks) continue;
    stacks_->logged[dev] = fs.disks;
    std::string disks, queued;
    for (auto d : fs.disks) disks += (disks.empty() ? "" : ", ") + devices_->name(d);
    for (auto q : fs.queues) queued += "; bios queued in dm-crypt's " + devices_->name(q) + " count as in service";
    if (fs.disks.size() == 1) {
      spdlog::info("storage: {} ({}) sits on {}; blame windows on it watch {}{}", devices_->name(dev), fs.fstype,
                   disks, devices_->name(plan.disk_of.at(dev)), queued);
    } else {
      spdlog::info("storage: {} ({}) spans {}; blame windows on it watch them all, as one device (blame series "
                   "device=\"{}\"){}",
                   devices_->name(dev), fs.fstype, disks, devices_->name(plan.disk_of.at(dev)), queued);
    }
  }
  for (auto it = stacks_->logged.begin(); it != stacks_->logged.end();) {
    it = stacks.count(it->first) ? std::next(it) : stacks_->logged.erase(it);
  }
  stacks_->rows = std::move(rows);
}

void Session::tick() {
  refresh_victims();
  refresh_stacks();
  update_cost_model();
  if (probe_queue_) {
    addresses_->refresh(
        *identity_, cgroups_changed_->exchange(false) ? std::chrono::milliseconds(0) : std::chrono::milliseconds(5000));
    probe_queue_->flush(monotonic_ns());
  }
  if (const auto n = maps_->sweep(kStaleRequest, kStaleBio); n) {
    spdlog::warn("freed {} block requests that never completed", n);
  }
  if (const auto gone = identity_->expire(); !gone.empty()) {
    spdlog::debug("forgot {} removed cgroups, {} series freed", gone.size(), maps_->forget(gone));
    // Scrapes run on the HTTP server's threads, each with its own malloc arena;
    // give what churn freed back, or RSS only ever ratchets up.
    malloc_trim(0);
  }
}

// Fits each victim disk's cost model to what completed since the last tick
// and hands the kernel the weights.
void Session::update_cost_model() {
  if (!loaded_ || !loaded_->block || !loaded_->blame) return;
  const auto stats = maps_->cost_stats();
  for (const auto& [key, sums] : stats) cost_model_.observe(key.dev, key.op, sums);
  update_disk_health(stats);
  for (std::uint32_t dev : cost_model_.devices()) {
    if (auto ok = loaded_->block->set_cost(dev, cost_model_.weights(dev)); !ok) {
      spdlog::warn("cost model: {}", ok.error().message);
      return;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - cost_logged_ < std::chrono::seconds(60)) return;
  cost_logged_ = now;
  static constexpr const char* kOps[] = {"read", "write", "flush"};
  for (const auto& [key, fit] : cost_model_.fits()) {
    spdlog::info("cost model {} {}: {:.1f} us + {:.2f} us per 4 KiB ({} requests)", devices_->name(key.first),
                 kOps[key.second % SW_COST__OPS], fit.base_us, fit.per_page_us, fit.samples);
  }
}

// Reads and writes (a flush's size is the cache it emptied, not a transfer)
// summed per disk, judged once a second; a disk that becomes throttled, or
// stops being, is logged and written to the event log.
void Session::update_disk_health(const std::vector<std::pair<sw_cost_key, sw_cost_stats>>& stats) {
  std::map<std::uint32_t, sw_cost_stats> per_disk;
  for (const auto& [key, sums] : stats) {
    if (key.op == SW_COST_FLUSH) continue;
    auto& d = per_disk[key.dev];
    d.n += sums.n;
    d.sx += sums.sx;
    d.sy += sums.sy;
  }
  const auto changed = [this](std::uint32_t dev, const blame::DeviceCondition& c) {
    const std::string disk = devices_->name(dev);
    if (c.throttled) {
      spdlog::warn("disk {} throttled: {:.0f} IOPS and {:.1f} MB/s flat, at most {:.0f}% of its peak ({:.0f} IOPS, "
                   "{:.1f} MB/s), while each request takes {:.2f} ms against {:.2f} ms before (a provider's cap: "
                   "burst credits spent)",
                   disk, c.iops, c.bytes_per_s / 1e6,
                   100 * std::max(c.iops / c.peak_iops, c.bytes_per_s / c.peak_bytes_per_s), c.peak_iops,
                   c.peak_bytes_per_s / 1e6, c.service_ms, c.baseline_ms);
    } else {
      spdlog::info("disk {} no longer throttled: {:.0f} IOPS, {:.2f} ms per request", disk, c.iops, c.service_ms);
    }
    if (sink_.write) {
      sink_.write({{"time", rfc3339(static_cast<std::int64_t>(monotonic_ns()) + realtime_offset_ns())},
                   {"event", "disk_condition"},
                   {"schema_version", events::kEventSchemaVersion},
                   {"node", node_},
                   {"disk", disk},
                   {"condition", events::disk_condition_json(c)}});
    }
  };
  const auto now = std::chrono::nanoseconds(monotonic_ns());
  for (const auto& [dev, d] : per_disk) disk_health_->observe(dev, now, d.n, d.sx, d.sy, changed);
}

nlohmann::json Session::host_json(const Options& options) const {
  nlohmann::json hooks = nlohmann::json::object();
  for (const auto& h : hooks_) hooks[h.subsystem] = h.mode;
  nlohmann::json victims = nlohmann::json::array();
  for (const auto& v : configs_.victims) victims.push_back(v.text);
  return {{"node", node_},
          {"kernel", facts_.kernel_release},
          {"btf", facts_.btf},
          {"cgroup_layout", std::string(loader::to_string(facts_.cgroups.layout))},
          {"cgroup2_mount", facts_.cgroups.cgroup2_mount},
          {"io_controller_on_cgroup2", facts_.cgroups.io_on_v2},
          {"capabilities", loader::cap_list(facts_.cap_effective)},
          {"hooks", hooks},
          {"victim_selectors", victims},
          {"slow_threshold", options.slow_threshold},
          {"probe_slow_threshold", options.probe_slow_threshold}};
}

std::string Session::metrics_text() const { return exporters::text_format(collector_->Collect()); }

nlohmann::json Session::start_event() const {
  const auto build = build_info();
  events::StartFacts f;
  f.realtime_ns = static_cast<std::int64_t>(monotonic_ns()) + realtime_offset_ns();
  f.node = node_;
  f.version = build.version;
  f.revision = build.revision;
  f.libbpf_version = build.libbpf_version;
  f.kernel = facts_.kernel_release;
  f.cgroup_layout = std::string(loader::to_string(facts_.cgroups.layout));
  for (const auto& h : hooks_) f.hooks.emplace_back(h.subsystem, h.mode);
  for (const auto& v : configs_.victims) f.victims.push_back(v.text);
  f.slow_threshold_ms = static_cast<double>(configs_.fsync.slow_ns) / 1e6;
  f.probe_slow_threshold_ms = static_cast<double>(configs_.probe.slow_ns) / 1e6;
  f.pid = ::getpid();
  return events::start_event(f);
}

void Session::log_started(const std::string& serving) const {
  const auto& loaded = *loaded_;
  spdlog::info(
      "stallwatch {} on node {}, kernel {}: fsync hook {} (io_uring {}), block hook {}{}, cgroup {} at {}{}",
      build_info().version, node_, facts_.kernel_release, loader::to_string(loaded.fsync.rung()),
      loaded.fsync.io_uring() ? "traced" : "not traced", loader::to_string(rung_of(loaded.block)),
      loaded.block ? (block_owner_ ? " (I/O charged to the owning cgroup)" : " (I/O charged to the submitter)") : "",
      loader::to_string(facts_.cgroups.layout), facts_.cgroups.cgroup2_mount, serving);
  // Logged after start-up so that a failing start prints its one error line only.
  // A kernel without a better hook is the normal case on most nodes: info,
  // naming the rung that runs instead. A subsystem left with none: warning.
  for (const auto& r : report_) {
    if (r.chosen) continue;
    const auto ran = std::find_if(report_.begin(), report_.end(), [&](const loader::RungReport& c) {
      return c.chosen && c.subsystem == r.subsystem && c.rung != loader::Rung::kOff;
    });
    if (ran != report_.end()) {
      spdlog::info("{} rung {} not used: {}; running on {}", r.subsystem, loader::to_string(r.rung), r.detail,
                   loader::to_string(ran->rung));
    } else {
      spdlog::warn("{} rung {} not used: {}", r.subsystem, loader::to_string(r.rung), r.detail);
    }
  }
  if (loaded.probe && !loaded.probe->answers_unread().empty()) {
    spdlog::warn("probe answers not read ({}): HTTP status, gRPC health and a silent TLS server are not seen; "
                 "probe results come from the TCP states alone",
                 loaded.probe->answers_unread());
  }
  const bool missed = std::any_of(selftest_rows_.begin(), selftest_rows_.end(),
                                  [](const auto& r) { return r.seen != r.expected; });
  if (selftest_error_.empty() && !missed) {
    spdlog::info("fsync self-test on {}: {}", selftest_dir_, selftest_line_);
  } else if (selftest_error_.empty()) {
    // Seen at the bound of --fsync-map-entries: a full map drops new series.
    spdlog::warn("fsync self-test on {} did not count every call: {} (a full fsync map drops calls, counted in "
                 "stallwatch_events_lost_total; --fsync-map-entries is {})",
                 selftest_dir_, selftest_line_, options_.fsync_map_entries);
  } else {
    spdlog::warn("fsync self-test could not run: {}", selftest_error_);
  }
  if (victims_) {
    std::string selectors;
    for (const auto& v : configs_.victims) selectors += (selectors.empty() ? "" : ", ") + v.text;
    spdlog::info("blame: victims {} ({} processes, {} cgroups now); slow events at {} and more", selectors,
                 victim_processes_.load(), victim_cgroups_.load(), options_.slow_threshold);
  }
  if (!cgroup_probes_) {
    spdlog::warn("cgroup events not traced ({}): short-lived cgroups may stay unknown:<id>",
                 cgroup_probes_.error().message);
  }
}

}  // namespace stallwatch::cli
