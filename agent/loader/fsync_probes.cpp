#include "loader/fsync_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>

#include "fsync.skel.h"

namespace stallwatch::loader {

void FsyncSkeletonDeleter::operator()(fsync_bpf* skel) const { fsync_bpf__destroy(skel); }

Result<FsyncHook> parse_fsync_hook(std::string_view text) {
  if (text == "auto") return FsyncHook::kAuto;
  if (text == "tracepoint") return FsyncHook::kTracepoint;
  if (text == "fentry") return FsyncHook::kFentry;
  return fail("unknown fsync hook '" + std::string(text) + "' (expected auto, tracepoint or fentry)");
}

std::string_view to_string(FsyncHook hook) {
  switch (hook) {
    case FsyncHook::kAuto: return "auto";
    case FsyncHook::kTracepoint: return "tracepoint";
    case FsyncHook::kFentry: return "fentry";
  }
  return "auto";
}

int FsyncProbes::hist_fd() const { return bpf_map__fd(skel_->maps.fsync_hist); }
int FsyncProbes::drops_fd() const { return bpf_map__fd(skel_->maps.drops); }

Result<FsyncProbes> try_rung(FsyncHook rung, const FsyncConfig& config, const Tracefs& tracefs) {
  if (!tracepoint_exists(tracefs, "syscalls", "sys_enter_fdatasync")) {
    return fail("tracefs has no syscalls/sys_enter_fdatasync (kernel built without "
                "CONFIG_FTRACE_SYSCALLS)");
  }
  FsyncProbes probes;
  probes.skel_.reset(fsync_bpf__open());
  if (!probes.skel_) return fail("open fsync BPF object: " + errno_text(errno));
  auto& skel = *probes.skel_;

  const bool fentry = rung == FsyncHook::kFentry;
  bpf_program__set_autoload(skel.progs.vfs_fsync_range_fentry, fentry);
  bpf_program__set_autoload(skel.progs.vfs_fsync_range_fexit, fentry);

  // bpf_find_vma (5.17) names msync's file; older kernels get device "unknown".
  const bool find_vma = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma,
                                                nullptr) == 1;
  bpf_program__set_autoload(skel.progs.sys_enter_msync_vma_tp, find_vma);
  bpf_program__set_autoload(skel.progs.sys_enter_msync_novma_tp, !find_vma);

  const bool submit_req = tracepoint_exists(tracefs, "io_uring", "io_uring_submit_req");
  const bool submit_sqe = tracepoint_exists(tracefs, "io_uring", "io_uring_submit_sqe");
  const bool complete = tracepoint_exists(tracefs, "io_uring", "io_uring_complete");
  probes.io_uring_ = (submit_req || submit_sqe) && complete;
  bpf_program__set_autoload(skel.progs.io_uring_submit_req_tp, probes.io_uring_ && submit_req);
  bpf_program__set_autoload(skel.progs.io_uring_submit_sqe_tp,
                            probes.io_uring_ && !submit_req && submit_sqe);
  bpf_program__set_autoload(skel.progs.io_uring_complete_tp, probes.io_uring_);

  if (int err = bpf_map__set_max_entries(skel.maps.fsync_hist, config.hist_entries); err) {
    return fail("size fsync_hist: " + errno_text(err));
  }
  if (auto shared = reuse_blame_maps(skel.obj, config.blame_maps); !shared) {
    return std::unexpected(shared.error());
  }
  skel.rodata->cfg_blame_slow_ns = config.slow_ns;
  if (int err = fsync_bpf__load(&skel); err) {
    return fail("load " + std::string(to_string(rung)) + " programs: " + errno_text(err) +
                (fentry && err == -EPERM ? " (this kernel refuses fentry/fexit programs)" : ""));
  }
  auto links = attach_all(skel.obj);
  if (!links) {
    return fail(links.error().message +
                (fentry && links.error().message.find("EPERM") != std::string::npos
                     ? " (this kernel refuses fentry/fexit programs)"
                     : ""));
  }
  probes.links_ = std::move(*links);
  probes.mode_ = std::string(to_string(rung));
  return probes;
}

Result<FsyncProbes> FsyncProbes::load(const FsyncConfig& config, const Result<Tracefs>& tracefs,
                                      std::vector<RungReport>& report) {
  std::vector<Rung<FsyncProbes>> ladder;
  for (FsyncHook hook : {FsyncHook::kFentry, FsyncHook::kTracepoint}) {
    if (config.hook != FsyncHook::kAuto && config.hook != hook) continue;
    ladder.push_back({std::string(to_string(hook)), [&, hook]() -> Result<FsyncProbes> {
                        if (!tracefs) return fail(tracefs.error().message);
                        return try_rung(hook, config, *tracefs);
                      }});
  }
  return climb<FsyncProbes>(
      "fsync", ladder, config.hook != FsyncHook::kAuto,
      [](const FsyncProbes& p) {
        return std::string(p.io_uring_ ? "io_uring fsync traced"
                                       : "io_uring tracepoints absent: io_uring not traced");
      },
      report);
}

}  // namespace stallwatch::loader
