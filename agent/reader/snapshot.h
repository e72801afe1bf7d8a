#pragma once
// Immutable values read from the kernel maps; what exporters see.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stallwatch.h"

namespace stallwatch::reader {

static_assert(sizeof(sw_fsync_key) == 16, "sw_fsync_key layout is ABI with fsync.bpf.c");
static_assert(sizeof(sw_hist) == 8 * (SW_HIST_BUCKETS + 1), "sw_hist layout is ABI");
static_assert(sizeof(sw_fsync_start) == 32, "sw_fsync_start layout is ABI");
static_assert(sizeof(sw_blk_hist_key) == 8, "sw_blk_hist_key layout is ABI with blkio.bpf.c");
static_assert(sizeof(sw_blk_io_key) == 32, "sw_blk_io_key layout is ABI");
static_assert(sizeof(sw_blk_io) == 40, "sw_blk_io layout is ABI");
static_assert(sizeof(sw_blk_rq) == 88, "sw_blk_rq layout is ABI");
static_assert(sizeof(sw_blk_bio) == 24, "sw_blk_bio layout is ABI");
static_assert(sizeof(sw_blk_sector_key) == 16, "sw_blk_sector_key layout is ABI");
static_assert(sizeof(sw_blame_key) == 24, "sw_blame_key layout is ABI with blame.bpf.h");
static_assert(sizeof(sw_blame_val) == 16, "sw_blame_val layout is ABI");
static_assert(sizeof(sw_blame_culprit) == 40, "sw_blame_culprit layout is ABI");
static_assert(sizeof(sw_probe_key) == 32, "sw_probe_key layout is ABI with probe.bpf.c");
static_assert(sizeof(sw_probe_hist) == 8 * (SW_PROBE_BUCKETS + 1), "sw_probe_hist layout is ABI");

// Upper bounds of the histogram buckets in seconds, +Inf excluded.
std::array<double, SW_HIST_BUCKETS - 1> bucket_bounds_seconds();

struct Histogram {
  std::array<std::uint64_t, SW_HIST_BUCKETS> buckets{};  // per bucket, not cumulative
  std::uint64_t sum_ns = 0;

  std::uint64_t count() const;
  Histogram& operator+=(const Histogram& other);
};

// Sums the per-CPU copies of one map value.
Histogram merge_percpu(std::span<const sw_hist> per_cpu);
sw_blk_io merge_percpu(std::span<const sw_blk_io> per_cpu);
sw_blame_val merge_percpu(std::span<const sw_blame_val> per_cpu);
sw_probe_hist merge_percpu(std::span<const sw_probe_hist> per_cpu);

struct FsyncSeries {
  std::uint64_t cgroup_id = 0;
  std::uint32_t dev = 0;  // kernel dev_t: major << 20 | minor
  std::uint32_t op = 0;   // enum sw_fsync_op
  Histogram hist;
  std::uint32_t file_class = SW_FILE_OTHER;
};

struct BlockHistSeries {
  std::uint32_t dev = 0;
  std::uint8_t op = 0;     // enum sw_blk_op
  std::uint8_t phase = 0;  // enum sw_blk_phase
  Histogram hist;
};

struct BlockIoSeries {
  sw_blk_io_key key{};
  sw_blk_io io{};
};

struct BlameSeries {
  sw_blame_key key{};
  sw_blame_val val{};
};

struct ProbeSeries {
  sw_probe_key key{};
  sw_probe_hist hist{};
};

struct Snapshot {
  std::vector<FsyncSeries> fsync;
  bool block = false;  // block subsystem on
  std::vector<BlockHistSeries> block_hist;
  std::vector<BlockIoSeries> block_io;
  std::uint64_t block_inflight_requests = 0;  // entries in blk_rq
  std::uint64_t block_pending_bios = 0;       // entries in blk_bio
  std::array<std::uint64_t, SW_DROP__COUNT> drops{};
  std::uint64_t block_stale_requests = 0;     // swept by user space, never completed
  bool cgroup_events = false;                 // cgroup mkdir/rmdir traced
  bool blame = false;                         // blame engine on
  std::vector<BlameSeries> blame_series;
  bool probes = false;                        // probe tracing on
  std::vector<ProbeSeries> probe_series;
};

// The `op` label of an enum sw_fsync_op value ("op_<n>" for one this build
// does not know, so a newer kernel side never makes a series vanish).
std::string fsync_op_name(std::uint32_t op);
std::string block_op_name(std::uint32_t op);
std::string file_class_name(std::uint32_t file_class);
std::string block_phase_name(std::uint32_t phase);
std::string submitter_kind_name(std::uint32_t kind);
std::string probe_type_name(std::uint32_t type);
std::string probe_result_name(std::uint32_t result);

struct DropName {
  const char* source;
  const char* reason;
};
DropName drop_name(std::uint32_t drop);

}  // namespace stallwatch::reader
