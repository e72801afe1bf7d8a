#include "blame/verdict.h"

#include <string>
#include <utility>

namespace stallwatch::blame {

std::string_view verdict(const Kinds& k, std::uint64_t wall_ns) {
  const std::pair<std::string_view, std::uint64_t> causes[] = {
      {"neighbor", k[SW_BLAME_NEIGHBOR_IO] + k[SW_BLAME_WRITEBACK]},
      {"self", k[SW_BLAME_OWN_IO]},
      {"journal", k[SW_BLAME_JOURNAL]},
      {"device", k[SW_BLAME_DEVICE]},
      {"cpu", k[SW_BLAME_CPU]},
  };
  for (const auto& [name, ns] : causes) {
    if (wall_ns > 0 && 2 * ns >= wall_ns) return name;
  }
  return "mixed";
}

}  // namespace stallwatch::blame
