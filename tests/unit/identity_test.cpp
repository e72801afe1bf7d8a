#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "identity/device_names.h"
#include "identity/storage_stacks.h"
#include "identity/identity.h"

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

stallwatch::identity::Identity::Config config_for(const fs::path& root, std::size_t max_series = 100) {
  return {(root / "cg").string(),
          (root / "logs").string(),
          {(root / "state").string()},
          max_series,
          std::chrono::seconds(60)};
}

TEST_F(TreeTest, CgroupIdsResolveToPathsRelativeToTheMount) {
  fs::create_directories(root_ / "cg/kubepods/burstable/podx");
  fs::create_directories(root_ / "cg/system.slice/etcd.service");
  stallwatch::identity::Identity id(config_for(root_));
  EXPECT_EQ(id.labels(ino(root_ / "cg")).cgroup, "/");
  EXPECT_EQ(id.labels(ino(root_ / "cg/kubepods/burstable/podx")).cgroup, "/kubepods/burstable/podx");
  EXPECT_EQ(id.labels(ino(root_ / "cg/system.slice/etcd.service")).cgroup, "/system.slice/etcd.service");
  EXPECT_EQ(id.labels(1234567890123ULL).cgroup, "unknown:1234567890123");
}

// Static pods carry the config hash as UID in their cgroup and log dir.
TEST_F(TreeTest, PodNamesFromLogsAndContainerNamesFromRuntimeState) {
  const std::string hash = "8c0b3c0ec0c8270f0805ea6b7b250885";
  const std::string cid(64, 'a');
  const std::string sandbox(64, 'b');
  const fs::path pod = root_ / "cg/kubepods/burstable" / ("pod" + hash);
  fs::create_directories(pod / cid);
  fs::create_directories(pod / sandbox);
  fs::create_directories(root_ / "logs" / ("kube-system_etcd-cp-1.example.internal_" + hash) / "etcd");
  fs::create_directories(root_ / "state/k8s.io" / cid);
  std::ofstream(root_ / "state/k8s.io" / cid / "config.json")
      << R"({"annotations":{"io.kubernetes.cri.container-name":"etcd","io.kubernetes.cri.container-type":"container",
           "io.kubernetes.cri.sandbox-name":"etcd-cp-1.example.internal","io.kubernetes.cri.sandbox-namespace":"kube-system"}})";
  fs::create_directories(root_ / "state/k8s.io" / sandbox);
  std::ofstream(root_ / "state/k8s.io" / sandbox / "config.json")
      << R"({"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"etcd-cp-1.example.internal"}})";
  stallwatch::identity::Identity id(config_for(root_));
  const auto l = id.labels(ino(pod / cid));
  EXPECT_EQ(l.ns, "kube-system");
  EXPECT_EQ(l.pod, "etcd-cp-1.example.internal");
  EXPECT_EQ(l.container, "etcd");
  EXPECT_EQ(l.cgroup, "/kubepods/burstable/pod" + hash + "/" + cid);
  EXPECT_EQ(id.labels(ino(pod / sandbox)).container, "POD");
  EXPECT_EQ(id.labels(ino(pod)).pod, "etcd-cp-1.example.internal");
  EXPECT_EQ(id.labels(ino(pod)).container, "");
}

TEST_F(TreeTest, PastMaxSeriesCgroupsFoldIntoOther) {
  for (int i = 0; i < 5; ++i) fs::create_directories(root_ / "cg" / ("c" + std::to_string(i)));
  stallwatch::identity::Identity id(config_for(root_, 3));
  int other = 0;
  for (int i = 0; i < 5; ++i) other += id.labels(ino(root_ / "cg" / ("c" + std::to_string(i)))).cgroup == "other";
  EXPECT_EQ(other, 2);
  EXPECT_EQ(id.tracked(), 3U);
  EXPECT_EQ(id.series_dropped(), 2U);
  // Asking again does not count twice.
  id.labels(ino(root_ / "cg/c4"));
  EXPECT_EQ(id.series_dropped(), 2U);
}

