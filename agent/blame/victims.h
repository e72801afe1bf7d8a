#pragma once
// Who the victims are. --victim selectors are resolved here, in user space,
// and the result pushed to the kernel maps the fsync hot path looks up:
// processes by tgid (comm=) and cgroups by id (cgroup=, pod=).
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"

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

class Victims {
 public:
  // Map fds of victim_tasks and victim_cgroups; proc_root is /proc.
  Victims(std::vector<VictimSelector> selectors, int tasks_fd, int cgroups_fd,
          std::string proc_root = "/proc");

  struct Counts {
    std::size_t processes = 0;
    std::size_t cgroups = 0;
  };
  // Resolves the selectors against /proc and the known cgroups, and
  // updates the kernel maps by difference.
  Result<Counts> refresh(const std::vector<std::pair<std::uint64_t, identity::Labels>>& cgroups);

  bool wants_cgroups() const;  // any cgroup= or pod= selector
  const std::vector<VictimSelector>& selectors() const { return selectors_; }

 private:
  std::set<std::uint32_t> scan_processes() const;

  std::vector<VictimSelector> selectors_;
  int tasks_fd_;
  int cgroups_fd_;
  std::string proc_root_;
  std::set<std::uint32_t> tasks_;
  std::set<std::uint64_t> cgroups_;
};

}  // namespace stallwatch::blame
