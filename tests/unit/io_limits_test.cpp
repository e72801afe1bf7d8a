// cgroup I/O limits: io.max and blkio.throttle files as the kernel writes
// them, and whether a limit binds, on a tree of files standing in for the
// cgroup mounts and /proc.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "blame/io_limits.h"

namespace {

using namespace stallwatch::blame;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint32_t kSdb = 8u << 20 | 16;

TEST(IoLimits, ParsesIoMaxSkippingMax) {
  const auto l = parse_io_max("8:16 rbps=max wbps=1048576 riops=max wiops=120\n259:0 rbps=max wbps=max riops=50 wiops=max\n");
  ASSERT_EQ(l.size(), 3U);
  EXPECT_EQ(l[0].dev, kSdb);
  EXPECT_EQ(l[0].kind, IoLimitKind::kWriteBps);
  EXPECT_EQ(l[0].value, 1048576U);
  EXPECT_EQ(l[1].kind, IoLimitKind::kWriteIops);
  EXPECT_EQ(l[1].value, 120U);
  EXPECT_EQ(l[2].dev, 259u << 20);
  EXPECT_EQ(l[2].kind, IoLimitKind::kReadIops);
  EXPECT_TRUE(parse_io_max("").empty());
  EXPECT_TRUE(parse_io_max("garbage\n8:x wiops=3\n").empty());
}

TEST(IoLimits, ParsesIoStatWithExtraKeys) {
  const auto s = parse_io_stat(
      "8:16 rbytes=4096 wbytes=819200 rios=1 wios=200 dbytes=0 dios=0 cost.vrate=100.00 cost.usage=3\n"
      "7:0 rbytes=0 wbytes=4096 rios=0 wios=1 dbytes=0 dios=0\n");
  ASSERT_EQ(s.count(kSdb), 1U);
  EXPECT_EQ(s.at(kSdb).wbytes, 819200U);
  EXPECT_EQ(s.at(kSdb).wios, 200U);
  EXPECT_EQ(s.at(kSdb).rios, 1U);
  EXPECT_EQ(s.at(7u << 20).wios, 1U);
}

TEST(IoLimits, ParsesIocostsFiles) {
  const auto s = parse_io_stat(
      "8:16 rbytes=0 wbytes=4096 rios=0 wios=1 dbytes=0 dios=0 cost.usage=12 cost.wait=3000 cost.indebt=7 "
      "cost.indelay=500\n7:0 rbytes=0 wbytes=0 rios=0 wios=0 cost.usage=4\n");
  ASSERT_TRUE(s.at(kSdb).cost_wait_us);
  EXPECT_EQ(*s.at(kSdb).cost_wait_us, 3500U) << "waited for budget, and delayed for debt";
  EXPECT_FALSE(s.at(7u << 20).cost_wait_us) << "without blkcg_debug_stats the kernel prints no wait";
  EXPECT_EQ(parse_iocost_enabled("8:16 enable=1 ctrl=user rpct=95.00 rlat=5000 wpct=95.00 wlat=5000 min=1.00 "
                                 "max=10000.00\n7:0 enable=0 ctrl=auto rpct=0.00\n"),
            std::set<std::uint32_t>{kSdb});
  EXPECT_EQ(parse_io_weight("default 100\n8:16 250\n", kSdb), 250U);
  EXPECT_EQ(parse_io_weight("default 40\n8:16 250\n", 7u << 20), 40U);
  EXPECT_EQ(parse_io_weight("", kSdb), 100U);
}

TEST(IoLimits, ParsesV1Files) {
  const auto l = parse_v1_limit("8:16 20\n7:0 1048576\n", IoLimitKind::kWriteIops);
  ASSERT_EQ(l.size(), 2U);
  EXPECT_EQ(l[0].value, 20U);
  std::map<std::uint32_t, IoCounters> c;
  parse_v1_counters("8:16 Read 5\n8:16 Write 107\n8:16 Sync 112\n8:16 Total 112\nTotal 112\n", false, c);
  parse_v1_counters("8:16 Read 20480\n8:16 Write 438272\n", true, c);
  EXPECT_EQ(c.at(kSdb).rios, 5U);
  EXPECT_EQ(c.at(kSdb).wios, 107U);
  EXPECT_EQ(c.at(kSdb).rbytes, 20480U);
  EXPECT_EQ(c.at(kSdb).wbytes, 438272U);
}

class IoLimitsTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sw-iolimits-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "v2/kubepods/pod1/ctr");
    fs::create_directories(root_ / "blkio/kubepods/pod1/ctr");
    fs::create_directories(root_ / "proc/42");
    put("v2/kubepods/pod1/ctr/cgroup.procs", "42\n");
    put("proc/42/cgroup", "12:blkio:/kubepods/pod1/ctr\n0::/kubepods/pod1/ctr\n");
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
  IoLimits limits(bool v1) {
    return IoLimits((root_ / "v2").string(), v1 ? (root_ / "blkio").string() : "", (root_ / "proc").string());
  }
  fs::path root_;
};

