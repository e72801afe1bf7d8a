#pragma once
// The one-word verdict of a slow window, from its kinds.
//
// Rules, in order:
//   1. Kinds fold into causes: neighbor = neighbor_io + writeback (someone
//      else's dirty data), self = own_io, journal, device, cpu. `other` (the
//      victim's own CPU work in the kernel, kernel threads' I/O) is no cause.
//   2. The cause holding at least half the window's wall time is the verdict.
//   3. Otherwise `mixed`: no single cause explains the wait.
#include <array>
#include <cstdint>
#include <string_view>

#include "stallwatch.h"

namespace stallwatch::blame {

using Kinds = std::array<std::uint64_t, SW_BLAME__KINDS>;

std::string_view verdict(const Kinds& kinds_ns, std::uint64_t wall_ns);

}  // namespace stallwatch::blame
