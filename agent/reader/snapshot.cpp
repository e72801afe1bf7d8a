#include "reader/snapshot.h"

namespace stallwatch::reader {

std::array<double, SW_HIST_BUCKETS - 1> bucket_bounds_seconds() {
  std::array<double, SW_HIST_BUCKETS - 1> bounds{50e-6, 100e-6, 250e-6, 500e-6};
  for (int n = 0; n < SW_HIST_EXP_BUCKETS; ++n) {
    bounds[SW_HIST_SUBMS_BUCKETS + n] = 0.001 * static_cast<double>(1ULL << n);
  }
  return bounds;
}

std::uint64_t Histogram::count() const {
  std::uint64_t total = 0;
  for (auto b : buckets) total += b;
  return total;
}

Histogram& Histogram::operator+=(const Histogram& other) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  sum_ns += other.sum_ns;
  return *this;
}

sw_probe_hist merge_percpu(std::span<const sw_probe_hist> per_cpu) {
  sw_probe_hist total{};
  for (const auto& h : per_cpu) {
    for (std::size_t i = 0; i < SW_PROBE_BUCKETS; ++i) total.buckets[i] += h.buckets[i];
    total.sum_ns += h.sum_ns;
  }
  return total;
}

sw_blame_val merge_percpu(std::span<const sw_blame_val> per_cpu) {
  sw_blame_val total{};
  for (const auto& v : per_cpu) {
    total.ns += v.ns;
    total.count += v.count;
  }
  return total;
}

Histogram merge_percpu(std::span<const sw_hist> per_cpu) {
  Histogram out;
  for (const sw_hist& h : per_cpu) {
    for (std::size_t i = 0; i < out.buckets.size(); ++i) out.buckets[i] += h.buckets[i];
    out.sum_ns += h.sum_ns;
  }
  return out;
}

sw_blk_io merge_percpu(std::span<const sw_blk_io> per_cpu) {
  sw_blk_io out{};
  for (const sw_blk_io& v : per_cpu) {
    out.requests += v.requests;
    out.bytes += v.bytes;
    out.busy_ns += v.busy_ns;
    out.preflush += v.preflush;
    out.fua += v.fua;
  }
  return out;
}

}  // namespace stallwatch::reader
