#include "capture/trigger.h"

#include <charconv>
#include <set>

#include "blame/verdict.h"
#include "common/duration.h"

namespace stallwatch::capture {

Result<Trigger> Trigger::parse(std::string_view text) {
  const std::string quoted = "--trigger '" + std::string(text) + "'";
  const std::string usage = " (expected fsync>DURATION, probe=RESULT or verdict=VERDICT)";
  if (text.rfind("fsync>", 0) == 0) {
    auto ns = parse_duration_ns(text.substr(6));
    if (!ns) return fail(quoted + ": " + ns.error().message);
    return Trigger{Kind::kFsync, *ns, "", std::string(text)};
  }
  static const std::set<std::string> results = {"timeout", "refused", "reset", "failure"};
  static const std::set<std::string> verdicts(std::begin(blame::kVerdicts), std::end(blame::kVerdicts));
  if (text.rfind("probe=", 0) == 0) {
    const std::string v(text.substr(6));
    if (!results.count(v))
      return fail(quoted + ": unknown probe result '" + v + "' (timeout, refused, reset, failure)");
    return Trigger{Kind::kProbe, 0, v, std::string(text)};
  }
  if (text.rfind("verdict=", 0) == 0) {
    const std::string v(text.substr(8));
    if (!verdicts.count(v)) {
      std::string known;
      for (const auto name : blame::kVerdicts) known += (known.empty() ? "" : ", ") + std::string(name);
      return fail(quoted + ": unknown verdict '" + v + "' (" + known + ")");
    }
    return Trigger{Kind::kVerdict, 0, v, std::string(text)};
  }
  return fail(quoted + ": unknown trigger" + usage);
}

bool Trigger::matches(const nlohmann::json& e) const {
  const std::string type = e.value("event", "");
  switch (kind) {
    case Kind::kFsync: return type == "slow_fsync" && e.value("duration_ms", 0.0) * 1e6 >= static_cast<double>(min_ns);
    case Kind::kProbe: return type == "probe" && e.value("result", "") == value;
    case Kind::kVerdict: return type == "slow_fsync" && e.value("verdict", "") == value;
  }
  return false;
}

Result<std::uint64_t> parse_size(std::string_view text, bool zero_is_off) {
  std::uint64_t n = 0;
  const auto [p, err] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string unit(p, text.data() + text.size());
  if (err != std::errc() || p == text.data()) return fail("bad size '" + std::string(text) + "' (expected e.g. 100MB)");
  if (n == 0 && zero_is_off) return 0;
  const std::pair<const char*, std::uint64_t> units[] = {
      {"", 1},         {"B", 1},         {"KB", 1000},       {"KiB", 1024},
      {"MB", 1000000}, {"MiB", 1 << 20}, {"GB", 1000000000}, {"GiB", 1ULL << 30}};
  for (const auto& [u, scale] : units) {
    if (unit == u) {
      if (n * scale < 4096) return fail("size '" + std::string(text) + "' is too small (4 KiB at least)");
      return n * scale;
    }
  }
  return fail("bad size '" + std::string(text) + "': unit must be B, KB, KiB, MB, MiB, GB or GiB");
}

}  // namespace stallwatch::capture
