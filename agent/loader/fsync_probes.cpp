#include "loader/fsync_probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <string_view>
#include <utility>

#include "fsync.skel.h"
#include "loader/insn_compat.h"

namespace stallwatch::loader {

namespace {

// errno of loading an empty fentry program on vfs_fsync_range; 0 if it
// loads. Kernels that refuse fentry (lockdown, some sandboxes: EPERM) say
// so here in under a millisecond, where a refused rung costs an open and
// the CO-RE relocation of the whole object (about 30 ms of start-up).
int fentry_load_errno() {
  const int id = libbpf_find_vmlinux_btf_id("vfs_fsync_range", BPF_TRACE_FENTRY);
  if (id < 0) return -id;
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
              .attach_btf_id = static_cast<__u32>(id));
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, nullptr, "GPL", insns, std::size(insns), &opts);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// Whether a tracepoint program may call bpf_rdonly_cast (6.2+) and load a
// field through what it returns, as sys_enter_sync_direct_tp does: a probe
// load of r0 = bpf_rdonly_cast(0, struct file); r0 = r0->f_inode.
bool tracepoint_rdonly_cast() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  const int kfunc = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC);
  const int file = btf__find_by_name_kind(vmlinux, "file", BTF_KIND_STRUCT);
  int f_inode_off = -1;
  if (file > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, file);
    const btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); ++i, ++m) {
      if (std::string_view(btf__name_by_offset(vmlinux, m->name_off)) == "f_inode") {
        f_inode_off = static_cast<int>(btf_member_bit_offset(t, i) / 8);
      }
    }
  }
  btf__free(vmlinux);
  if (kfunc <= 0 || f_inode_off < 0) return false;
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .src_reg = 0, .off = 0, .imm = file},
      {.code = BPF_JMP | BPF_CALL, .dst_reg = 0, .src_reg = BPF_PSEUDO_KFUNC_CALL, .off = 0, .imm = kfunc},
      {.code = BPF_LDX | BPF_MEM | BPF_DW,
       .dst_reg = BPF_REG_0,
       .src_reg = BPF_REG_0,
       .off = static_cast<__s16>(f_inode_off),
       .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, nullptr, "GPL", insns, std::size(insns), nullptr);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace

int FsyncProbes::hist_fd() const { return bpf_map__fd(programs_.skel().maps.fsync_hist); }
int FsyncProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }

