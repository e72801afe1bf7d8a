#pragma once
// Owner of the fsync programs and the ladder that picks their rung.
//
// Rungs, best first:
//   fentry      tracepoints plus fentry/fexit vfs_fsync_range for what no
//               syscall shows (O_SYNC writes, nfsd); needs BPF trampolines.
//   tracepoint  syscall tracepoints and io_uring tracepoints; needs tracefs.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/blame_probes.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"

struct fsync_bpf;

namespace stallwatch::loader {

enum class FsyncHook { kAuto, kTracepoint, kFentry };
Result<FsyncHook> parse_fsync_hook(std::string_view text);
std::string_view to_string(FsyncHook hook);

struct FsyncConfig {
  FsyncHook hook = FsyncHook::kAuto;
  std::uint32_t hist_entries = 4096;  // bound on (cgroup, device, op) series
  SharedBlameMaps blame_maps;          // from BlameProbes; unset: windows never open
  std::uint64_t slow_ns = 10'000'000;  // windows at least this long become events
};

// Destroys the skeleton (programs and maps); defined beside the skeleton.
struct FsyncSkeletonDeleter {
  void operator()(fsync_bpf* skel) const;
};

class FsyncProbes {
 public:
  // Tries the rungs config.hook allows, best first. tracefs is the result of
  // ensure_tracefs(); without it the tracepoint rung is refused with its reason.
  static Result<FsyncProbes> load(const FsyncConfig& config, const Result<Tracefs>& tracefs,
                                  std::vector<RungReport>& report);

  FsyncProbes(FsyncProbes&&) = default;
  FsyncProbes& operator=(FsyncProbes&&) = default;
  ~FsyncProbes() { destroy_links_concurrently(links_); }

  std::string_view mode() const { return mode_; }
  bool io_uring() const { return io_uring_; }
  int hist_fd() const;
  int drops_fd() const;

 private:
  FsyncProbes() = default;

  // Teardown order: links, then programs and maps.
  std::unique_ptr<fsync_bpf, FsyncSkeletonDeleter> skel_;
  std::vector<Link> links_;
  std::string mode_;
  bool io_uring_ = false;

  friend Result<FsyncProbes> try_rung(FsyncHook, const FsyncConfig&, const Tracefs&);
};

}  // namespace stallwatch::loader
