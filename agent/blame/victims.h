#pragma once
// Who the victims are. --victim selectors are resolved here, in user space
// (pure logic: the processes and the known cgroups in, sets out); the loader pushes
// the sets to the kernel maps the fsync hot path looks up: processes by
// tgid (comm=) and cgroups by id (cgroup=, pod=).
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "identity/labels.h"
#include "identity/processes.h"

namespace stallwatch::blame {

struct VictimSelector {
  enum class Kind { kComm, kCgroup, kPod };
  Kind kind;
  std::string pattern;  // fnmatch(3) glob
  std::string text;     // as given, for messages

  // comm=GLOB (process name, 15 characters at most, as in /proc/PID/comm),
  // cgroup=GLOB (cgroup2 path from the root, "/" first), pod=NS/NAME (globs).
  static Result<VictimSelector> parse(std::string_view text);
  bool matches_comm(std::string_view comm) const;
  bool matches(const identity::Labels& labels) const;
};

struct VictimSet {
  std::set<std::uint32_t> tasks;    // tgids
  std::set<std::uint64_t> cgroups;  // cgroup ids
};

class Victims {
 public:
  explicit Victims(std::vector<VictimSelector> selectors) : selectors_(std::move(selectors)) {}

  // The selectors against the processes (comm=) and the known cgroups (cgroup=, pod=).
  VictimSet resolve(const std::vector<std::pair<std::uint64_t, identity::Labels>>& cgroups,
                    const std::vector<identity::Process>& processes) const;

  bool wants_cgroups() const;    // any cgroup= or pod= selector
  bool wants_processes() const;  // any comm= selector
  // comm= names without glob characters: the kernel matches these itself at
  // each call, so a process that lives less than a scan is still a victim.
  std::vector<std::string> exact_comms() const;
  const std::vector<VictimSelector>& selectors() const { return selectors_; }

 private:
  std::vector<VictimSelector> selectors_;
};

}  // namespace stallwatch::blame
