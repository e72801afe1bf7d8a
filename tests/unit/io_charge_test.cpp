// Where the io controller charges a cgroup, on a tree of files standing in
// for cgroupfs: the controllers each cgroup's parent enabled for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "identity/io_charge.h"

namespace {

namespace fs = std::filesystem;
using stallwatch::identity::io_charge_of;

class FakeCgroups : public ::testing::Test {
 protected:
  void SetUp() override { root_ = fs::temp_directory_path() / ("swt-charge-" + std::to_string(::getpid())); }
  void TearDown() override { fs::remove_all(root_); }
  void cgroup(const std::string& path, const std::string& controllers) {
    fs::create_directories(root_ + path);
    std::ofstream(root_ + path + "/cgroup.controllers") << controllers << "\n";
  }
  std::string root_;
};

TEST_F(FakeCgroups, NearestAncestorWithTheController) {
  cgroup("/kubepods", "cpu io memory pids");
  cgroup("/kubepods/pod1", "cpu io memory pids");
  cgroup("/kubepods/pod1/etcd", "cpu memory pids");  // io not delegated to the container
  const auto c = io_charge_of(root_, "/kubepods/pod1/etcd");
  EXPECT_EQ(c.direct, "/kubepods/pod1");
  EXPECT_EQ(c.writeback, "/kubepods/pod1") << "its pages sit in its own memcg, whose io cgroup is pod1";
}

TEST_F(FakeCgroups, WritebackFollowsTheMemoryCgroupFirst) {
  cgroup("/a", "io memory");
  cgroup("/a/b", "io");
  cgroup("/a/b/v", "io");
  const auto c = io_charge_of(root_, "/a/b/v");
  EXPECT_EQ(c.direct, "/a/b/v");
  EXPECT_EQ(c.writeback, "/a") << "pages charged to /a's memcg are written under /a's blkcg";
}

TEST_F(FakeCgroups, NoControllerAnywhereIsTheRoot) {
  cgroup("/x", "");
  cgroup("/x/y", "cpu");
  EXPECT_EQ(io_charge_of(root_, "/x/y").direct, "/");
  EXPECT_EQ(io_charge_of(root_, "/x/y").writeback, "/");
  EXPECT_EQ(io_charge_of(root_, "/gone").direct, "/") << "a cgroup removed meanwhile reads as charged to the root";
}

}  // namespace
