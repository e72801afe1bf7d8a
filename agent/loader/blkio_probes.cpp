#include "loader/blkio_probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "blkio.skel.h"
#include "loader/insn_compat.h"

namespace stallwatch::loader {

namespace {

// Whether a block tracepoint still takes the request_queue first: the
// kernel's BTF typedef btf_trace_<name> points to a prototype with one more
// parameter (after the leading void *) than its 5.11 form. Asked per event:
// stable kernels took the change for some events and not others.
bool block_event_takes_queue(const btf* vmlinux, const char* name, std::uint16_t params_with_queue) {
  if (!vmlinux) return false;
  bool queue = false;
  const int id = btf__find_by_name_kind(vmlinux, (std::string("btf_trace_") + name).c_str(), BTF_KIND_TYPEDEF);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);  // pointer
    if (t && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);                     // prototype
    queue = t && btf_is_func_proto(t) && btf_vlen(t) == params_with_queue;
  }
  return queue;
}

// Whether jbd2's tracepoints can be attached: their BTF typedef is in the
// kernel's own BTF (ext4 built in, as Debian's, Ubuntu's and the cloud
// kernels have it), or jbd2 is a loaded module with BTF of its own.
bool kernel_has_tracepoint_of(const btf* vmlinux, const char* event, const char* module) {
  const bool built_in =
      vmlinux && btf__find_by_name_kind(vmlinux, (std::string("btf_trace_") + event).c_str(), BTF_KIND_TYPEDEF) > 0;
  return built_in || access((std::string("/sys/kernel/btf/") + module).c_str(), R_OK) == 0;
}

// Journal transactions are split by contributor where jbd2 can be traced;
// elsewhere its programs stay unloaded, and the journal's own blocks are
// the journal's (culprit "/").
void choose_jbd2_programs(blkio_bpf& skel, const btf* vmlinux) {
  static const bool have = kernel_has_tracepoint_of(vmlinux, "jbd2_handle_stats", "jbd2");
  static const bool ext4 = kernel_has_tracepoint_of(vmlinux, "ext4_ext_map_blocks_enter", "ext4");
  static bool told = false;
  if (!have && !told) {
    spdlog::info("jbd2 is not in the kernel's BTF (ext4 as a module, not loaded?): journal commits are not split by "
                 "the transactions' contributors");
    told = true;
  }
  if (!have || !ext4) {
    // Without it a flusher's or conversion worker's handle is the journal's own.
    bpf_program__set_autoload(skel.progs.ext4_map_blocks_btf, false);
    bpf_program__set_autoload(skel.progs.ext4_map_blocks_raw, false);
  }
  if (have) return;
  for (bpf_program* p : {skel.progs.jbd2_handle_stats_btf, skel.progs.jbd2_handle_stats_raw,
                         skel.progs.jbd2_start_commit_btf, skel.progs.jbd2_start_commit_raw,
                         skel.progs.jbd2_end_commit_btf, skel.progs.jbd2_end_commit_raw}) {
    bpf_program__set_autoload(p, false);
  }
}

}  // namespace

int BlockProbes::hist_fd() const { return bpf_map__fd(programs_.skel().maps.blk_hist); }
int BlockProbes::io_fd() const { return bpf_map__fd(programs_.skel().maps.blk_io); }
int BlockProbes::rq_fd() const { return bpf_map__fd(programs_.skel().maps.blk_rq); }
int BlockProbes::rq_key_fd() const { return bpf_map__fd(programs_.skel().maps.blk_rq_key); }
int BlockProbes::rq_slot_fd() const { return bpf_map__fd(programs_.skel().maps.blk_rq_slot); }
int BlockProbes::bio_key_fd() const { return bpf_map__fd(programs_.skel().maps.blk_bio_key); }
int BlockProbes::bio_slot_fd() const { return bpf_map__fd(programs_.skel().maps.blk_bio_slot); }
int BlockProbes::bio_fd() const { return bpf_map__fd(programs_.skel().maps.blk_bio); }
int BlockProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }
int BlockProbes::cost_stats_fd() const { return bpf_map__fd(programs_.skel().maps.blame_cost_stats); }
int BlockProbes::forget_request_fd() const { return bpf_program__fd(programs_.skel().progs.forget_request); }

Result<void> BlockProbes::set_cost(std::uint32_t dev, const sw_cost& cost) {
  if (bpf_map_update_elem(bpf_map__fd(programs_.skel().maps.blame_cost), &dev, &cost, BPF_ANY) != 0) {
    return fail_errno("set the cost model of a disk", errno);
  }
  return {};
}

