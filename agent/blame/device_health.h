#pragma once
// Whether a victim's disk is throttled by its provider: a cloud volume out
// of burst credits serves at a cap, so its throughput sits at a plateau
// below what it did before while each request takes far longer than it
// used to, with no neighbour needed. Fed once a second with the cost
// model's monotonic sums per disk (requests, pages, service time of reads
// and writes); keeps an hour of per-second rates. Pure arithmetic: no BPF.
//
// A disk is throttled when, over the last kPlateauSeconds busy seconds:
//   - its mean service time is at least kSlowdown times its baseline and
//     at least kMinServiceMs. The baseline is what a request of the
//     plateau's mean size took before: the 10th percentile of the busy
//     seconds' means, or, for larger requests, the 10th percentile of their
//     means per 4 KiB page times the plateau's pages per request, whichever
//     is more. A disk's own flood of 1 MiB writeback requests, each taking
//     8 times what a 4 KiB one did, is no cap (a QEMU disk under stress-ng
//     was judged throttled so);
//   - both its IOPS and its bytes per second are at most kBelowPeak of the
//     most it did in a busy second (a saturated disk sits at its peak;
//     a capped one below it: larger requests that raise the service time
//     also raise the bytes, and are not taken for a cap);
//   - its IOPS or its bytes per second is flat (each second within
//     kFlat of their mean). Only to become throttled: at a cap the rate
//     still wavers with the workload's own demand, and a disk stays
//     throttled while the other three hold.
// After an hour at the cap the cap is the disk's normal: the history has
// forgotten the faster disk.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace stallwatch::blame {

struct DeviceCondition {
  bool throttled = false;
  double iops = 0;  // mean over the last busy seconds
  double bytes_per_s = 0;
  double service_ms = 0;   // mean per request, over the same seconds
  double baseline_ms = 0;  // what a request of the plateau's mean size took before, learnt
  double peak_iops = 0;    // the most in one busy second of the history
  double peak_bytes_per_s = 0;
};

class DeviceHealth {
 public:
  static constexpr std::uint64_t kMinRequests = 5;  // a second with fewer is idle
  static constexpr std::size_t kMinHistory = 5;     // busy seconds before any verdict
  static constexpr std::size_t kPlateauSeconds = 3;
  // A cap at a few hundred IOPS makes each request 10 to 100 times slower;
  // a host short of CPU slowed an emulated disk 4 times (QEMU under
  // stress-ng), and that is no cap.
  static constexpr double kSlowdown = 8;
  static constexpr double kMinServiceMs = 2;
  static constexpr double kBelowPeak = 0.7;
  static constexpr double kFlat = 0.25;
  static constexpr std::size_t kHistory = 3600;
  static constexpr int kStaleSeconds = 10;  // idle this long: no longer judged throttled

  // The sums for one disk at t (monotonic): requests, 4 KiB pages and
  // service time in us, each counted since the program loaded. changed is
  // called when the disk becomes throttled or stops being, before anyone
  // can read the new judgement: what it writes comes before what they do.
  using Changed = std::function<void(std::uint32_t dev, const DeviceCondition&)>;
  void observe(std::uint32_t dev, std::chrono::nanoseconds t, std::uint64_t requests, std::uint64_t pages,
               std::uint64_t service_us, const Changed& changed = {});

  // The latest judgement; absent until the disk has kMinHistory busy seconds.
  std::optional<DeviceCondition> condition(std::uint32_t dev) const;
  std::map<std::uint32_t, DeviceCondition> conditions() const;

 private:
  struct Second {
    double iops, bytes_per_s, service_ms;
    // A busy second has requests (kMinRequests), so iops > 0.
    double pages_per_request() const { return std::max(1.0, bytes_per_s / 4096 / iops); }
  };
  struct Disk {
    std::chrono::nanoseconds t{};
    std::uint64_t requests = 0, pages = 0, service_us = 0;
    bool primed = false;
    int idle = 0;             // idle seconds since the last busy one
    std::deque<Second> busy;  // busy seconds, oldest first
    std::optional<DeviceCondition> judged;
    bool reported = false;  // throttled, as changed was last told
  };
  static std::optional<DeviceCondition> judge(const std::deque<Second>& busy, bool was_throttled);

  mutable std::mutex mu_;
  std::map<std::uint32_t, Disk> disks_;
};

}  // namespace stallwatch::blame
