#pragma once
// What the blame tests share: the victim helper's own measurements, the
// victim's blame series from a scrape, the slow-event log, and the checks
// every scenario makes (conservation).
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/processes.h"
#include "support/scratch.h"

namespace stallwatch::test {

extern const char* const kKinds[8];

// "stallwatch-blame-<stem>-<pid>": a cgroup name of this test process.
std::string unique(const std::string& stem);

// What the victim measured itself.
struct VictimRun {
  long calls = 0;
  double sum_s = 0, p50_s = 0, p99_s = 0;
  std::vector<double> sorted_s;  // every call's latency, ascending
  double mean_s() const { return calls ? sum_s / calls : 0; }
};

// How much the calls that got slower rose: disturbed and undisturbed calls
// matched by rank (the fastest with the fastest), the rises added up and
// the falls left out. A neighbour can make most calls faster (a CPU kept
// out of deep idle) and a few much slower; the falls do not offset what it
// made the slow ones wait. Undisturbed runs are averaged rank by rank; all
// runs must have the same number of calls.
double rank_rise_s(const VictimRun& disturbed, const std::vector<const VictimRun*>& alone);

// The whole of what a neighbour did to the victim, the upper end an
// over-blame bound scales: the slowdown as if the victim's CPU wait had not
// fallen (cpu_fell_s, 0 if it rose), and never less than what the calls
// that got slower rose by (rise_s, rank_rise_s) nor than nothing.
double whole_slowdown_s(double slowdown_s, double cpu_fell_s, double rise_s);

// sw_victim_helper in cg: `calls` 4 KiB appends + fdatasync on file;
// `wrapper` runs it (e.g. taskset pinning it to a CPU). It waits delay_ms
// first, for the agent's once-a-second scan to find a victim named by its
// process; a victim named by its cgroup needs no wait.
VictimRun run_victim(const TestCgroup& cg, const std::string& file, int calls,
                     const std::vector<std::string>& wrapper = {}, int delay_ms = 1500);

// The victim's blame series at one scrape.
struct Blame {
  std::string victim;                                             // its cgroup
  std::map<std::string, double> kind;                             // kind -> seconds
  std::map<std::pair<std::string, std::string>, double> culprit;  // (culprit cgroup, kind) -> seconds
  double windows = 0, window_s = 0, fsync_sum_s = 0;

  double of(const std::string& k) const { return kind.count(k) ? kind.at(k) : 0; }
  double by(const std::string& cgroup, const std::string& k) const {
    return culprit.count({cgroup, k}) ? culprit.at({cgroup, k}) : 0;
  }
  // Everything named on cgroup, every kind.
  double on(const std::string& cgroup) const {
    double t = 0;
    for (const auto& [key, v] : culprit) {
      if (key.first == cgroup) t += v;
    }
    return t;
  }
  double total() const {
    double t = 0;
    for (const auto& [k, v] : kind) t += v;
    return t;
  }
  Blame operator+(const Blame& o) const {
    Blame s = *this;
    for (const auto& [k, v] : o.kind) s.kind[k] += v;
    for (const auto& [k, v] : o.culprit) s.culprit[k] += v;
    s.windows += o.windows;
    s.window_s += o.window_s;
    s.fsync_sum_s += o.fsync_sum_s;
    return s;
  }
  Blame operator-(const Blame& o) const {
    Blame d = *this;
    for (const auto& [k, v] : o.kind) d.kind[k] -= v;
    for (const auto& [k, v] : o.culprit) d.culprit[k] -= v;
    d.windows -= o.windows;
    d.window_s -= o.window_s;
    d.fsync_sum_s -= o.fsync_sum_s;
    return d;
  }
};

Blame blame_of(const Agent& agent, const std::string& victim_cgroup);
std::string largest_kind(const Blame& b);
// Waits until the agent's victim scan has found n processes or cgroups.
void wait_victims(const Agent& agent, const std::string& kind, double n);
// The slow-fsync events written since line `first` (probe events left out).
std::vector<nlohmann::json> events_since(const Agent& agent, std::size_t first);
std::map<std::string, int> verdicts(const std::vector<nlohmann::json>& events);
std::string describe(const VictimRun& alone, const VictimRun& disturbed, const Blame& d,
                     const std::vector<nlohmann::json>& events);
// Every event's kinds sum to at most its window; the windows of the victim
// are its fsync histogram's _sum; the victim is never its own neighbour.
void expect_conservation(const Blame& d, const std::vector<nlohmann::json>& events);

}  // namespace stallwatch::test
