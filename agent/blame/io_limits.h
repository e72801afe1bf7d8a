#pragma once
// Whether a victim is held by a cgroup I/O limit on a disk: blk-throttle's
// io.max (cgroup v2) or blkio.throttle.*_device (v1), set on the victim's
// cgroup or on an ancestor. Such a limit holds bios before the disk sees
// them, so the victim waits with nothing of its own in service: the blame
// windows call that `device`, and only the limit explains it.
//
// A limit binds when the cgroup it is set on did at least kBinding of it in
// the last second, by the kernel's own counters there (io.stat; v1:
// blkio.throttle.io_serviced_recursive and io_service_bytes_recursive). A
// limit far above what the cgroup does explains nothing.
//
// iocost (io.cost.qos enabled on the disk) holds a cgroup's bios while it is
// over its weighted share of the device. It binds when the cgroup's bios
// waited at least kIocostWaitBinding of the last second (io.stat's cost.wait
// and cost.indelay, which the kernel prints only with
// /sys/module/blk_cgroup/parameters/blkcg_debug_stats on; without them an
// iocost hold is not told).
//
// Victims are named by their cgroup2 path; on a hybrid host their blkio
// path is read from /proc/PID/cgroup of a process in the cgroup.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace stallwatch::blame {

enum class IoLimitKind { kReadBps, kWriteBps, kReadIops, kWriteIops, kIocost };

// One io.max or blkio.throttle line's limits for one disk, as set.
struct IoLimitSetting {
  std::uint32_t dev = 0;  // kernel dev_t: major << 20 | minor
  IoLimitKind kind{};
  std::uint64_t value = 0;  // kIocost: the cgroup's io.weight on the disk
};

// The kernel's counters for one disk in a cgroup: bytes and I/Os, read and write.
struct IoCounters {
  std::uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0;
  std::optional<std::uint64_t> cost_wait_us;  // iocost's cost.wait + cost.indelay, where printed
};

std::vector<IoLimitSetting> parse_io_max(const std::string& text);
std::map<std::uint32_t, IoCounters> parse_io_stat(const std::string& text);
// io.cost.qos: the disks iocost is enabled on.
std::set<std::uint32_t> parse_iocost_enabled(const std::string& text);
// io.weight ("default 100" and "MAJ:MIN W" lines): the weight on disk.
std::uint64_t parse_io_weight(const std::string& text, std::uint32_t disk);
// blkio.throttle.{read,write}_{bps,iops}_device: "MAJ:MIN VALUE" lines.
std::vector<IoLimitSetting> parse_v1_limit(const std::string& text, IoLimitKind kind);
// blkio.throttle.io_serviced_recursive (ios) or io_service_bytes_recursive
// (bytes): "MAJ:MIN Read N" lines, into counters.
void parse_v1_counters(const std::string& text, bool bytes, std::map<std::uint32_t, IoCounters>& out);

struct IoLimit {
  std::string cgroup;   // where it is set: "/kubepods/burstable" (its hierarchy's path)
  std::string setting;  // as io.max writes it: "wiops=20"; iocost: "iocost weight=100"
  double rate = 0;      // what that cgroup did in the last second, in the setting's unit; iocost: seconds waited per second
  bool binding = false;
};

class IoLimits {
 public:
  static constexpr double kBinding = 0.8;
  static constexpr double kIocostWaitBinding = 0.1;
  static constexpr auto kForget = std::chrono::minutes(5);  // a victim path not asked for this long

  // Roots: the cgroup2 mount, the v1 blkio mount ("" when none), /proc.
  IoLimits(std::string cgroup2_root, std::string blkio_root, std::string proc_root = "/proc");

  // Once a second: re-reads the limits and counters of the victims' cgroups
  // (these, and every path limit() was asked about lately) and their ancestors.
  void refresh(const std::vector<std::string>& victim_paths, std::chrono::nanoseconds now);

  // The limit on disk that binds the victim most (the largest rate/limit),
  // or the first that does not bind; none: no limit anywhere above it.
  std::optional<IoLimit> limit(const std::string& victim_path, std::uint32_t disk);

 private:
  struct Level {
    std::string key;  // "/a/b" (cgroup2) or "blkio:/a/b" (v1)
    std::vector<IoLimitSetting> limits;
    std::map<std::uint32_t, IoCounters> counters;
    std::chrono::nanoseconds at{};
    std::map<std::uint32_t, std::array<double, 5>> rate;  // per IoLimitKind, over the last interval
  };
  // The victim's cgroup and its ancestors, nearest first, in both hierarchies.
  std::vector<std::string> level_keys(const std::string& victim_path) const;
  Level read_level(const std::string& key, const std::set<std::uint32_t>& iocost) const;

  std::string cgroup2_root_, blkio_root_, proc_root_;
  std::mutex mu_;
  std::map<std::string, std::chrono::nanoseconds> asked_;  // victim path -> last asked
  std::map<std::string, std::vector<std::string>> levels_of_;  // victim path -> level keys, nearest first
  std::map<std::string, Level> levels_;                         // by key
  std::chrono::nanoseconds now_{};
};

}  // namespace stallwatch::blame
