#pragma once
// Immutable values read from the kernel maps; what exporters see.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stallwatch.h"

namespace stallwatch::reader {

// Upper bounds of the histogram buckets in seconds, +Inf excluded.
std::array<double, SW_HIST_BUCKETS - 1> bucket_bounds_seconds();

struct Histogram {
  std::array<std::uint64_t, SW_HIST_BUCKETS> buckets{};  // per bucket, not cumulative
  std::uint64_t sum_ns = 0;

  std::uint64_t count() const;
  Histogram& operator+=(const Histogram& other);
};

// Sums copies of one map value: per CPU, or one per entry (a span of one).
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
  std::uint64_t block_stale_requests = 0;  // swept by user space, never completed
  bool cgroup_events = false;              // cgroup mkdir/rmdir traced
  bool blame = false;                      // blame engine on
  std::vector<BlameSeries> blame_series;
  bool probes = false;  // probe tracing on
  std::vector<ProbeSeries> probe_series;
  // Runs the kernel skipped because another BPF program was running on the
  // CPU (bpf_prog_info.recursion_misses, 5.12+), by program name.
  std::vector<std::pair<std::string, std::uint64_t>> recursion_misses;
};

}  // namespace stallwatch::reader
