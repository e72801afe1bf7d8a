#include "loader/blkio_probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "blkio.skel.h"

namespace stallwatch::loader {

void BlkioSkeletonDeleter::operator()(blkio_bpf* skel) const { blkio_bpf__destroy(skel); }

Result<BlockHook> parse_block_hook(std::string_view text) {
  if (text == "auto") return BlockHook::kAuto;
  if (text == "tp_btf") return BlockHook::kTpBtf;
  if (text == "raw_tp") return BlockHook::kRawTp;
  if (text == "tracepoint") return BlockHook::kTracepoint;
  if (text == "off") return BlockHook::kOff;
  return fail("unknown block hook '" + std::string(text) +
              "' (expected auto, tp_btf, raw_tp, tracepoint or off)");
}

std::string_view to_string(BlockHook hook) {
  switch (hook) {
    case BlockHook::kAuto: return "auto";
    case BlockHook::kTpBtf: return "tp_btf";
    case BlockHook::kRawTp: return "raw_tp";
    case BlockHook::kTracepoint: return "tracepoint";
    case BlockHook::kOff: return "off";
  }
  return "auto";
}

namespace {

// Whether block_rq_insert is still (q, rq): the kernel's BTF typedef
// btf_trace_block_rq_insert is then a pointer to a 3-parameter prototype
// (the leading void * included), 2 since the queue argument went away.
bool block_events_take_queue() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool queue = false;
  const int id = btf__find_by_name_kind(vmlinux, "btf_trace_block_rq_insert", BTF_KIND_TYPEDEF);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);  // pointer
    if (t && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);                      // prototype
    queue = t && btf_is_func_proto(t) && btf_vlen(t) == 3;
  }
  btf__free(vmlinux);
  return queue;
}

}  // namespace

int BlockProbes::hist_fd() const { return bpf_map__fd(skel_->maps.blk_hist); }
int BlockProbes::io_fd() const { return bpf_map__fd(skel_->maps.blk_io); }
int BlockProbes::rq_fd() const { return bpf_map__fd(skel_->maps.blk_rq); }
int BlockProbes::bio_fd() const { return bpf_map__fd(skel_->maps.blk_bio); }
int BlockProbes::drops_fd() const { return bpf_map__fd(skel_->maps.drops); }

Result<BlockProbes> BlockProbes::try_rung(BlockHook rung, const BlockConfig& config,
                                          const Result<Tracefs>& tracefs) {
  if (rung == BlockHook::kTracepoint) {
    if (!tracefs) return fail(tracefs.error().message);
    if (!tracepoint_exists(*tracefs, "block", "block_rq_issue")) {
      return fail("tracefs has no block/block_rq_issue");
    }
  }
  BlockProbes probes;
  probes.skel_.reset(blkio_bpf__open());
  if (!probes.skel_) return fail("open block BPF object: " + errno_text(errno));
  auto& skel = *probes.skel_;

  const struct {
    bpf_program* prog;
    BlockHook rung;
  } programs[] = {
      {skel.progs.block_bio_queue_btf, BlockHook::kTpBtf},
      {skel.progs.block_bio_backmerge_btf, BlockHook::kTpBtf},
      {skel.progs.block_bio_frontmerge_btf, BlockHook::kTpBtf},
      {skel.progs.block_rq_insert_btf, BlockHook::kTpBtf},
      {skel.progs.block_rq_issue_btf, BlockHook::kTpBtf},
      {skel.progs.block_rq_requeue_btf, BlockHook::kTpBtf},
      {skel.progs.block_rq_complete_btf, BlockHook::kTpBtf},
      {skel.progs.block_bio_queue_raw, BlockHook::kRawTp},
      {skel.progs.block_bio_backmerge_raw, BlockHook::kRawTp},
      {skel.progs.block_bio_frontmerge_raw, BlockHook::kRawTp},
      {skel.progs.block_rq_insert_raw, BlockHook::kRawTp},
      {skel.progs.block_rq_issue_raw, BlockHook::kRawTp},
      {skel.progs.block_rq_requeue_raw, BlockHook::kRawTp},
      {skel.progs.block_rq_complete_raw, BlockHook::kRawTp},
      {skel.progs.block_bio_queue_tp, BlockHook::kTracepoint},
      {skel.progs.block_bio_backmerge_tp, BlockHook::kTracepoint},
      {skel.progs.block_bio_frontmerge_tp, BlockHook::kTracepoint},
      {skel.progs.block_rq_insert_tp, BlockHook::kTracepoint},
      {skel.progs.block_rq_issue_tp, BlockHook::kTracepoint},
      {skel.progs.block_rq_requeue_tp, BlockHook::kTracepoint},
      {skel.progs.block_rq_complete_tp, BlockHook::kTracepoint},
  };
  for (const auto& p : programs) bpf_program__set_autoload(p.prog, p.rung == rung);

  skel.rodata->cfg_filter_devices = !config.devices.empty();
  skel.rodata->cfg_queue_arg = block_events_take_queue();
  skel.rodata->cfg_blame_owner = config.blame_owner;
  if (auto shared = reuse_blame_maps(skel.obj, config.blame_maps); !shared) {
    return std::unexpected(shared.error());
  }
  if (int err = bpf_map__set_max_entries(skel.maps.blk_io, config.io_entries); err) {
    return fail("size blk_io: " + errno_text(err));
  }
  if (int err = blkio_bpf__load(&skel); err) {
    return fail("load " + std::string(to_string(rung)) + " programs: " + errno_text(err));
  }
  const std::uint8_t one = 1;
  for (std::uint32_t dev : config.devices) {
    if (bpf_map_update_elem(bpf_map__fd(skel.maps.blk_devices), &dev, &one, BPF_ANY) != 0) {
      return fail("fill the --devices filter: " + errno_text(errno));
    }
  }
  auto links = attach_all(skel.obj);
  if (!links) return fail(links.error().message);
  probes.links_ = std::move(*links);
  probes.mode_ = std::string(to_string(rung));
  return probes;
}

Result<BlockProbes> BlockProbes::load(const BlockConfig& config, const Result<Tracefs>& tracefs,
                                      std::vector<RungReport>& report) {
  std::vector<Rung<BlockProbes>> ladder;
  for (BlockHook hook : {BlockHook::kTpBtf, BlockHook::kRawTp, BlockHook::kTracepoint}) {
    if (config.hook != BlockHook::kAuto && config.hook != hook) continue;
    ladder.push_back({std::string(to_string(hook)),
                      [&, hook] { return try_rung(hook, config, tracefs); }});
  }
  return climb<BlockProbes>(
      "block", ladder, config.hook != BlockHook::kAuto,
      [](const BlockProbes& p) {
        return std::string(p.sees_owner() ? "requests carry owner and submitter"
                                          : "requests carry the submitter only");
      },
      report);
}

}  // namespace stallwatch::loader
