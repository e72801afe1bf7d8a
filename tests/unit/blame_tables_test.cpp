// The flush tables' arithmetic (bpf/blame_tables.h), compiled for the host:
// a flush's weight split by class, and the writes in service moving into
// the cache a flush writes out.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "blame_tables.h"

namespace {

struct Table {
  sw_blame_cache c{};
  Table() { std::memset(&c, 0, sizeof(c)); }
};

sw_blk_rq flush(__u32 weight, __u8 cls) {
  sw_blk_rq r{};
  std::memset(&r, 0, sizeof(r));
  r.op = SW_BLK_FLUSH;
  r.blame_weight = weight;
  r.blame_class = cls;
  return r;
}

__u64 sum_weights(const sw_blk_rq& r) {
  __u64 s = 0;
  for (auto w : r.blame_class_w) s += w;
  return s;
}

TEST(BlameTables, AFlushsClassesShareItsWeightByTheirBytes) {
  Table held;
  held.c.bytes = 4 << 20;
  held.c.by_class[SW_IO_USER] = 3 << 20;
  held.c.by_class[SW_IO_WRITEBACK] = 1 << 20;
  auto r = flush(1000, SW_IO_USER);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(r.blame_class_w[SW_IO_USER], 750u);
  EXPECT_EQ(r.blame_class_w[SW_IO_WRITEBACK], 250u);
  EXPECT_EQ(r.blame_class_w[SW_IO_JOURNAL], 0u);
  EXPECT_EQ(r.blame_class_w[SW_IO_KTHREAD], 0u);
}

// The state a write racing a take leaves: the classes moved hold a 1 MiB
// write the total missed. Divided by the total, the parts came to 257
// times the flush's weight, and every request's credit while it was in
// service shrank by as much: a 15 ms call's wait was nobody's.
TEST(BlameTables, AFlushsClassWeightsAddUpToItsWeightWhenTheTableDisagreesWithItself) {
  Table held;
  held.c.bytes = 4096;
  held.c.by_class[SW_IO_USER] = 4096 + (1 << 20);
  auto r = flush(1700, SW_IO_USER);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(sum_weights(r), 1700u);
  EXPECT_EQ(r.blame_class_w[SW_IO_USER], 1700u);

  held.c.bytes = 8 << 20;  // and the reverse: the total holds more
  held.c.by_class[SW_IO_USER] = 1 << 20;
  held.c.by_class[SW_IO_JOURNAL] = 1 << 20;
  r = flush(1700, SW_IO_USER);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(r.blame_class_w[SW_IO_USER], 850u);
  EXPECT_EQ(r.blame_class_w[SW_IO_JOURNAL], 850u);
}

TEST(BlameTables, TheRoundingsRestGoesToTheFlushsOwnClass) {
  Table held;
  held.c.bytes = 3 * 4096;
  held.c.by_class[SW_IO_USER] = 4096;
  held.c.by_class[SW_IO_JOURNAL] = 4096;
  held.c.by_class[SW_IO_WRITEBACK] = 4096;
  auto r = flush(1000, SW_IO_WRITEBACK);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(r.blame_class_w[SW_IO_USER], 333u);
  EXPECT_EQ(r.blame_class_w[SW_IO_JOURNAL], 333u);
  EXPECT_EQ(r.blame_class_w[SW_IO_WRITEBACK], 334u);
}

TEST(BlameTables, ATableWithNoClassBytesWeighsInTheFlushsClass) {
  Table held;
  held.c.bytes = 4096;
  held.c.by_class[SW_IO_KTHREAD] = static_cast<__u64>(-4096);  // a take-back racing the take
  auto r = flush(1000, SW_IO_JOURNAL);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(r.blame_class_w[SW_IO_JOURNAL], 1000u);
  EXPECT_EQ(sum_weights(r), 1000u);
}

TEST(BlameTables, HugeTablesDoNotOverflowTheSplit) {
  Table held;
  held.c.by_class[SW_IO_USER] = 3ULL << 60;
  held.c.by_class[SW_IO_WRITEBACK] = 1ULL << 60;
  held.c.bytes = 1ULL << 62;
  auto r = flush(0xffffff00u, SW_IO_USER);
  blame_class_weights(&r, &held.c);
  EXPECT_EQ(sum_weights(r), 0xffffff00u);
  EXPECT_EQ(r.blame_class_w[SW_IO_WRITEBACK], 0xffffff00u / 4);
}

TEST(BlameTables, ATakeMovesWhatTheTableHoldsAndLeavesNegativeCounts) {
  Table ahead, cache;
  blame_table_add(&cache.c, 7, SW_IO_USER, 4096);  // the victim's completed write
  blame_table_add(&ahead.c, 9, SW_IO_USER, 1 << 20);
  blame_table_add(&ahead.c, 9, SW_IO_USER, 1 << 20);
  blame_table_add(&ahead.c, 0, SW_IO_KTHREAD, 8192);
  blame_table_add(&ahead.c, 0, SW_IO_KTHREAD, -12288);  // taken back after a take that moved it
  blame_table_take(&cache.c, &ahead.c);

  EXPECT_EQ(cache.c.bytes, 4096u + (2 << 20) - 4096);
  EXPECT_EQ(cache.c.by_class[SW_IO_USER], 4096u + (2 << 20));
  EXPECT_EQ(cache.c.by_class[SW_IO_KTHREAD], 0u);
  ASSERT_EQ(cache.c.top[1].cgroup, 9u);
  EXPECT_EQ(cache.c.top[1].bytes, 2u << 20);
  EXPECT_EQ(ahead.c.bytes, 0u);
  EXPECT_EQ(ahead.c.by_class[SW_IO_USER], 0u);
  EXPECT_EQ(static_cast<__s64>(ahead.c.by_class[SW_IO_KTHREAD]), -4096) << "a negative count stays";
  EXPECT_EQ(ahead.c.top[0].bytes, 0u);
}

// Writes issued on one CPU while flushes take the table on another: every
// byte is in the cache or still in the table, none lost between the take's
// read and its reset.
TEST(BlameTables, WritesCountedDuringATakeAreNotLost) {
  Table ahead, cache;
  constexpr int kWrites = 400000;
  std::jthread issuer([&] {
    for (int i = 0; i < kWrites; ++i) {
      blame_table_add(&ahead.c, 9, SW_IO_USER, 4096);
      blame_table_add(&ahead.c, 5, SW_IO_KTHREAD, 512);  // issued and completed before any flush
      blame_table_add(&ahead.c, 5, SW_IO_KTHREAD, -512);
    }
  });
  std::jthread flusher([&] {
    for (int i = 0; i < kWrites / 4; ++i) blame_table_take(&cache.c, &ahead.c);
  });
  issuer.join();
  flusher.join();
  const __u64 all = static_cast<__u64>(kWrites) * 4096;
  EXPECT_EQ(cache.c.bytes + ahead.c.bytes, all);
  EXPECT_EQ(cache.c.by_class[SW_IO_USER] + ahead.c.by_class[SW_IO_USER], all);
  EXPECT_EQ(cache.c.by_class[SW_IO_KTHREAD] + ahead.c.by_class[SW_IO_KTHREAD], 0u);
  // A take-back that finds its entry moved comes off the rest: the
  // entries and the rest together still hold every byte.
  __u64 entries = cache.c.rest_bytes + ahead.c.rest_bytes;
  for (int i = 0; i < SW_CACHE_TOP; ++i) entries += cache.c.top[i].bytes + ahead.c.top[i].bytes;
  EXPECT_EQ(entries, all);
}

}  // namespace