Result<BlockProbes> BlockProbes::try_rung(Rung rung, const BlockConfig& config, const Result<Tracefs>& tracefs) {
  if (rung == Rung::kTracepoint) {
    if (!tracefs) return std::unexpected(tracefs.error());
    if (!tracepoint_exists(*tracefs, "block", "block_rq_issue")) {
      return fail("tracefs has no block/block_rq_issue");
    }
  }
  auto programs =
      Programs<blkio_bpf>::open({open_for_this_kernel<blkio_bpf, blkio_bpf__create_skeleton, blkio_bpf__destroy>,
                                 blkio_bpf__load, blkio_bpf__destroy},
                                "block");
  if (!programs) return std::unexpected(programs.error());
  BlockProbes probes(std::move(*programs));
  auto& skel = probes.programs_.skel();
  // Parsed once for the questions below (2-9 ms each time); during
  // start-up this is the shared copy (vmlinux_btf.h).
  const std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  autoload_rungs(skel.obj, {rung});
  choose_jbd2_programs(skel, vmlinux.get());

  skel.rodata->cfg_filter_devices = !config.devices.empty();
  skel.rodata->cfg_direct_reads = rung == Rung::kTpBtf;
  skel.rodata->cfg_queue_arg = block_event_takes_queue(vmlinux.get(), "block_rq_insert", 3);
  skel.rodata->cfg_bio_queue_arg = block_event_takes_queue(vmlinux.get(), "block_bio_queue", 3);
  skel.rodata->cfg_blame_owner = config.blame_owner;
  // Requests and bios in slots (bpf/slots.bpf.h) where the kernel has
  // compare-and-swap and they are keyed by their address; the hashes keep
  // the rest: those whose slots were all taken, dm-crypt's bios, and all
  // of the classic rung's or of a kernel's before 5.12.
  const bool slots = rung != Rung::kTracepoint && kernel_has_cmpxchg();
  skel.rodata->cfg_slots = slots;
  for (bpf_map* m : {skel.maps.blk_rq_key, skel.maps.blk_rq_slot, skel.maps.blk_bio_key, skel.maps.blk_bio_slot}) {
    if (int err = bpf_map__set_max_entries(m, slots ? SW_SLOTS : 1); err) {
      return fail_errno("size the request and bio slots", err);
    }
  }
  for (bpf_map* m : {skel.maps.blk_rq, skel.maps.blk_bio}) {
    if (int err = bpf_map__set_max_entries(m, slots ? 4096 : 16384); err)
      return fail_errno("size blk_rq and blk_bio", err);
  }
  if (auto shared = reuse_blame_maps(skel.obj, config.blame_maps); !shared) {
    return std::unexpected(shared.error());
  }
  // Each series may take one entry per shard (bpf/stallwatch.h); a node
  // with fewer CPUs than shards uses only as many.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail_errno("count possible CPUs", -cpus);
  const auto shards = static_cast<std::uint32_t>(std::min(cpus, SW_BLK_SHARDS));
  if (int err = bpf_map__set_max_entries(skel.maps.blk_io, config.io_entries * shards); err) {
    return fail_errno("size blk_io", err);
  }
  // The --devices filter is filled between load and attach, so no request
  // is seen unfiltered.
  if (auto loaded = probes.programs_.load(rung); !loaded) return std::unexpected(loaded.error());
  const std::uint8_t one = 1;
  for (std::uint32_t dev : config.devices) {
    if (bpf_map_update_elem(bpf_map__fd(skel.maps.blk_devices), &dev, &one, BPF_ANY) != 0) {
      return fail_errno("fill the --devices filter", errno);
    }
  }
  if (auto attached = probes.programs_.attach(); !attached) return std::unexpected(attached.error());
  return probes;
}

Result<BlockProbes> BlockProbes::load(const BlockConfig& config, const Result<Tracefs>& tracefs,
                                      std::vector<RungReport>& report) {
  return climb<BlockProbes>(
      "block", {Rung::kTpBtf, Rung::kRawTp, Rung::kTracepoint}, config.hook,
      [&](Rung rung) { return try_rung(rung, config, tracefs); },
      [](const BlockProbes& p) {
        return std::string(p.sees_owner() ? "requests carry owner and submitter" : "requests carry the submitter only");
      },
      report);
}

std::vector<std::pair<std::string, int>> BlockProbes::loaded_programs() const { return programs_.loaded(); }

}  // namespace stallwatch::loader
