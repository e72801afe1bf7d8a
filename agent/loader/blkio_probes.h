#pragma once
// Owner of the block-layer programs and the ladder that picks their rung.
//
// Rungs, best first:
//   tp_btf      BTF-typed raw tracepoints on block_bio_queue, block_rq_insert,
//               block_rq_issue, block_rq_complete (5.5+)
//   raw_tp      the same events as untyped raw tracepoints
//   tracepoint  the classic block: tracepoints through tracefs; requests are
//               keyed by (device, sector) and the owning blkcg is unknown
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/blame_probes.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "stallwatch.h"

struct blkio_bpf;

namespace stallwatch::loader {

inline Result<Rung> parse_block_hook(std::string_view text) {
  return parse_rung("block", text, {Rung::kAuto, Rung::kTpBtf, Rung::kRawTp, Rung::kTracepoint, Rung::kOff});
}

struct BlockConfig {
  Rung hook = Rung::kAuto;
  std::vector<std::uint32_t> devices;  // disk dev_t include list; empty = every disk
  std::uint32_t io_entries = 4096;     // bound on (cgroup, device, op) counter series
  SharedBlameMaps blame_maps;          // from BlameProbes; unset: nothing blamed
  bool blame_owner = false;            // bi_blkg names cgroup2 cgroups: blame the owner
};

class BlockProbes {
 public:
  static Result<BlockProbes> load(const BlockConfig& config, const Result<Tracefs>& tracefs,
                                  std::vector<RungReport>& report);

  Rung rung() const { return programs_.rung(); }
  std::vector<std::pair<std::string, int>> loaded_programs() const;
  // Whether requests carry their owner (false on the classic rung).
  bool sees_owner() const { return rung() != Rung::kTracepoint; }
  int hist_fd() const;
  int io_fd() const;
  int rq_fd() const;
  // Request slots (bpf/slots.bpf.h): struct request per slot (0: free), and records.
  int rq_key_fd() const;
  int rq_slot_fd() const;
  int bio_fd() const;
  // Bio slots, the same way.
  int bio_key_fd() const;
  int bio_slot_fd() const;
  int drops_fd() const;
  int cost_stats_fd() const;
  // forget_request (blkio.bpf.c): run on demand for requests never completed.
  int forget_request_fd() const;
  // The cost model's weights for one disk (blame_block.bpf.h).
  Result<void> set_cost(std::uint32_t dev, const sw_cost& cost);

 private:
  explicit BlockProbes(Programs<blkio_bpf> programs) : programs_(std::move(programs)) {}
  static Result<BlockProbes> try_rung(Rung rung, const BlockConfig& config, const Result<Tracefs>& tracefs);

  Programs<blkio_bpf> programs_;
};

}  // namespace stallwatch::loader
