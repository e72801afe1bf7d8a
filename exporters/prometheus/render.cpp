#include "exporters/prometheus/render.h"

#include <limits>
#include <map>
#include <tuple>

#include "common/names.h"

namespace stallwatch::exporters {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

ClientMetric::Histogram to_client(const reader::Histogram& h) {
  static const auto bounds = reader::bucket_bounds_seconds();
  ClientMetric::Histogram out;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += h.buckets[i];
    out.bucket.push_back({cumulative, bounds[i]});
  }
  cumulative += h.buckets[SW_HIST_BUCKETS - 1];
  out.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  out.sample_count = cumulative;
  out.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  return out;
}

ClientMetric with_labels(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

// A family of one unlabelled sample: gauges and counters of the agent itself.
MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f{std::move(name), std::move(help), type, {with_labels({})}};
  (type == MetricType::Counter ? f.metric.back().counter.value : f.metric.back().gauge.value) = value;
  return f;
}

// namespace, pod, container, cgroup: the workload labels every per-cgroup series carries.
std::vector<ClientMetric::Label> workload_labels(const identity::Labels& w) {
  std::vector<ClientMetric::Label> out;
  for (auto& [name, value] : identity::label_pairs(w)) out.push_back({std::move(name), std::move(value)});
  return out;
}

}  // namespace

std::vector<MetricFamily> render_fsync(const reader::Snapshot& snap, const Labeler& labeler) {
  // workload, op, device, file class
  using Key = std::tuple<identity::Labels, std::string, std::string, std::string>;
  std::map<Key, reader::Histogram> merged;
  for (const auto& s : snap.fsync) {
    merged[{labeler.workload(s.cgroup_id), names::fsync_op_name(s.op), labeler.device(s.dev),
            names::file_class_name(s.file_class)}] += s.hist;
  }
  MetricFamily fsync{"stallwatch_fsync_duration_seconds",
                     "Time fsync-family calls waited, per cgroup, operation and device.",
                     MetricType::Histogram,
                     {}};
  for (const auto& [key, hist] : merged) {
    auto labels = workload_labels(std::get<0>(key));
    labels.push_back({"device", std::get<2>(key)});
    labels.push_back({"op", std::get<1>(key)});
    labels.push_back({"file_class", std::get<3>(key)});
    ClientMetric m = with_labels(std::move(labels));
    m.histogram = to_client(hist);
    fsync.metric.push_back(std::move(m));
  }
  return {std::move(fsync)};
}

std::vector<MetricFamily> render_block(const reader::Snapshot& snap, const Labeler& labeler) {
  if (!snap.block) return {};
  using HistKey = std::tuple<std::string, std::string, std::string>;  // device, op, phase
  std::map<HistKey, reader::Histogram> hists;
  for (const auto& s : snap.block_hist) {
    hists[{labeler.device(s.dev), names::block_op_name(s.op), names::block_phase_name(s.phase)}] += s.hist;
  }
  MetricFamily latency{"stallwatch_block_io_duration_seconds",
                       "Block request latency per device and op: queue (bio queued to issued) "
                       "and service (issued to completed).",
                       MetricType::Histogram,
                       {}};
  for (const auto& [key, hist] : hists) {
    ClientMetric m = with_labels({{"device", std::get<0>(key)}, {"op", std::get<1>(key)}, {"phase", std::get<2>(key)}});
    m.histogram = to_client(hist);
    latency.metric.push_back(std::move(m));
  }

  // device, op, workload, submitter, partition
  using IoKey = std::tuple<std::string, std::string, identity::Labels, std::string, std::string>;
  std::map<IoKey, sw_blk_io> io;
  for (const auto& s : snap.block_io) {
    const std::uint64_t cg = labeler.block_owner && s.key.owner ? s.key.owner : s.key.submitter;
    sw_blk_io& v =
        io[{labeler.device(s.key.dev), names::block_op_name(s.key.op), labeler.workload(cg),
            names::submitter_kind_name(s.key.kind), s.key.part ? labeler.partition(s.key.part) : std::string()}];
    v.requests += s.io.requests;
    v.bytes += s.io.bytes;
    v.busy_ns += s.io.busy_ns;
    v.preflush += s.io.preflush;
    v.fua += s.io.fua;
  }
  MetricFamily requests{"stallwatch_block_io_requests_total",
                        "Block requests completed, per device, op and cgroup.",
                        MetricType::Counter,
                        {}};
  MetricFamily bytes{"stallwatch_block_io_bytes_total", "Bytes of completed block requests.", MetricType::Counter, {}};
  MetricFamily busy{"stallwatch_block_io_busy_seconds_total",
                    "Sum of service times (issued to completed) of block requests.",
                    MetricType::Counter,
                    {}};
  MetricFamily flagged{"stallwatch_block_io_flagged_requests_total",
                       "Requests carrying REQ_PREFLUSH or REQ_FUA: the cache flushes fsync causes.",
                       MetricType::Counter,
                       {}};
  for (const auto& [key, v] : io) {
    std::vector<ClientMetric::Label> labels = workload_labels(std::get<2>(key));
    labels.push_back({"device", std::get<0>(key)});
    labels.push_back({"op", std::get<1>(key)});
    labels.push_back({"submitter", std::get<3>(key)});
    if (!std::get<4>(key).empty()) labels.push_back({"partition", std::get<4>(key)});
    ClientMetric m = with_labels(labels);
    m.counter.value = static_cast<double>(v.requests);
    requests.metric.push_back(m);
    m.counter.value = static_cast<double>(v.bytes);
    bytes.metric.push_back(m);
    m.counter.value = static_cast<double>(v.busy_ns) / 1e9;
    busy.metric.push_back(m);
    for (const auto& [flag, n] : {std::pair{"preflush", v.preflush}, std::pair{"fua", v.fua}}) {
      if (!n) continue;
      ClientMetric f = with_labels(labels);
      f.label.push_back({"flag", flag});
      f.counter.value = static_cast<double>(n);
      flagged.metric.push_back(std::move(f));
    }
  }
  return {
      std::move(latency),
      std::move(requests),
      std::move(bytes),
      std::move(busy),
      std::move(flagged),
      single("stallwatch_block_inflight_requests", "Requests being timed right now (issued or queued, not completed).",
             MetricType::Gauge, static_cast<double>(snap.block_inflight_requests)),
      single("stallwatch_block_pending_bios", "Bios queued and remembered until they join a request.",
             MetricType::Gauge, static_cast<double>(snap.block_pending_bios))};
}