TEST_F(TreeTest, RemovedCgroupsAreForgottenAfterTheGrace) {
  stallwatch::identity::Identity id(config_for(root_));
  id.on_mkdir(77, "/short-lived");
  EXPECT_EQ(id.labels(77).cgroup, "/short-lived");  // named although never walked
  id.on_rmdir(77);
  const auto now = stallwatch::identity::Identity::Clock::now();
  EXPECT_TRUE(id.expire(now).empty());
  EXPECT_EQ(id.labels(77).cgroup, "/short-lived");  // still named during the grace
  EXPECT_EQ(id.expire(now + std::chrono::seconds(61)), std::vector<std::uint64_t>{77});
  EXPECT_EQ(id.tracked(), 0U);
}

TEST(PodLogDirs, EveryFixtureRow) {
  std::ifstream in(STALLWATCH_FIXTURES "/identity/var_log_pods.txt");
  ASSERT_TRUE(in);
  std::string line;
  std::getline(in, line);
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) f.push_back(x);
    while (f.size() < 4) f.emplace_back();
    const auto ref = stallwatch::identity::parse_pod_log_dir(f[0]);
    EXPECT_EQ(ref.ns, f[1]) << f[0];
    EXPECT_EQ(ref.pod, f[2]) << f[0];
    EXPECT_EQ(ref.uid, f[3]) << f[0];
    ++rows;
  }
  EXPECT_EQ(rows, 18);
}

TEST(OciAnnotations, CrioKeysAndGarbage) {
  stallwatch::identity::ContainerInfo info;
  EXPECT_TRUE(stallwatch::identity::parse_oci_annotations(
      R"({"annotations":{"io.kubernetes.container.name":"app","io.kubernetes.pod.name":"web","io.kubernetes.pod.namespace":"prod","io.kubernetes.cri-o.ContainerType":"container"}})",
      info));
  EXPECT_EQ(info.name, "app");
  EXPECT_EQ(info.pod, "web");
  EXPECT_EQ(info.ns, "prod");
  EXPECT_FALSE(info.sandbox);
  EXPECT_FALSE(stallwatch::identity::parse_oci_annotations("{not json", info));
  EXPECT_FALSE(stallwatch::identity::parse_oci_annotations(R"({"annotations":[]})", info));
  EXPECT_FALSE(stallwatch::identity::parse_oci_annotations(R"({"ociVersion":"1.0.2"})", info));
}

TEST_F(TreeTest, DeviceNamesFoldPartitionsAndNameOtherFilesystems) {
  fs::create_directories(root_ / "sys/devices/virtual/block/loop3");
  fs::create_directories(root_ / "sys/devices/pci0/nvme/nvme0n1/nvme0n1p2");
  std::ofstream(root_ / "sys/devices/pci0/nvme/nvme0n1/nvme0n1p2/partition") << "2\n";
  fs::create_directories(root_ / "sys/dev/block");
  fs::create_directory_symlink("../../devices/virtual/block/loop3", root_ / "sys/dev/block/7:3");
  fs::create_directory_symlink("../../devices/pci0/nvme/nvme0n1/nvme0n1p2", root_ / "sys/dev/block/259:2");
  fs::create_directory_symlink("../../devices/pci0/nvme/nvme0n1", root_ / "sys/dev/block/259:0");
  std::ofstream(root_ / "mountinfo") << "25 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n"
                                        "40 25 0:45 / /dev/shm rw - tmpfs tmpfs rw\n";
  stallwatch::identity::DeviceNames names((root_ / "sys").string(), (root_ / "mountinfo").string());
  EXPECT_EQ(names.name((7U << 20) | 3), "loop3");
  EXPECT_EQ(names.name((259U << 20) | 2), "nvme0n1");
  EXPECT_EQ(names.name(259U << 20), "nvme0n1");
  EXPECT_EQ(names.name(45), "tmpfs:0:45");
  EXPECT_EQ(names.name(46), "0:46");
  EXPECT_EQ(names.name(0), "unknown");
}

