#pragma once
// The one-word verdict of a slow window, from its kinds.
//
// Rules, in order:
//   1. Kinds fold into causes: neighbor = neighbor_io + writeback (someone
//      else's dirty data) + the journal's writes of another workload's data
//      or transactions (ext4's ordered data and the blocks its handles
//      dirtied) + waits for a CPU another workload held,
//      self = own_io + cpu_throttled (its own I/O, its own CPU quota),
//      journal (the journal's own work), device, cpu (waiting for a CPU
//      others held, whoever they were). `other`
//      (the victim's own CPU work in the kernel, kernel threads' I/O of
//      unknown origin) is no cause.
//   2. On a disk its provider throttled (DeviceHealth) the victim's own
//      I/O, its own journal work and the device's stalls are one cause,
//      throttled: the cap, not the workload, made them slow. A neighbour
//      is still named first: its requests spent the capped budget.
//      Before it: a cgroup I/O limit that binds the victim (IoLimits) holds
//      its bios before the disk, so its own I/O and the disk's "stalls"
//      are one cause, io_limit.
//   3. The cause holding at least half the window's wall time is the verdict.
//   4. Otherwise `mixed`: no single cause explains the wait.
#include <array>
#include <cstdint>
#include <string_view>

#include "stallwatch.h"

namespace stallwatch::blame {

using Kinds = std::array<std::uint64_t, SW_BLAME__KINDS>;

struct VerdictContext {
  std::uint64_t journal_of_neighbours_ns = 0;  // journal time writing other workloads' data
  std::uint64_t cpu_of_neighbours_ns = 0;      // CPU wait behind other workloads
  bool disk_throttled = false;                 // the disk sat at its provider's cap
  bool io_limited = false;                     // a cgroup I/O limit binds the victim on the disk
};

// Every verdict verdict() can return, in the order its rules try them.
inline constexpr std::string_view kVerdicts[] = {"neighbor", "io_limit", "throttled", "self",
                                                 "journal",  "device",   "cpu",       "mixed"};

std::string_view verdict(const Kinds& kinds_ns, std::uint64_t wall_ns, const VerdictContext& context = {});

}  // namespace stallwatch::blame