std::vector<MetricFamily> render_lost(const reader::Snapshot& snap) {
  MetricFamily lost{"stallwatch_events_lost_total",
                    "Events the kernel side could not record, by source and reason.",
                    MetricType::Counter,
                    {}};
  MetricFamily anomalies{"stallwatch_block_anomalies_total",
                         "Block requests whose completion the programs did not see, by how it showed: a request "
                         "issued again without its completion seen (completion_missed), one found already freed by "
                         "the kernel while a victim waited on its disk (completion_lost), and a completion of a "
                         "request never seen issued (unmatched_completion). Each left service when found.",
                         MetricType::Counter,
                         {}};
  for (std::uint32_t i = 0; i < SW_DROP__COUNT; ++i) {
    const auto name = names::drop_name(i);
    if (!snap.block && std::string(name.source) == "block") continue;
    if (names::is_anomaly(i)) {
      ClientMetric m = with_labels({{"reason", name.reason}});
      m.counter.value = static_cast<double>(snap.drops[i]);
      anomalies.metric.push_back(std::move(m));
      continue;
    }
    if (!snap.cgroup_events && std::string(name.source) == "cgroup") continue;
    if (!snap.blame && std::string(name.source) == "blame") continue;
    if (!snap.probes && std::string(name.source) == "probe") continue;
    ClientMetric m = with_labels({{"reason", name.reason}, {"source", name.source}});
    m.counter.value = static_cast<double>(snap.drops[i]);
    lost.metric.push_back(std::move(m));
  }
  if (snap.block) {
    ClientMetric m = with_labels({{"reason", "never_completed"}, {"source", "block"}});
    m.counter.value = static_cast<double>(snap.block_stale_requests);
    lost.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> out{std::move(lost)};
  if (!anomalies.metric.empty()) out.push_back(std::move(anomalies));
  MetricFamily recursion{"stallwatch_bpf_recursion_misses_total",
                         "Runs of a program the kernel skipped because another BPF program was running on that "
                         "CPU (5.12+): each is an event not seen.",
                         MetricType::Counter,
                         {}};
  for (const auto& [program, misses] : snap.recursion_misses) {
    ClientMetric m = with_labels({{"program", program}});
    m.counter.value = static_cast<double>(misses);
    recursion.metric.push_back(std::move(m));
  }
  if (!recursion.metric.empty()) out.push_back(std::move(recursion));
  return out;
}

std::vector<MetricFamily> render_event_log(const EventLogInfo& info) {
  MetricFamily lines{"stallwatch_event_log_lines_total",
                     "Event lines by fate: written; failed (the file refused them: disk full, I/O error); dropped "
                     "(the output was slower than the events and the queue was full); suppressed (past "
                     "--events-rate for their victim; the victim's next event carries the count).",
                     MetricType::Counter,
                     {}};
  for (const auto& [result, n] : {std::pair{"written", info.written}, std::pair{"failed", info.failed},
                                  std::pair{"dropped", info.dropped}, std::pair{"suppressed", info.suppressed}}) {
    ClientMetric m = with_labels({{"result", result}});
    m.counter.value = static_cast<double>(n);
    lines.metric.push_back(std::move(m));
  }
  return {std::move(lines), single("stallwatch_event_log_rotations_total",
                                   "Times the events file passed --events-max-size and was rotated.",
                                   MetricType::Counter, static_cast<double>(info.rotations))};
}

std::vector<MetricFamily> render_recorder(const RecorderInfo& info) {
  MetricFamily records{"stallwatch_recorder_records_total",
                       "Flight recorder records (samples, events, metrics snapshots) by fate: written; dropped (the "
                       "state directory refused them: disk full, I/O error).",
                       MetricType::Counter,
                       {}};
  for (const auto& [result, n] : {std::pair{"written", info.written}, std::pair{"dropped", info.dropped}}) {
    ClientMetric m = with_labels({{"result", result}});
    m.counter.value = static_cast<double>(n);
    records.metric.push_back(std::move(m));
  }
  return {std::move(records),
          single("stallwatch_recorder_bytes", "Bytes the flight recorder's segments take now.", MetricType::Gauge,
                 static_cast<double>(info.bytes)),
          single("stallwatch_recorder_segments_removed_total",
                 "Flight recorder segments removed, oldest first, for --recorder-max-size or --recorder-max-age.",
                 MetricType::Counter, static_cast<double>(info.removed))};
}

std::vector<MetricFamily> render_identity(const IdentityStats& stats) {
  return {single("stallwatch_tracked_cgroups", "cgroups whose series carry their own labels.", MetricType::Gauge,
                 static_cast<double>(stats.tracked)),
          single("stallwatch_series_dropped_total", "cgroups past --max-series, folded into cgroup=\"other\".",
                 MetricType::Counter, static_cast<double>(stats.dropped))};
}

std::vector<MetricFamily> render_stacks(const std::vector<StackInfo>& stacks) {
  MetricFamily f{"stallwatch_device_stack_info",
                 "A filesystem on a storage stack (device mapper, md, overlayfs, btrfs) and a disk under it, whose requests "
                 "its blame windows watch; blame_device: the device label of those windows' blame series (one "
                 "member's, for a stack over several disks). Value is always 1.",
                 MetricType::Gauge,
                 {}};
  for (const auto& s : stacks) {
    ClientMetric m;
    m.label = {{"blame_device", s.blame_device}, {"device", s.device}, {"disk", s.disk}, {"fstype", s.fstype}};
    m.gauge.value = 1;
    f.metric.push_back(std::move(m));
  }
  if (f.metric.empty()) return {};
  return {std::move(f)};
}

std::vector<MetricFamily> render_disk_conditions(const std::vector<DiskConditionInfo>& disks) {
  MetricFamily throttled{"stallwatch_disk_throttled",
                         "1 while a victim's disk sits at a provider's cap: throughput flat below its peak, each "
                         "request at least 8 times slower than its baseline (docs/events.md, disk_condition).",
                         MetricType::Gauge,
                         {}};
  MetricFamily service{"stallwatch_disk_service_seconds",
                       "Mean service time of a victim disk's reads and writes: over its last busy seconds "
                       "(window=\"recent\") and its own baseline, the 10th percentile of the last hour's "
                       "(window=\"baseline\").",
                       MetricType::Gauge,
                       {}};
  for (const auto& d : disks) {
    ClientMetric t;
    t.label = {{"device", d.device}};
    t.gauge.value = d.throttled ? 1 : 0;
    throttled.metric.push_back(std::move(t));
    for (const auto& [window, v] : {std::pair{"recent", d.service_seconds}, std::pair{"baseline", d.baseline_seconds}}) {
      ClientMetric m;
      m.label = {{"device", d.device}, {"window", window}};
      m.gauge.value = v;
      service.metric.push_back(std::move(m));
    }
  }
  if (disks.empty()) return {};
  return {std::move(throttled), std::move(service)};
}

std::vector<MetricFamily> render_agent_info(const std::vector<HookInfo>& hooks, const BuildInfo& build,
                                            const std::vector<SelfTestInfo>& selftest) {
  MetricFamily hook{
      "stallwatch_hook_info", "Hook rung in use per subsystem (value is always 1).", MetricType::Gauge, {}};
  for (const auto& h : hooks) {
    ClientMetric m;
    m.label = {{"mode", h.mode}, {"subsystem", h.subsystem}};
    m.gauge.value = 1;
    hook.metric.push_back(std::move(m));
  }
  MetricFamily info{"stallwatch_build_info", "Build of the running agent (value is always 1).", MetricType::Gauge, {}};
  ClientMetric m;
  m.label = {{"libbpf_version", build.libbpf_version},
             {"nodename", build.node},
             {"revision", build.revision},
             {"version", build.version}};
  m.gauge.value = 1;
  info.metric.push_back(std::move(m));
  MetricFamily test{"stallwatch_fsync_selftest_calls",
                    "Start-up self-test: fsync-family calls made once each, and how many the hooks saw.",
                    MetricType::Gauge,
                    {}};
  for (const auto& row : selftest) {
    for (const auto& [kind, n] : {std::pair{"expected", row.expected}, std::pair{"seen", row.seen}}) {
      ClientMetric r = with_labels({{"op", row.op}, {"kind", kind}});
      r.gauge.value = static_cast<double>(n);
      test.metric.push_back(std::move(r));
    }
  }
  if (test.metric.empty()) return {std::move(hook), std::move(info)};
  return {std::move(hook), std::move(info), std::move(test)};
}

}  // namespace stallwatch::exporters
