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
  if (int err = fsync_bpf__load(&skel); err) {
    return fail("load " + std::string(to_string(rung)) + " programs: " + errno_text(err) +
                (fentry && err == -EPERM ? " (this kernel refuses fentry/fexit programs)" : ""));
  }
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel.obj) {
    if (!bpf_program__autoload(prog)) continue;
    Link link(bpf_program__attach(prog));
    if (!link) {
      const int err = errno;
      return fail("attach " + std::string(bpf_program__section_name(prog)) + ": " +
                  errno_text(err) +
                  (fentry && err == EPERM ? " (this kernel refuses fentry/fexit programs)" : ""));
    }
    probes.links_.push_back(std::move(link));
  }
  probes.mode_ = std::string(to_string(rung));
  return probes;
}

Result<FsyncProbes> FsyncProbes::load(const FsyncConfig& config, const Result<Tracefs>& tracefs,
                                      std::vector<RungReport>& report) {
  std::vector<FsyncHook> ladder;
  if (config.hook == FsyncHook::kAuto) {
    ladder = {FsyncHook::kFentry, FsyncHook::kTracepoint};
  } else {
    ladder = {config.hook};
  }
  std::string refusals;
  for (FsyncHook rung : ladder) {
    const std::string name(to_string(rung));
    Result<FsyncProbes> probes =
        tracefs ? try_rung(rung, config, *tracefs) : fail(tracefs.error().message);
    if (probes) {
      report.push_back({name, true,
                        probes->io_uring_ ? "io_uring fsync traced"
                                          : "io_uring tracepoints absent: io_uring not traced"});
      return probes;
    }
    spdlog::debug("fsync rung {} refused: {}", name, probes.error().message);
    report.push_back({name, false, probes.error().message});
    if (!refusals.empty()) refusals += "; ";
    refusals += name + ": " + probes.error().message;
  }
  if (config.hook == FsyncHook::kAuto) return fail("no fsync hook can load here (" + refusals + ")");
  return fail("fsync hook '" + std::string(to_string(config.hook)) + "' cannot load: " +
              report.back().detail);
}

}  // namespace stallwatch::loader