Result<FsyncProbes> FsyncProbes::try_rung(Rung rung, const FsyncConfig& config, const Tracefs& tracefs) {
  if (!tracepoint_exists(tracefs, "syscalls", "sys_enter_fdatasync")) {
    return fail(
        "tracefs has no syscalls/sys_enter_fdatasync (kernel built without "
        "CONFIG_FTRACE_SYSCALLS)");
  }
  if (rung == Rung::kFentry && fentry_load_errno() == EPERM) {
    Error e = fail_errno("load fentry programs", EPERM).error();
    e.message += " (this kernel refuses fentry/fexit programs)";
    return std::unexpected(e);
  }
  auto programs =
      Programs<fsync_bpf>::open({open_for_this_kernel<fsync_bpf, fsync_bpf__create_skeleton, fsync_bpf__destroy>,
                                 fsync_bpf__load, fsync_bpf__destroy},
                                "fsync");
  if (!programs) return std::unexpected(programs.error());
  FsyncProbes probes(std::move(*programs));
  auto& skel = probes.programs_.skel();

  const bool fentry = rung == Rung::kFentry;
  if (fentry) {
    autoload_rungs(skel.obj, {Rung::kTracepoint, Rung::kFentry});
  } else {
    autoload_rungs(skel.obj, {Rung::kTracepoint});
  }

  // The fd-taking calls' enter program reads the file by plain loads where
  // the kernel allows it (about 60 ns a call less than a helper call a hop).
  const bool direct = tracepoint_rdonly_cast();
  bpf_program__set_autoload(skel.progs.sys_enter_sync_tp, !direct);
  bpf_program__set_autoload(skel.progs.sys_enter_sync_direct_tp, direct);
  bpf_program* const enter = direct ? skel.progs.sys_enter_sync_direct_tp : skel.progs.sys_enter_sync_tp;
  probes.direct_files_ = direct;

  // Each thread's call in flight lives in its task's storage where
  // tracepoint programs may reach it (6.1 and 6.12 here; not 5.10), freed
  // with the thread, and the preallocated tid hash (2.3 MiB) shrinks to one
  // entry. Elsewhere the task storage map stays empty; a kernel without
  // that map type (before 5.11) gets a one-entry hash in its place.
  const bool task_storage = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_storage_get, nullptr) == 1;
  skel.rodata->cfg_task_storage = task_storage;
  probes.task_storage_ = task_storage;
  if (task_storage) {
    if (int err = bpf_map__set_max_entries(skel.maps.fsync_start, 1); err) {
      return fail_errno("size the unused thread hash", err);
    }
  } else if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, nullptr) != 1) {
    if (int err = bpf_map__set_type(skel.maps.fsync_task, BPF_MAP_TYPE_HASH); err) {
      return fail_errno("make the unused task storage map a hash", err);
    }
    if (int err = bpf_map__set_max_entries(skel.maps.fsync_task, 1); err) {
      return fail_errno("size the unused task storage map", err);
    }
  }

  // bpf_find_vma (5.17) names msync's file; older kernels get device "unknown".
  const bool find_vma = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma, nullptr) == 1;
  bpf_program__set_autoload(skel.progs.sys_enter_msync_vma_tp, find_vma);
  bpf_program__set_autoload(skel.progs.sys_enter_msync_novma_tp, !find_vma);

  const bool submit_req = tracepoint_exists(tracefs, "io_uring", "io_uring_submit_req");
  const bool submit_sqe = tracepoint_exists(tracefs, "io_uring", "io_uring_submit_sqe");
  const bool complete = tracepoint_exists(tracefs, "io_uring", "io_uring_complete");
  probes.io_uring_ = (submit_req || submit_sqe) && complete;
  bpf_program__set_autoload(skel.progs.io_uring_submit_req_tp, probes.io_uring_ && submit_req);
  bpf_program__set_autoload(skel.progs.io_uring_submit_sqe_tp, probes.io_uring_ && !submit_req && submit_sqe);
  bpf_program__set_autoload(skel.progs.io_uring_complete_tp, probes.io_uring_);

  if (int err = bpf_map__set_max_entries(skel.maps.fsync_hist, config.hist_entries); err) {
    return fail_errno("size fsync_hist", err);
  }
  if (auto shared = reuse_blame_maps(skel.obj, config.blame_maps); !shared) {
    return std::unexpected(shared.error());
  }
  skel.rodata->cfg_blame_slow_ns = config.slow_ns;
  skel.rodata->nr_fdatasync = SYS_fdatasync;
  skel.rodata->nr_sync_file_range = SYS_sync_file_range;
  skel.rodata->nr_syncfs = SYS_syncfs;
  if (auto loaded = probes.programs_.load_and_attach(rung); !loaded) {
    Error e = loaded.error();
    if (fentry && e.code == EPERM) e.message += " (this kernel refuses fentry/fexit programs)";
    return std::unexpected(e);
  }
  // One enter program for the fd-taking calls, one exit program for all:
  // each verified once (the verifier's time is most of the start-up).
  const std::pair<bpf_program*, const char*> also[] = {
      {enter, "sys_enter_fdatasync"},
      {enter, "sys_enter_sync_file_range"},
      {enter, "sys_enter_syncfs"},
      {skel.progs.sys_exit_sync_tp, "sys_exit_fdatasync"},
      {skel.progs.sys_exit_sync_tp, "sys_exit_sync_file_range"},
      {skel.progs.sys_exit_sync_tp, "sys_exit_syncfs"},
      {skel.progs.sys_exit_sync_tp, "sys_exit_msync"},
  };
  for (const auto& [prog, tracepoint] : also) {
    if (auto attached = probes.programs_.attach_also(prog, "syscalls", tracepoint); !attached) {
      return std::unexpected(attached.error());
    }
  }
  return probes;
}

Result<FsyncProbes> FsyncProbes::load(const FsyncConfig& config, const Result<Tracefs>& tracefs,
                                      std::vector<RungReport>& report) {
  return climb<FsyncProbes>(
      "fsync", {Rung::kFentry, Rung::kTracepoint}, config.hook,
      [&](Rung rung) -> Result<FsyncProbes> {
        if (!tracefs) return std::unexpected(tracefs.error());
        return try_rung(rung, config, *tracefs);
      },
      [](const FsyncProbes& p) {
        std::string what = p.io_uring_ ? "io_uring fsync traced" : "io_uring tracepoints absent: io_uring not traced";
        if (!p.direct_files_) what += "; files read by helper calls (no bpf_rdonly_cast for tracepoints: before 6.2)";
        if (!p.task_storage_) {
          what += "; calls in flight kept in a hash by thread (this kernel gives tracepoint programs no task storage)";
        }
        return what;
      },
      report);
}

std::vector<std::pair<std::string, int>> FsyncProbes::loaded_programs() const { return programs_.loaded(); }

}  // namespace stallwatch::loader
