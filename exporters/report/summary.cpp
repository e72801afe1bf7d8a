#include "exporters/report/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "blame/verdict.h"
#include "common/names.h"

namespace stallwatch::report {

namespace {

// The sentence at the top of the report and in summary.json.
std::string sentence(const nlohmann::json& v) {
  const std::string victim = who(v["labels"]);
  if (v.value("calls", 0) == 0) return victim + ": no fsync calls recorded.";
  if (v.value("slow_events", 0) == 0) {
    return fmt::format("{}: {} fsync calls, p99 up to {:g} ms in its worst second, none slow: no incident.", victim,
                       v.value("calls", 0), v.value("p99_ms", 0.0));
  }
  std::string s = fmt::format("{}: {} fsync calls, p99 up to {:g} ms in its worst second, {} slow.", victim,
                              v.value("calls", 0), v.value("p99_ms", 0.0), v.value("slow_events", 0));
  const double wait = v.value("wait_s", 0.0);
  if (!v["culprits"].empty() && wait > 0) {
    const auto& c = v["culprits"][0];
    s += fmt::format(" {:.0f}% of its slow calls' waiting was behind {} ({}).", 100 * c.value("share", 0.0),
                     who(c["labels"]), c.value("kind", ""));
  }
  s += " Verdict: " + v.value("verdict", std::string("mixed")) + ".";
  return s;
}

}  // namespace

std::string who(const nlohmann::json& l) {
  const std::string pod = l.value("pod", "");
  if (!pod.empty()) return l.value("namespace", "") + "/" + pod;
  return l.value("cgroup", "?");
}

nlohmann::json summarize(const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples) {
  struct Acc {
    nlohmann::json labels;
    std::uint64_t calls = 0;
    double wall_s = 0, p99_s = 0, journal_of_neighbours_s = 0, cpu_of_neighbours_s = 0;
    std::vector<double> p50s;
    std::map<std::string, double> kinds;
    // (cgroup, kind) -> seconds: one workload may hold the disk and the CPU.
    std::map<std::pair<std::string, std::string>, double> culprits;
    std::map<std::string, nlohmann::json> culprit_labels;
    std::map<std::string, int> verdicts;
    int slow = 0;
  };
  std::map<std::string, Acc> by_victim;  // cgroup -> accumulators
  for (const auto& s : samples) {
    for (const auto& v : s.victims) {
      auto& a = by_victim[v.labels.cgroup];
      a.labels = {{"namespace", v.labels.ns},
                  {"pod", v.labels.pod},
                  {"container", v.labels.container},
                  {"cgroup", v.labels.cgroup}};
      a.calls += v.calls;
      a.wall_s += v.wall_s;
      if (v.calls) {
        a.p99_s = std::max(a.p99_s, v.p99_s);
        a.p50s.push_back(v.p50_s);
      }
      for (const auto& [k, x] : v.kinds_s) a.kinds[k] += x;
      a.journal_of_neighbours_s += v.journal_of_neighbours_s;
      a.cpu_of_neighbours_s += v.cpu_of_neighbours_s;
    }
  }
  // Culprits with kinds and names come from the events and the kinds' seconds.
  std::uint64_t probe_events = 0, slow_events = 0;
  for (const auto& e : events) {
    if (e.value("event", "") == "probe") {
      ++probe_events;
      continue;
    }
    if (e.value("event", "") != "slow_fsync") continue;
    ++slow_events;
    auto& a = by_victim[e["victim"].value("cgroup", "")];
    if (a.labels.is_null()) {
      a.labels = {{"namespace", e["victim"].value("namespace", "")},
                  {"pod", e["victim"].value("pod", "")},
                  {"container", e["victim"].value("container", "")},
                  {"cgroup", e["victim"].value("cgroup", "")}};
    }
    ++a.slow;
    ++a.verdicts[e.value("verdict", "mixed")];
    for (const auto& c : e["culprits"]) {
      const std::string cg = c.value("cgroup", "");
      a.culprits[{cg, c.value("kind", "")}] += c.value("blamed_ms", 0.0) / 1e3;
      a.culprit_labels[cg] = {{"namespace", c.value("namespace", "")},
                              {"pod", c.value("pod", "")},
                              {"container", c.value("container", "")},
                              {"cgroup", cg}};
    }
  }
  nlohmann::json victims = nlohmann::json::array();
  for (auto& [cg, a] : by_victim) {
    nlohmann::json v = {{"labels", a.labels},      {"calls", a.calls},      {"wall_s", a.wall_s},
                        {"p99_ms", a.p99_s * 1e3}, {"slow_events", a.slow}, {"verdicts", a.verdicts},
                        {"kinds_s", a.kinds}};
    std::sort(a.p50s.begin(), a.p50s.end());
    v["p50_ms"] = a.p50s.empty() ? 0.0 : a.p50s[a.p50s.size() / 2] * 1e3;
    double wait = 0;
    for (const auto& [k, x] : a.kinds) wait += x;
    v["wait_s"] = wait;
    std::vector<std::pair<std::pair<std::string, std::string>, double>> ranked(a.culprits.begin(),
                                                                               a.culprits.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    double blamed = 0;
    for (const auto& [key, seconds] : ranked) blamed += seconds;
    nlohmann::json culprits = nlohmann::json::array();
    for (const auto& [key, seconds] : ranked) {
      const auto& [c, kind] = key;
      if (c.empty() && kind != "own_io") continue;
      culprits.push_back({{"labels", a.culprit_labels[c]},
                          {"seconds", seconds},
                          {"kind", kind},
                          {"share", blamed > 0 ? seconds / blamed : 0.0}});
    }
    // Seconds per kind from the samples are exact; the slow events only
    // rank the culprits, so their shares are of the slow events' blame.
    v["culprits"] = culprits;
    blame::Kinds kinds{};
    for (std::uint32_t k = 0; k < SW_BLAME__KINDS; ++k) {
      const auto it = a.kinds.find(std::string(names::blame_kind_name(k)));
      kinds[k] = it == a.kinds.end() ? 0 : static_cast<std::uint64_t>(it->second * 1e9);
    }
    v["verdict"] = std::string(blame::verdict(kinds, static_cast<std::uint64_t>(std::max(a.wall_s, wait) * 1e9),
                                              {static_cast<std::uint64_t>(a.journal_of_neighbours_s * 1e9),
                                               static_cast<std::uint64_t>(a.cpu_of_neighbours_s * 1e9)}));
    if (!a.verdicts.empty()) {
      v["verdict"] = std::max_element(a.verdicts.begin(), a.verdicts.end(), [](const auto& x, const auto& y) {
                       return x.second < y.second;
                     })->first;
    }
    v["sentence"] = sentence(v);
    victims.push_back(std::move(v));
  }
  std::sort(victims.begin(), victims.end(),
            [](const auto& x, const auto& y) { return x.value("wall_s", 0.0) > y.value("wall_s", 0.0); });
  nlohmann::json out = {{"victims", victims},
                        {"events", {{"slow_fsync", slow_events}, {"probe", probe_events}}},
                        {"samples", samples.size()}};
  out["sentence"] = victims.empty() ? std::string("No victim made an fsync call during the capture.")
                                    : victims[0].value("sentence", "");
  if (!victims.empty() && !victims[0]["culprits"].empty()) out["top_culprit"] = victims[0]["culprits"][0];
  return out;
}

}  // namespace stallwatch::report
