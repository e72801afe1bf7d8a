#include <gtest/gtest.h>

#include <vector>

#include "reader/snapshot.h"

namespace {

TEST(PercpuMerge, SumsEveryBucketAndTheSum) {
  std::vector<sw_hist> cpus(3);
  for (size_t c = 0; c < cpus.size(); ++c) {
    for (int b = 0; b < SW_HIST_BUCKETS; ++b) cpus[c].buckets[b] = (c + 1) * 100 + b;
    cpus[c].sum_ns = 1'000'000'000ULL * (c + 1);
  }
  const auto merged = stallwatch::reader::merge_percpu(cpus);
  for (int b = 0; b < SW_HIST_BUCKETS; ++b) EXPECT_EQ(merged.buckets[b], 600U + 3U * b);
  EXPECT_EQ(merged.sum_ns, 6'000'000'000ULL);
  EXPECT_EQ(merged.count(), 600U * SW_HIST_BUCKETS + 3U * (SW_HIST_BUCKETS * (SW_HIST_BUCKETS - 1) / 2));
}

TEST(PercpuMerge, EmptyCpusAddNothing) {
  std::vector<sw_hist> cpus(4);
  cpus[2].buckets[5] = 7;
  cpus[2].sum_ns = 42;
  const auto merged = stallwatch::reader::merge_percpu(cpus);
  EXPECT_EQ(merged.count(), 7U);
  EXPECT_EQ(merged.buckets[5], 7U);
  EXPECT_EQ(merged.sum_ns, 42U);
}

}  // namespace