TEST_F(TreeTest, StorageStacksReachTheDisksUnderDeviceMapperMdAndOverlay) {
  const fs::path sys = root_ / "sys";
  auto block = [&](const std::string& dir, const std::string& dev) {
    fs::create_directories(sys / dir);
    std::ofstream(sys / dir / "dev") << dev << "\n";
    fs::create_directories(sys / "dev/block");
    fs::create_directory_symlink(fs::relative(sys / dir, sys / "dev/block"), sys / "dev/block" / dev);
  };
  auto slave = [&](const std::string& holder, const std::string& name, const std::string& target) {
    fs::create_directories(sys / holder / "slaves");
    fs::create_directory_symlink(fs::relative(sys / target, sys / holder / "slaves"), sys / holder / "slaves" / name);
  };
  block("devices/pci0/sda", "8:0");
  block("devices/pci0/sda/sda2", "8:2");
  std::ofstream(sys / "devices/pci0/sda/sda2/partition") << "2\n";
  block("devices/pci0/sdb", "8:16");
  block("devices/pci0/sdc", "8:32");
  block("devices/virtual/block/dm-0", "253:0");  // LVM on sda2
  slave("devices/virtual/block/dm-0", "sda2", "devices/pci0/sda/sda2");
  block("devices/virtual/block/dm-1", "253:1");  // dm-crypt on the LV
  slave("devices/virtual/block/dm-1", "dm-0", "devices/virtual/block/dm-0");
  fs::create_directories(sys / "devices/virtual/block/dm-1/dm");
  std::ofstream(sys / "devices/virtual/block/dm-1/dm/uuid") << "CRYPT-LUKS2-0d3c5e1f-secret\n";
  fs::create_directories(sys / "devices/virtual/block/dm-0/dm");
  std::ofstream(sys / "devices/virtual/block/dm-0/dm/uuid") << "LVM-abc\n";
  block("devices/virtual/block/md0", "9:0");  // RAID1 over two disks
  slave("devices/virtual/block/md0", "sdb", "devices/pci0/sdb");
  slave("devices/virtual/block/md0", "sdc", "devices/pci0/sdc");
  block("devices/pci0/nvme0n1", "259:0");
  block("devices/pci0/nvme0n1/nvme0n1p1", "259:1");
  std::ofstream(sys / "devices/pci0/nvme0n1/nvme0n1p1/partition") << "1\n";
  block("devices/virtual/block/dm-2", "253:2");  // btrfs on an LV named vg-data
  slave("devices/virtual/block/dm-2", "sdb", "devices/pci0/sdb");
  fs::create_directories(sys / "devices/virtual/block/dm-2/dm");
  std::ofstream(sys / "devices/virtual/block/dm-2/dm/name") << "vg-data\n";
  fs::create_directories(sys / "block");
  fs::create_directory_symlink(fs::relative(sys / "devices/virtual/block/dm-2", sys / "block"), sys / "block/dm-2");
  std::ofstream(root_ / "mountinfo")
      << "25 1 259:1 / / rw - ext4 /dev/nvme0n1p1 rw\n"
         "30 25 253:0 / /var rw - xfs /dev/mapper/vg-var rw\n"
         "31 25 253:1 / /secret rw - ext4 /dev/mapper/secret rw\n"
         "32 25 9:0 / /raid rw - ext4 /dev/md0 rw\n"
         "33 25 0:45 / /dev/shm rw - tmpfs tmpfs rw\n"
         "35 30 0:51 / /var/lib/data rw - btrfs /dev/mapper/vg-data rw\n"
         // A container's root: its upper layer is under /var, on the LV.
         "34 25 0:50 / /run/c/rootfs rw - overlay overlay "
         "rw,lowerdir=/var/lib/c/l\\,1,upperdir=/var/lib/c/s/9/fs,workdir=/var/lib/c/s/9/work\n";
  const stallwatch::identity::StorageStacks stacks(sys.string(), (root_ / "mountinfo").string(), root_.string());
  const auto got = stacks.resolve();
  auto kdev = [](unsigned ma, unsigned mi) { return (ma << 20) | mi; };
  ASSERT_EQ(got.size(), 5U) << "a filesystem right on a partition and tmpfs are not stacks";
  EXPECT_EQ(got.at(kdev(253, 0)).disks, std::vector<std::uint32_t>{kdev(8, 0)});
  EXPECT_EQ(got.at(kdev(253, 0)).fstype, "xfs");
  EXPECT_EQ(got.at(kdev(253, 1)).disks, std::vector<std::uint32_t>{kdev(8, 0)});
  EXPECT_EQ(got.at(kdev(253, 1)).queues, std::vector<std::uint32_t>{kdev(253, 1)}) << "dm-crypt holds bios";
  EXPECT_TRUE(got.at(kdev(253, 0)).queues.empty()) << "an LV does not";
  EXPECT_EQ(got.at(kdev(9, 0)).disks, (std::vector<std::uint32_t>{kdev(8, 16), kdev(8, 32)}));
  EXPECT_EQ(got.at(kdev(0, 50)).disks, std::vector<std::uint32_t>{kdev(8, 0)}) << "overlay: /var's LV, on sda";
  EXPECT_EQ(got.at(kdev(0, 50)).fstype, "overlay");
  EXPECT_EQ(got.at(kdev(0, 51)).disks, std::vector<std::uint32_t>{kdev(8, 16)}) << "btrfs by its LV's name";
  EXPECT_TRUE(stacks.disks_under(0, 45).empty());
}

