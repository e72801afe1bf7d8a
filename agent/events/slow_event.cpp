#include "events/slow_event.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "blame/verdict.h"
#include "events/event_line.h"
#include "common/names.h"

namespace stallwatch::events {

namespace {

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string cstr(const char* s, std::size_t max) { return std::string(s, strnlen(s, max)); }

// The window's kinds are exact; its culprit table holds only requests that
// completed inside the window. Requests still in service when it closed
// are shared among the culprits of their kind in proportion to what those
// completed (a culprit with no completion is shown with an empty cgroup).
// When culprits were folded into the rest (of mixed kinds), the named ones
// are only ever scaled down: what they did not take is the rest's.
void scale_to_kinds(std::vector<sw_blame_culprit>& top, const sw_blame_event& e) {
  const bool rest = e.rest.ns > 0;
  for (std::uint8_t kind : {SW_BLAME_OWN_IO, SW_BLAME_NEIGHBOR_IO, SW_BLAME_JOURNAL, SW_BLAME_WRITEBACK}) {
    std::uint64_t seen = 0;
    for (const auto& c : top) seen += c.kind == kind ? c.ns : 0;
    const std::uint64_t want = e.kinds[kind];
    if (rest && seen <= want) continue;
    if (seen == 0) {
      if (want > 0) {
        sw_blame_culprit unknown{};
        unknown.cgroup = kind == SW_BLAME_OWN_IO ? e.victim : 0;
        unknown.kind = kind;
        unknown.ns = want;
        top.push_back(unknown);
      }
      continue;
    }
    for (auto& c : top) {
      if (c.kind == kind) c.ns = static_cast<std::uint64_t>(static_cast<double>(c.ns) * want / seen);
    }
  }
}

}  // namespace

nlohmann::json disk_condition_json(const blame::DeviceCondition& c) {
  return {{"state", c.throttled ? "throttled" : "ok"},
          {"iops", c.iops},
          {"mb_per_s", c.bytes_per_s / 1e6},
          {"service_ms", c.service_ms},
          {"baseline_service_ms", c.baseline_ms},
          {"peak_iops", c.peak_iops},
          {"peak_mb_per_s", c.peak_bytes_per_s / 1e6}};
}

std::string slow_event_json(const sw_blame_event& e, const EventContext& ctx) { return event_line(slow_event(e, ctx)); }

nlohmann::json slow_event(const sw_blame_event& e, const EventContext& ctx) {
  blame::Kinds kinds{};
  std::copy(std::begin(e.kinds), std::end(e.kinds), kinds.begin());
  nlohmann::json kinds_ms = nlohmann::json::object();
  for (std::uint32_t k = 0; k < SW_BLAME__KINDS; ++k) kinds_ms[std::string(names::blame_kind_name(k))] = ms(kinds[k]);

  std::vector<sw_blame_culprit> top(std::begin(e.top), std::end(e.top));
  std::erase_if(top, [](const sw_blame_culprit& c) { return c.ns == 0 && c.requests == 0; });
  scale_to_kinds(top, e);
  // Who ran while the victim waited for a CPU (the epoch names who ran
  // while the disk's workers did), and its own CPU quota.
  for (const auto& c : e.cpu_by) {
    if (c.ns == 0) continue;
    auto same = std::find_if(top.begin(), top.end(),
                             [&](const sw_blame_culprit& t) { return t.kind == SW_BLAME_CPU && t.cgroup == c.cgroup; });
    if (same != top.end()) {
      same->ns += c.ns;
      continue;
    }
    sw_blame_culprit cpu{};
    cpu.cgroup = c.cgroup;
    cpu.kind = SW_BLAME_CPU;
    cpu.ns = c.ns;
    top.push_back(cpu);
  }
  // The epoch's culprits of the disk's workers' CPU wait are shared by the
  // victim's overlapping windows: no more named than this window waited.
  std::uint64_t cpu_named = 0;
  for (const auto& c : top) cpu_named += c.kind == SW_BLAME_CPU ? c.ns : 0;
  if (cpu_named > e.kinds[SW_BLAME_CPU]) {
    for (auto& c : top) {
      if (c.kind == SW_BLAME_CPU) {
        c.ns = static_cast<std::uint64_t>(static_cast<double>(c.ns) * e.kinds[SW_BLAME_CPU] / cpu_named);
      }
    }
  }
  if (e.kinds[SW_BLAME_CPU_THROTTLED] > 0) {
    sw_blame_culprit quota{};
    quota.cgroup = e.victim;
    quota.kind = SW_BLAME_CPU_THROTTLED;
    quota.ns = e.kinds[SW_BLAME_CPU_THROTTLED];
    top.push_back(quota);
  }
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.ns > b.ns; });
  // Journal time spent writing another workload's data is that workload's doing.
  // So is journal time spent writing another workload's data or
  // transactions, and a CPU another workload held.
  std::uint64_t journal_of_neighbours = 0, cpu_of_neighbours = 0;
  for (const auto& c : top) {
    if (!c.cgroup || c.cgroup == e.victim || ctx.labels(c.cgroup).cgroup == "/") continue;
    if (c.kind == SW_BLAME_JOURNAL) journal_of_neighbours += c.ns;
    if (c.kind == SW_BLAME_CPU) cpu_of_neighbours += c.ns;
  }
  nlohmann::json culprits = nlohmann::json::array();
  std::uint64_t requests = e.rest.requests, bytes = e.rest.bytes;
  for (const auto& c : top) {
    auto j = c.cgroup ? identity::labels_json(ctx.labels(c.cgroup)) : identity::labels_json({});
    j["kind"] = names::blame_kind_name(c.kind);
    j["blamed_ms"] = ms(c.ns);
    j["share"] = e.wall_ns ? static_cast<double>(c.ns) / static_cast<double>(e.wall_ns) : 0.0;
    j["bytes"] = c.bytes;
    j["requests"] = c.requests;
    culprits.push_back(std::move(j));
    requests += c.requests;
    bytes += c.bytes;
  }
  std::optional<blame::DeviceCondition> disk;
  if (e.disk && ctx.disk_condition) disk = ctx.disk_condition(e.disk);
  const identity::Labels victim_labels = ctx.labels(e.victim);
  std::optional<blame::IoLimit> limit;
  // A limit on the disk, or on the filesystem's own device (io.max on an LV).
  if (e.disk && ctx.io_limit) limit = ctx.io_limit(victim_labels.cgroup, e.disk);
  if (!limit && e.sdev && e.sdev != e.disk && ctx.io_limit) limit = ctx.io_limit(victim_labels.cgroup, e.sdev);
  auto victim = identity::labels_json(victim_labels);
  victim["comm"] = cstr(e.comm, sizeof(e.comm));
  victim["pid"] = e.tgid;
  victim["tid"] = e.tid;
  nlohmann::json j = {
      {"time", rfc3339(static_cast<std::int64_t>(e.start_ns) + ctx.realtime_offset_ns)},
      {"event", "slow_fsync"},
      {"schema_version", kEventSchemaVersion},
      {"node", ctx.node},
      {"victim", std::move(victim)},
      {"op", names::fsync_op_name(e.op)},
      // The file's filesystem as the fsync series name it (dm-0, overlay:0:40);
      // disk: the one whose requests the window watched (sda, loop0).
      {"device", e.disk ? ctx.device(e.sdev ? e.sdev : e.disk) : ""},
      {"disk", e.disk ? ctx.device(e.disk) : ""},
      {"file", cstr(e.file, sizeof(e.file))},
      {"file_class", names::file_class_name(e.file_class)},
      {"inode", e.ino},
      {"duration_ms", ms(e.wall_ns)},
      {"verdict", blame::verdict(kinds, e.wall_ns,
                                 {journal_of_neighbours, cpu_of_neighbours, disk && disk->throttled,
                                  limit && limit->binding})},
      {"kinds_ms", std::move(kinds_ms)},
      {"culprits", std::move(culprits)},
      {"other_culprits", {{"blamed_ms", ms(e.rest.ns)}, {"bytes", e.rest.bytes}, {"requests", e.rest.requests}}},
      {"window", {{"requests", requests}, {"bytes", bytes}, {"overlapping_windows", e.overlapping}}},
  };
  if (disk) j["disk_condition"] = disk_condition_json(*disk);
  if (limit) {
    j["io_limit"] = {{"cgroup", limit->cgroup}, {"limit", limit->setting}, {"rate", limit->rate},
                     {"binding", limit->binding}};
  }
  return j;
}

}  // namespace stallwatch::events
