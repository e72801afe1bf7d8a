#include "blame/verdict.h"

#include <algorithm>
#include <string>
#include <utility>

namespace stallwatch::blame {

std::string_view verdict(const Kinds& k, std::uint64_t wall_ns, std::uint64_t journal_of_neighbours_ns,
                         std::uint64_t cpu_of_neighbours_ns) {
  const std::uint64_t theirs = std::min(journal_of_neighbours_ns, k[SW_BLAME_JOURNAL]);
  const std::uint64_t their_cpu = std::min(cpu_of_neighbours_ns, k[SW_BLAME_CPU]);
  const std::pair<std::string_view, std::uint64_t> causes[] = {
      {"neighbor", k[SW_BLAME_NEIGHBOR_IO] + k[SW_BLAME_WRITEBACK] + theirs + their_cpu},
      {"self", k[SW_BLAME_OWN_IO] + k[SW_BLAME_CPU_THROTTLED]},
      {"journal", k[SW_BLAME_JOURNAL] - theirs},
      {"device", k[SW_BLAME_DEVICE]},
      {"cpu", k[SW_BLAME_CPU] - their_cpu},
  };
  for (const auto& [name, ns] : causes) {
    if (wall_ns > 0 && 2 * ns >= wall_ns) return name;
  }
  return "mixed";
}

}  // namespace stallwatch::blame
