#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "identity/cgroup_paths.h"
#include "identity/device_names.h"

namespace {

namespace fs = std::filesystem;

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stallwatch-unit.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  std::uint64_t ino(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0);
    return st.st_ino;
  }
  fs::path root_;
};

TEST_F(TreeTest, CgroupIdsResolveToPathsRelativeToTheMount) {
  fs::create_directories(root_ / "kubepods/burstable/podx");
  fs::create_directories(root_ / "system.slice/etcd.service");
  stallwatch::identity::CgroupPaths paths(root_.string());
  EXPECT_EQ(paths.name(ino(root_)), "/");
  EXPECT_EQ(paths.name(ino(root_ / "kubepods/burstable/podx")), "/kubepods/burstable/podx");
  EXPECT_EQ(paths.name(ino(root_ / "system.slice/etcd.service")), "/system.slice/etcd.service");
  EXPECT_EQ(paths.name(1234567890123ULL), "unknown:1234567890123");
}

TEST_F(TreeTest, DeviceNamesFoldPartitionsAndNameOtherFilesystems) {
  fs::create_directories(root_ / "sys/devices/virtual/block/loop3");
  fs::create_directories(root_ / "sys/devices/pci0/nvme/nvme0n1/nvme0n1p2");
  std::ofstream(root_ / "sys/devices/pci0/nvme/nvme0n1/nvme0n1p2/partition") << "2\n";
  fs::create_directories(root_ / "sys/dev/block");
  fs::create_directory_symlink("../../devices/virtual/block/loop3", root_ / "sys/dev/block/7:3");
  fs::create_directory_symlink("../../devices/pci0/nvme/nvme0n1/nvme0n1p2",
                               root_ / "sys/dev/block/259:2");
  fs::create_directory_symlink("../../devices/pci0/nvme/nvme0n1", root_ / "sys/dev/block/259:0");
  std::ofstream(root_ / "mountinfo")
      << "25 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n"
         "40 25 0:45 / /dev/shm rw - tmpfs tmpfs rw\n";
  stallwatch::identity::DeviceNames names((root_ / "sys").string(), (root_ / "mountinfo").string());
  EXPECT_EQ(names.name((7U << 20) | 3), "loop3");
  EXPECT_EQ(names.name((259U << 20) | 2), "nvme0n1");
  EXPECT_EQ(names.name(259U << 20), "nvme0n1");
  EXPECT_EQ(names.name(45), "tmpfs:0:45");
  EXPECT_EQ(names.name(46), "0:46");
  EXPECT_EQ(names.name(0), "unknown");
}

}  // namespace
