#include "blame/verdict.h"

#include <string>
#include <utility>

namespace stallwatch::blame {

std::string_view kind_name(std::uint32_t kind) {
  static constexpr std::string_view names[SW_BLAME__KINDS] = {
      "own_io", "neighbor_io", "journal", "writeback", "device", "cpu", "other"};
  if (kind < SW_BLAME__KINDS) return names[kind];
  return "unknown";
}

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
