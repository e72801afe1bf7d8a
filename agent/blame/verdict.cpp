#include "blame/verdict.h"

#include <algorithm>
#include <string>
#include <utility>

namespace stallwatch::blame {

std::string_view verdict(const Kinds& k, std::uint64_t wall_ns, const VerdictContext& c) {
  const std::uint64_t theirs = std::min(c.journal_of_neighbours_ns, k[SW_BLAME_JOURNAL]);
  const std::uint64_t their_cpu = std::min(c.cpu_of_neighbours_ns, k[SW_BLAME_CPU]);
  const std::uint64_t own_journal = k[SW_BLAME_JOURNAL] - theirs;
  const std::uint64_t throttled =
      c.disk_throttled ? k[SW_BLAME_OWN_IO] + own_journal + k[SW_BLAME_DEVICE] : 0;
  const std::uint64_t limited = c.io_limited ? k[SW_BLAME_OWN_IO] + k[SW_BLAME_DEVICE] : 0;
  const std::pair<std::string_view, std::uint64_t> causes[] = {
      {"neighbor", k[SW_BLAME_NEIGHBOR_IO] + k[SW_BLAME_WRITEBACK] + theirs + their_cpu},
      {"io_limit", limited},
      {"throttled", throttled},
      {"self", k[SW_BLAME_OWN_IO] + k[SW_BLAME_CPU_THROTTLED]},
      {"journal", own_journal},
      {"device", k[SW_BLAME_DEVICE]},
      {"cpu", k[SW_BLAME_CPU] - their_cpu},
  };
  for (const auto& [name, ns] : causes) {
    if (wall_ns > 0 && 2 * ns >= wall_ns) return name;
  }
  return "mixed";
}

}  // namespace stallwatch::blame
