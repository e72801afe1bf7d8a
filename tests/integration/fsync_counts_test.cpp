// Real programs on the live kernel: a helper in a cgroup of its own makes an
// exact number of calls, the agent's /metrics must show exactly that.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

constexpr const char* kHist = "stallwatch_fsync_duration_seconds";

std::string it_unique(const std::string& stem) { return "stallwatch-it-" + stem + "-" + std::to_string(getpid()); }

struct Expect {
  std::string cgroup, device, op;
  OpTotals helper;
};

class FsyncCounts : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    agent_ = std::make_unique<Agent>();
    ASSERT_TRUE(agent_->wait_ready()) << agent_->log();
  }

  Exposition scrape() { return scrape_metrics(agent_->port()); }

  static void check(const Exposition& m, const Expect& e, bool sum_within_5pct) {
    const Labels l = {{"cgroup", e.cgroup}, {"device", e.device}, {"op", e.op}};
    const auto count = m.value(std::string(kHist) + "_count", l);
    ASSERT_TRUE(count.has_value()) << "no series for " << e.cgroup << " " << e.device << " " << e.op;
    EXPECT_EQ(*count, e.helper.count) << e.cgroup << " " << e.device << " " << e.op;
    const double sum = *m.value(std::string(kHist) + "_sum", l);
    const double helper = static_cast<double>(e.helper.total_ns) / 1e9;
    // The kernel's window (syscall entry to exit) lies inside the helper's.
    EXPECT_LE(sum, helper) << e.op;
    if (sum_within_5pct) {
      EXPECT_NEAR(sum, helper, 0.05 * helper) << e.op << " on " << e.device;
    }
    const auto inf = m.value(std::string(kHist) + "_bucket", [&] {
      Labels with = l;
      with["le"] = "+Inf";
      return with;
    }());
    EXPECT_EQ(inf, count);
  }

  std::unique_ptr<Agent> agent_;
};

TEST_F(FsyncCounts, ExactPerCgroupOpAndDeviceOnTmpfsAndExt4) {
  Tmpfs tmpfs;
  LoopFs ext4;
  TestCgroup a(it_unique("a")), b(it_unique("b"));

  // Distinct counts everywhere, so a series landing in the wrong place shows.
  auto a_ext4 = run_fsync_helper(a.dir(), ext4.path(),
                                 {"--fsync", "7", "--fdatasync", "5", "--sync-file-range", "3", "--msync", "4",
                                  "--msync-async", "6", "--syncfs", "2"});
  auto a_tmp = run_fsync_helper(a.dir(), tmpfs.path(), {"--fsync", "9", "--fdatasync", "8"});
  auto b_ext4 =
      run_fsync_helper(b.dir(), ext4.path(), {"--fsync", "11", "--fdatasync", "13", "--sync-file-range", "2"});
  auto b_tmp = run_fsync_helper(b.dir(), tmpfs.path(), {"--fsync", "4", "--sync-file-range", "6", "--msync", "3"});

  const Exposition m = scrape();
  for (const char* op : {"fsync", "fdatasync", "sync_file_range", "msync", "syncfs"}) {
    check(m, {a.rel(), ext4.label(), op, a_ext4[op]}, true);
  }
  for (const char* op : {"fsync", "fdatasync"}) check(m, {a.rel(), tmpfs.label(), op, a_tmp[op]}, false);
  for (const char* op : {"fsync", "fdatasync", "sync_file_range"}) {
    check(m, {b.rel(), ext4.label(), op, b_ext4[op]}, true);
  }
  for (const char* op : {"fsync", "sync_file_range", "msync"}) {
    check(m, {b.rel(), tmpfs.label(), op, b_tmp[op]}, false);
  }
  // Absent where nothing happened: msync(MS_ASYNC) does not wait, b never syncfs'd.
  EXPECT_FALSE(
      m.value(std::string(kHist) + "_count", {{"cgroup", b.rel()}, {"device", ext4.label()}, {"op", "syncfs"}}));
  EXPECT_FALSE(
      m.value(std::string(kHist) + "_count", {{"cgroup", a.rel()}, {"device", tmpfs.label()}, {"op", "msync"}}));
  EXPECT_EQ(m.all(std::string(kHist) + "_count", {{"cgroup", a.rel()}}).size(), 7U);
  EXPECT_EQ(m.all(std::string(kHist) + "_count", {{"cgroup", b.rel()}}).size(), 6U);
}

