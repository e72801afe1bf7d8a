#pragma once
// The per-device cost model the blame engine weighs requests with:
// blk-iocost's linear one, service time = base + per_page x size in 4 KiB
// pages, for reads, writes and flushes apart (a flush's size is what the
// device's cache held). The kernel adds up (x pages, y us) of every request
// completed on a victim's disk; this fits a least-squares line to what came
// in since the last fit, smooths it (each fit moves the coefficients 30% of
// the way), and gives the kernel the weights. Pure arithmetic: no BPF.
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "stallwatch.h"

namespace stallwatch::blame {

struct CostFit {
  double base_us = 0;
  double per_page_us = 0;
  std::uint64_t samples = 0;  // requests the coefficients were fitted on, in all
};

class CostModel {
 public:
  // Fewer new requests than this since the last fit: keep the coefficients.
  static constexpr std::uint64_t kMinSamples = 16;

  // The sums for (dev, op) as the kernel has them now (monotonic).
  void observe(std::uint32_t dev, std::uint32_t op, const sw_cost_stats& now);

  // The coefficients for dev in the kernel's units; defaults where nothing was fitted yet.
  sw_cost weights(std::uint32_t dev) const;
  // Fitted coefficients, for the metrics and the log; absent: not fitted yet.
  const std::map<std::pair<std::uint32_t, std::uint32_t>, CostFit>& fits() const { return fits_; }
  std::vector<std::uint32_t> devices() const;

 private:
  std::map<std::pair<std::uint32_t, std::uint32_t>, sw_cost_stats> last_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, CostFit> fits_;
};

}  // namespace stallwatch::blame