TEST_F(IoLimitsTree, AnAncestorsIoMaxBindsWhenItsCgroupRunsAtIt) {
  auto l = limits(false);
  put("v2/kubepods/pod1/io.max", "8:16 rbps=max wbps=max riops=max wiops=100\n");
  put("v2/kubepods/pod1/io.stat", "8:16 rbytes=0 wbytes=0 rios=0 wios=1000\n");
  l.refresh({"/kubepods/pod1/ctr"}, 10s);
  auto got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cgroup, "/kubepods/pod1");
  EXPECT_EQ(got->setting, "wiops=100");
  EXPECT_FALSE(got->binding) << "no rate after one reading";
  put("v2/kubepods/pod1/io.stat", "8:16 rbytes=0 wbytes=0 rios=0 wios=1095\n");
  l.refresh({"/kubepods/pod1/ctr"}, 11s);
  got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_DOUBLE_EQ(got->rate, 95);
  EXPECT_TRUE(got->binding);
  // Far under it: a limit that explains nothing.
  put("v2/kubepods/pod1/io.stat", "8:16 rbytes=0 wbytes=0 rios=0 wios=1105\n");
  l.refresh({"/kubepods/pod1/ctr"}, 12s);
  got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->binding);
  EXPECT_FALSE(l.limit("/kubepods/pod1/ctr", 7u << 20)) << "another disk is not limited";
  EXPECT_FALSE(l.limit("/elsewhere", kSdb)) << "not read yet";
}

TEST_F(IoLimitsTree, AV1BlkioLimitIsFoundThroughTheProcessesBlkioPath) {
  auto l = limits(true);
  put("blkio/kubepods/pod1/ctr/blkio.throttle.write_iops_device", "8:16 20\n");
  put("blkio/kubepods/pod1/ctr/blkio.throttle.io_serviced_recursive", "8:16 Read 0\n8:16 Write 100\n");
  l.refresh({"/kubepods/pod1/ctr"}, 1s);
  put("blkio/kubepods/pod1/ctr/blkio.throttle.io_serviced_recursive", "8:16 Read 0\n8:16 Write 140\n");
  l.refresh({"/kubepods/pod1/ctr"}, 3s);
  const auto got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cgroup, "blkio:/kubepods/pod1/ctr");
  EXPECT_EQ(got->setting, "wiops=20");
  EXPECT_DOUBLE_EQ(got->rate, 20);
  EXPECT_TRUE(got->binding);
}

TEST_F(IoLimitsTree, TheMostBindingLimitIsTheOneNamed) {
  auto l = limits(false);
  put("v2/kubepods/io.max", "8:16 wbps=10485760\n");
  put("v2/kubepods/io.stat", "8:16 wbytes=0 wios=0\n");
  put("v2/kubepods/pod1/ctr/io.max", "8:16 wiops=50\n");
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wbytes=0 wios=0\n");
  l.refresh({"/kubepods/pod1/ctr"}, 1s);
  put("v2/kubepods/io.stat", "8:16 wbytes=10000000 wios=2440\n");
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wbytes=40960 wios=10\n");
  l.refresh({"/kubepods/pod1/ctr"}, 2s);
  const auto got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cgroup, "/kubepods");
  EXPECT_EQ(got->setting, "wbps=10485760");
  EXPECT_TRUE(got->binding);
}

TEST_F(IoLimitsTree, IocostBindsWhenTheVictimsBiosWaitedATenthOfTheSecond) {
  auto l = limits(false);
  put("v2/io.cost.qos", "8:16 enable=1 ctrl=user rpct=0.00 rlat=250000 wpct=0.00 wlat=250000 min=100.00 max=100.00\n");
  put("v2/kubepods/pod1/ctr/io.weight", "default 100\n8:16 25\n");
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wios=10 cost.usage=100 cost.wait=1000000 cost.indebt=0 cost.indelay=0\n");
  l.refresh({"/kubepods/pod1/ctr"}, 1s);
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wios=60 cost.usage=900 cost.wait=1450000 cost.indebt=0 cost.indelay=0\n");
  l.refresh({"/kubepods/pod1/ctr"}, 2s);
  auto got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cgroup, "/kubepods/pod1/ctr");
  EXPECT_EQ(got->setting, "iocost weight=25");
  EXPECT_DOUBLE_EQ(got->rate, 0.45);
  EXPECT_TRUE(got->binding);
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wios=99 cost.usage=1500 cost.wait=1500000 cost.indebt=0 cost.indelay=0\n");
  l.refresh({"/kubepods/pod1/ctr"}, 3s);
  got = l.limit("/kubepods/pod1/ctr", kSdb);
  ASSERT_TRUE(got);
  EXPECT_DOUBLE_EQ(got->rate, 0.05);
  EXPECT_FALSE(got->binding) << "held a twentieth of the second";
  EXPECT_FALSE(l.limit("/kubepods/pod1/ctr", 7u << 20)) << "iocost is off on that disk";
}

TEST_F(IoLimitsTree, IocostWithoutWaitCountersIsNoLimit) {
  auto l = limits(false);
  put("v2/io.cost.qos", "8:16 enable=1 ctrl=auto\n");
  put("v2/kubepods/pod1/ctr/io.stat", "8:16 wios=10 cost.usage=100\n");
  l.refresh({"/kubepods/pod1/ctr"}, 1s);
  l.refresh({"/kubepods/pod1/ctr"}, 2s);
  EXPECT_FALSE(l.limit("/kubepods/pod1/ctr", kSdb));
}

TEST_F(IoLimitsTree, APathAskedAboutIsReadFromTheNextRefresh) {
  auto l = limits(false);
  put("v2/kubepods/pod1/ctr/io.max", "8:16 wiops=50\n");
  EXPECT_FALSE(l.limit("/kubepods/pod1/ctr", kSdb));
  l.refresh({}, 1s);
  EXPECT_TRUE(l.limit("/kubepods/pod1/ctr", kSdb));
}

}  // namespace