// Stacks over several disks share one blame state per group of disks that
// any stack joins; single-disk stacks watch their disk, or its group.
TEST(WatchPlan, DisksAnyStackJoinsAreOneGroupKeyedByTheSmallest) {
  using stallwatch::identity::StackedFs;
  auto kdev = [](unsigned ma, unsigned mi) { return (ma << 20) | mi; };
  const std::uint32_t sda = kdev(8, 0), sdb = kdev(8, 16), sdc = kdev(8, 32), sdd = kdev(8, 48), sde = kdev(8, 64),
                      nvme = kdev(259, 0);
  const std::map<std::uint32_t, StackedFs> stacks = {
      {kdev(253, 0), {"ext4", {sdc, sdb}, {}}},  // a stripe over sdc and sdb
      {kdev(253, 1), {"xfs", {sdb}, {}}},        // an LV on sdb alone
      {kdev(9, 0), {"ext4", {sdd, sdc}, {}}},    // RAID1 sharing sdc with the stripe
      {kdev(253, 2), {"ext4", {sda}, {}}},       // an LV on sda: no group
      {kdev(0, 40), {"btrfs", {sde}, {}}},
      {kdev(253, 3), {"ext4", {nvme}, {kdev(253, 3)}}},  // dm-crypt on an NVMe disk: joins its disk
  };
  const auto plan = stallwatch::identity::watch_plan(stacks);
  EXPECT_EQ(plan.group_of, (std::map<std::uint32_t, std::uint32_t>{
                               {sdb, sdb}, {sdc, sdb}, {sdd, sdb}, {nvme, nvme}, {kdev(253, 3), nvme}}))
      << "keyed by a disk, not by the smaller-numbered dm-crypt device";
  EXPECT_EQ(plan.disk_of, (std::map<std::uint32_t, std::uint32_t>{{kdev(253, 0), sdb},
                                                                   {kdev(253, 1), sdb},
                                                                   {kdev(9, 0), sdb},
                                                                   {kdev(253, 2), sda},
                                                                   {kdev(0, 40), sde},
                                                                   {kdev(253, 3), nvme}}));
  EXPECT_EQ(plan.bio_devs, std::set<std::uint32_t>{kdev(253, 3)});
  EXPECT_TRUE(stallwatch::identity::watch_plan({}).group_of.empty());
}

}  // namespace
