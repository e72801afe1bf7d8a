#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "reader/snapshot.h"
#include "stallwatch.h"

namespace {

// Upper bounds in ns, the same list DESIGN.md gives: 50/100/250/500 us, then
// 1 ms * 2^n for n = 0..13.
std::vector<std::uint64_t> bounds_ns() {
  std::vector<std::uint64_t> b = {50'000, 100'000, 250'000, 500'000};
  for (int n = 0; n < 14; ++n) b.push_back(1'000'000ULL << n);
  return b;
}

TEST(BucketIndex, EveryBoundaryIsInclusive) {
  const auto b = bounds_ns();
  ASSERT_EQ(b.size() + 1, static_cast<size_t>(SW_HIST_BUCKETS));
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(sw_bucket_index(b[i]), i) << "at " << b[i] << " ns";
    EXPECT_EQ(sw_bucket_index(b[i] - 1), i) << "at " << b[i] - 1 << " ns";
    EXPECT_EQ(sw_bucket_index(b[i] + 1), i + 1) << "at " << b[i] + 1 << " ns";
  }
}

TEST(BucketIndex, ExtremesLandInFirstAndInfBuckets) {
  EXPECT_EQ(sw_bucket_index(0), 0U);
  EXPECT_EQ(sw_bucket_index(8'192'000'001ULL), SW_HIST_BUCKETS - 1U);
  EXPECT_EQ(sw_bucket_index(std::numeric_limits<std::uint64_t>::max()), SW_HIST_BUCKETS - 1U);
}

TEST(BucketIndex, ExportedBoundsMatchKernelBounds) {
  const auto ns = bounds_ns();
  const auto s = stallwatch::reader::bucket_bounds_seconds();
  ASSERT_EQ(s.size(), ns.size());
  for (size_t i = 0; i < ns.size(); ++i) EXPECT_DOUBLE_EQ(s[i], static_cast<double>(ns[i]) / 1e9);
  // etcd's ExponentialBuckets(0.001, 2, 14) end at 8.192 s.
  EXPECT_DOUBLE_EQ(s.back(), 8.192);
}

}  // namespace
