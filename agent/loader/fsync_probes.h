#pragma once
// Owner of the fsync programs and the ladder that picks their rung.
//
// Rungs, best first:
//   fentry      tracepoints plus fentry/fexit vfs_fsync_range for what no
//               syscall shows (O_SYNC writes, nfsd); needs BPF trampolines.
//   tracepoint  syscall tracepoints and io_uring tracepoints; needs tracefs.
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/blame_probes.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"

struct fsync_bpf;

namespace stallwatch::loader {

inline Result<Rung> parse_fsync_hook(std::string_view text) {
  return parse_rung("fsync", text, {Rung::kAuto, Rung::kTracepoint, Rung::kFentry});
}

struct FsyncConfig {
  Rung hook = Rung::kAuto;
  std::uint32_t hist_entries = 4096;   // bound on (cgroup, device, op) series
  SharedBlameMaps blame_maps;          // from BlameProbes; unset: windows never open
  std::uint64_t slow_ns = 10'000'000;  // windows at least this long become events
};

class FsyncProbes {
 public:
  // Tries the rungs config.hook allows, best first. tracefs is the result of
  // ensure_tracefs(); without it the tracepoint rung is refused with its reason.
  static Result<FsyncProbes> load(const FsyncConfig& config, const Result<Tracefs>& tracefs,
                                  std::vector<RungReport>& report);

  Rung rung() const { return programs_.rung(); }
  std::vector<std::pair<std::string, int>> loaded_programs() const;
  bool io_uring() const { return io_uring_; }
  int hist_fd() const;
  int drops_fd() const;

 private:
  explicit FsyncProbes(Programs<fsync_bpf> programs) : programs_(std::move(programs)) {}
  static Result<FsyncProbes> try_rung(Rung rung, const FsyncConfig& config, const Tracefs& tracefs);

  Programs<fsync_bpf> programs_;
  bool io_uring_ = false;
  bool direct_files_ = false;  // sys_enter_sync_direct_tp runs
  bool task_storage_ = false;  // threads' calls in task storage (fsync_task)
};

}  // namespace stallwatch::loader
