#include <gtest/gtest.h>

#include "loader/host_facts.h"

namespace {

using stallwatch::loader::CgroupLayout;
using stallwatch::loader::parse_cgroup_mounts;

TEST(CgroupMounts, HybridHost) {
  const auto m = parse_cgroup_mounts(
      "30 24 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
      "34 30 0:30 / /sys/fs/cgroup/blkio rw,nosuid shared:14 - cgroup cgroup rw,blkio\n"
      "35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:15 - cgroup cgroup rw,cpu,cpuacct\n");
  EXPECT_EQ(m.layout, CgroupLayout::kHybrid);
  EXPECT_EQ(m.cgroup2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1_mounts.size(), 2U);
}

TEST(CgroupMounts, PureV2Host) {
  const auto m = parse_cgroup_mounts(
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - cgroup2 cgroup2 rw,nsdelegate\n");
  EXPECT_EQ(m.layout, CgroupLayout::kV2);
  EXPECT_EQ(m.cgroup2_mount, "/sys/fs/cgroup");
}

TEST(CgroupMounts, V1OnlyAndNone) {
  EXPECT_EQ(parse_cgroup_mounts("34 30 0:30 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n").layout,
            CgroupLayout::kV1);
  EXPECT_EQ(parse_cgroup_mounts("22 1 0:21 / /proc rw - proc proc rw\nnot a mountinfo line\n").layout,
            CgroupLayout::kNone);
}

TEST(Capabilities, NamesTheSetBits) {
  using namespace stallwatch::loader;
  const std::uint64_t caps = (1ULL << kCapBpf) | (1ULL << kCapPerfmon);
  EXPECT_EQ(cap_list(caps), "cap_perfmon,cap_bpf");
  EXPECT_EQ(cap_list(0), "none");
  EXPECT_TRUE(has_cap(caps, kCapBpf));
  EXPECT_FALSE(has_cap(caps, kCapSysAdmin));
}

}  // namespace
