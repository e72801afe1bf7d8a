#include "events/probe_event.h"

#include <time.h>

#include "common/clock.h"
#include "common/names.h"
#include "events/event_line.h"
#include "events/slow_event.h"

namespace stallwatch::events {

namespace {
constexpr std::uint64_t kKeepNs = 120'000'000'000ULL;  // how long slow fsyncs stay linkable
constexpr std::size_t kKeepMax = 10'000;
}  // namespace

void SlowFsyncHistory::add(const nlohmann::json& event, std::uint64_t start_ns, std::uint64_t end_ns) {
  const auto& v = event.at("victim");
  if (v.at("pod").get<std::string>().empty()) return;
  nlohmann::json summary = {{"time", event.at("time")},       {"duration_ms", event.at("duration_ms")},
                            {"op", event.at("op")},           {"device", event.at("device")},
                            {"file", event.at("file")},       {"verdict", event.at("verdict")},
                            {"container", v.at("container")}, {"pid", v.at("pid")}};
  if (!event.at("culprits").empty()) summary["top_culprit"] = event.at("culprits")[0];
  std::lock_guard lock(mu_);
  entries_.push_back({v.at("namespace"), v.at("pod"), start_ns, end_ns, std::move(summary)});
  while (!entries_.empty() && (entries_.size() > kKeepMax || end_ns - entries_.front().end_ns > kKeepNs)) {
    entries_.pop_front();
  }
}

std::vector<nlohmann::json> SlowFsyncHistory::overlapping(const std::string& ns, const std::string& pod,
                                                          std::uint64_t start_ns, std::uint64_t end_ns) const {
  std::vector<nlohmann::json> out;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.ns == ns && e.pod == pod && e.start_ns < end_ns && e.end_ns > start_ns) out.push_back(e.summary);
  }
  return out;
}

nlohmann::json probe_event(const sw_probe_event& e, const ProbeContext& ctx, const SlowFsyncHistory& fsyncs) {
  identity::Labels pod;
  std::string target;
  if (e.type == SW_PROBE_EXEC) {
    pod = ctx.labels(e.cgroup);
  } else {
    identity::Address addr{};
    std::copy(std::begin(e.addr), std::end(e.addr), addr.begin());
    target = identity::address_text(addr, e.family);
    // The accepting socket's pod first: hostNetwork pods share addresses.
    if (e.cgroup) pod = ctx.labels(e.cgroup);
    if (pod.pod.empty()) {
      if (auto l = ctx.address(addr, e.family)) pod = *l;
    }
  }
  nlohmann::json j = {
      {"time", rfc3339(static_cast<std::int64_t>(e.start_ns) + ctx.realtime_offset_ns)},
      {"event", "probe"},
      {"schema_version", kEventSchemaVersion},
      {"node", ctx.node},
      {"namespace", pod.ns},
      {"pod", pod.pod},
      {"type", names::probe_type_name(e.type)},
      {"result", names::probe_result_name(e.result)},
      {"duration_ms", static_cast<double>(e.duration_ns) / 1e6},
  };
  if (e.type == SW_PROBE_EXEC) {
    j["container"] = pod.container;
    j["cgroup"] = pod.cgroup;
    j["command"] = std::string(e.comm, strnlen(e.comm, sizeof(e.comm)));
    j["pid"] = e.pid;
    j["exit_code"] = e.exit_code;
  } else {
    j["address"] = target;
    j["port"] = e.port;
    if (e.exit_code) j["code"] = names::probe_code_name(e.type, static_cast<std::uint32_t>(e.exit_code));
    if (!pod.container.empty()) j["container"] = pod.container;
    if (e.cgroup) j["cgroup"] = pod.cgroup;  // the accepting socket's: a host service's too
    j["connect_ms"] = e.connect_ns ? nlohmann::json(static_cast<double>(e.connect_ns) / 1e6) : nlohmann::json();
    j["prober_pid"] = e.pid;
  }
  j["slow_fsyncs"] = pod.pod.empty() ? std::vector<nlohmann::json>{}
                                     : fsyncs.overlapping(pod.ns, pod.pod, e.start_ns, e.start_ns + e.duration_ns);
  return j;
}

ProbeEventQueue::ProbeEventQueue(ProbeContext ctx, const SlowFsyncHistory& fsyncs,
                                 std::function<void(const nlohmann::json&)> write, std::chrono::nanoseconds delay)
    : ctx_(std::move(ctx)),
      fsyncs_(fsyncs),
      write_(std::move(write)),
      delay_ns_(static_cast<std::uint64_t>(delay.count())) {}

void ProbeEventQueue::push(const sw_probe_event& e) {
  std::lock_guard lock(mu_);
  pending_.push_back(e);
}

void ProbeEventQueue::flush(std::uint64_t now_ns, bool flush_all) {
  std::deque<sw_probe_event> ready;
  {
    std::lock_guard lock(mu_);
    while (!pending_.empty()) {
      const auto& e = pending_.front();
      if (!flush_all && e.start_ns + e.duration_ns + delay_ns_ > now_ns) break;
      ready.push_back(e);
      pending_.pop_front();
    }
  }
  for (const auto& e : ready) {
    // A process that entered some cgroup from outside is an exec probe
    // only in a pod's; systemd starting a service is not one.
    if (e.type == SW_PROBE_EXEC && ctx_.labels(e.cgroup).pod.empty()) continue;
    write_(probe_event(e, ctx_, fsyncs_));
  }
}

}  // namespace stallwatch::events