TEST_F(FsyncCounts, IoUringFsyncAndSyncFileRange) {
  LoopFs ext4;
  TestCgroup c(it_unique("uring"));
  auto r = run_fsync_helper(c.dir(), ext4.path(), {"--uring-fsync", "9", "--uring-sync-file-range", "5"});
  const Exposition m = scrape();
  // The kernel times io_uring from submission to completion; the helper also
  // waits for the scheduler to wake it after the completion is posted, a
  // gap that can reach 10% on a busy 2-core machine. Sum ≤ helper's holds.
  check(m, {c.rel(), ext4.label(), "io_uring_fsync", r["io_uring_fsync"]}, false);
  check(m, {c.rel(), ext4.label(), "io_uring_sync_file_range", r["io_uring_sync_file_range"]}, false);
  EXPECT_EQ(m.value("stallwatch_hook_info", {{"subsystem", "fsync_io_uring"}, {"mode", "tracepoint"}}), 1.0);
}

TEST_F(FsyncCounts, RepeatedScrapesOnlyGrow) {
  Tmpfs tmpfs;
  TestCgroup c(it_unique("grow"));
  const Labels l = {{"cgroup", c.rel()}, {"device", tmpfs.label()}, {"op", "fdatasync"}};
  run_fsync_helper(c.dir(), tmpfs.path(), {"--fdatasync", "3"});
  EXPECT_EQ(scrape().value(std::string(kHist) + "_count", l), 3.0);
  run_fsync_helper(c.dir(), tmpfs.path(), {"--fdatasync", "4"});
  EXPECT_EQ(scrape().value(std::string(kHist) + "_count", l), 7.0);
}

// Every thread that syncs gets its own state (task storage where the
// kernel allows it, else a hash by thread id), made at its first call and
// gone when it exits: 240 processes, 8 at a time, each a new thread, each
// counted to the call.
TEST_F(FsyncCounts, ManyShortLivedThreadsSyncingAtOnceAreEachCounted) {
  Tmpfs tmpfs;
  TestCgroup c(it_unique("threads"));
  constexpr int kWorkers = 8, kEach = 30, kCalls = 3;
  // Eight shell loops at once, each running the helper 30 times in turn.
  const std::string one = fsync_helper() + " " + tmpfs.path() + " --fdatasync " + std::to_string(kCalls);
  const std::string script = "for w in $(seq " + std::to_string(kWorkers) + "); do (for i in $(seq " +
                             std::to_string(kEach) + "); do " + one + " || exit 1; done) & done; wait";
  const Completed run = run_command({"/bin/sh", "-c", script}, c.dir());
  ASSERT_EQ(run.exit.code, 0) << run.err;
  std::istringstream out(run.out);
  std::string op;
  int count = 0, made = 0, lines = 0;
  unsigned long long ns = 0;
  while (out >> op >> count >> ns) {
    ASSERT_EQ(op, "fdatasync");
    made += count;
    ++lines;
  }
  ASSERT_EQ(lines, kWorkers * kEach) << run.err;
  ASSERT_EQ(made, kWorkers * kEach * kCalls);
  const Labels l = {{"cgroup", c.rel()}, {"device", tmpfs.label()}, {"op", "fdatasync"}};
  const Exposition m = scrape();
  EXPECT_EQ(m.value(std::string(kHist) + "_count", l), static_cast<double>(made));
  EXPECT_EQ(m.value("stallwatch_events_lost_total", {{"source", "fsync"}, {"reason", "inflight_map_full"}}), 0.0);
}

TEST(FsyncMapBound, SeriesPastTheBoundAreCountedAsLost) {
  SW_REQUIRE_ROOT();
  Agent agent({"--fsync-map-entries=2"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  Tmpfs tmpfs;
  TestCgroup a(it_unique("bound-a")), b(it_unique("bound-b")), c(it_unique("bound-c"));
  for (const auto* cg : {&a, &b, &c}) run_fsync_helper(cg->dir(), tmpfs.path(), {"--fsync", "4"});

  const Exposition m = scrape_metrics(agent.port());
  const auto series = m.all(std::string(kHist) + "_count");
  EXPECT_LE(series.size(), 2U);
  double ours_recorded = 0;
  for (const auto* cg : {&a, &b, &c}) {
    const auto v = m.value(std::string(kHist) + "_count", {{"cgroup", cg->rel()}});
    if (v) {
      EXPECT_EQ(*v, 4.0) << cg->rel();  // a series is whole or absent, never partial
      ours_recorded += *v;
    }
  }
  const double lost = *m.value("stallwatch_events_lost_total", {{"reason", "histogram_map_full"}});
  // At least one of the three cgroups found no room; every one of its calls was counted.
  EXPECT_LE(ours_recorded, 8.0);
  EXPECT_GE(lost, 12.0 - ours_recorded);
}

}  // namespace
}  // namespace stallwatch::test
