// Trees the agent reads but does not own (cgroupfs, the kubelet's pod logs,
// the runtimes' OCI bundles) are hostile at times: entries vanish mid-read,
// symlinks loop, a FIFO or a giant sits where a small file should. Each
// costs the entry itself, never the rest of the tree, never a hang.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "identity/cgroup_walk.h"
#include "identity/pod_names.h"

namespace stallwatch::identity {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class HostileTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stallwatch-hostile-" + std::to_string(getpid()));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  // Runs f on a thread; a hang is a failure, not a stuck test binary.
  template <typename F>
  auto within(std::chrono::seconds limit, F f) {
    auto fut = std::async(std::launch::async, f);
    if (fut.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "did not return within " << limit.count() << " s";
      std::fflush(stdout);
      _exit(1);
    }
    return fut.get();
  }
  fs::path root_;
};

std::string uid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "0b9a7a3e-8d3c-4b8e-9a39-%012d", i);
  return buf;
}

std::string container_id(int i) {
  std::string id = std::to_string(i);
  return std::string(64 - id.size(), 'a') + id;
}

const char* kConfig = R"({"annotations":{"io.kubernetes.cri.container-name":"app",
  "io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"shop"}})";

TEST_F(HostileTree, OciBundlesThatAreFifosGiantsOrLoopsAreSkipped) {
  const fs::path ns = root_ / "k8s.io";
  fs::create_directories(ns);
  for (int i = 0; i < 20; ++i) {
    fs::create_directories(ns / container_id(i));
    std::ofstream(ns / container_id(i) / "config.json") << kConfig;
  }
  fs::create_directories(ns / container_id(100));
  ASSERT_EQ(mkfifo((ns / container_id(100) / "config.json").c_str(), 0600), 0);  // would block a plain open
  fs::create_directories(ns / container_id(101));
  {
    std::ofstream(ns / container_id(101) / "config.json") << kConfig;
    fs::resize_file(ns / container_id(101) / "config.json", 64 << 20);  // sparse, 64 MiB
  }
  fs::create_directories(ns / container_id(102));
  fs::create_symlink("config.json", ns / container_id(102) / "config.json");  // ELOOP
  fs::create_directory_symlink(".", ns / container_id(103));                   // a loop as a bundle
  fs::create_directory_symlink("..", ns / "loop");                              // a loop to descend
  std::ofstream(ns / container_id(104)) << "a file where a bundle should be";
  fs::create_directories(ns / container_id(105) / "config.json");                 // EISDIR
  fs::create_directories(ns / container_id(106));
  fs::create_symlink("/proc/self/mem", ns / container_id(106) / "config.json");   // unreadable: EIO
  const auto found = within(10s, [&] { return scan_runtime_state({root_.string(), (root_ / "absent").string()}); });
  EXPECT_EQ(found.size(), 20U);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(found.count(container_id(i)), 1U) << i;
}

TEST_F(HostileTree, PodLogEntriesThatLoopOrDangleSkipOnlyThemselves) {
  for (int i = 0; i < 50; ++i) fs::create_directories(root_ / ("shop_web-" + std::to_string(i) + "_" + uid(i)) / "app");
  for (int i = 100; i < 120; ++i) {
    fs::create_symlink("shop_self_" + uid(i), root_ / ("shop_self_" + uid(i)));  // loops on itself: ELOOP
  }
  fs::create_symlink("/nonexistent", root_ / ("shop_gone_" + uid(120)));  // dangles
  fs::create_directory_symlink(root_, root_ / ("shop_up_" + uid(121)));  // a loop to the top
  std::ofstream(root_ / ("shop_file_" + uid(122))) << "not a directory";
  const auto pods = within(10s, [&] { return scan_pod_logs(root_.string()); });
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(pods.count(uid(i)), 1U) << i;
    EXPECT_EQ(pods.at(uid(i)).pod, "web-" + std::to_string(i));
    EXPECT_EQ(pods.at(uid(i)).containers, std::vector<std::string>{"app"});
  }
}

// cgroups made and removed while the walk runs (a node starting pods): every
// cgroup that stays is found by every walk, and a walk that lost part of the
// tree says so.
TEST_F(HostileTree, CgroupsVanishingMidWalkCostOnlyThemselves) {
  for (int i = 0; i < 100; ++i) fs::create_directories(root_ / ("stable-" + std::to_string(i)) / "child");
  fs::create_directory_symlink(root_, root_ / "stable-0" / "loop");  // not followed
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int n = 0; !stop; ++n) {
      const fs::path d = root_ / ("churn-" + std::to_string(n % 8));
      std::error_code ec;
      fs::create_directories(d / "a" / "b" / "c", ec);
      fs::remove_all(d, ec);
    }
  });
  int walks = 0, incomplete = 0, short_walks = 0;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    const CgroupWalk w = walk_cgroups(root_.string());
    ++walks;
    incomplete += !w.complete;
    int stable = 0;
    for (const auto& [id, path] : w.paths) stable += path.rfind("/stable-", 0) == 0;
    short_walks += stable != 200;
  }
  stop = true;
  churn.join();
  EXPECT_EQ(short_walks, 0) << "of " << walks << " walks";
  std::printf("%d walks under churn: %d missed a stable cgroup, %d saw a cgroup vanish and said so\n", walks,
              short_walks, incomplete);
  // A path longer than PATH_MAX: the parts the kernel cannot name are
  // skipped, the walk says so, and the rest is all there.
  fs::path deep = root_ / "deep";
  for (int i = 0; i < 45; ++i) deep /= std::string(100, static_cast<char>('a' + i % 26));
  std::error_code deep_ec;
  fs::create_directories(deep, deep_ec);  // fails somewhere past PATH_MAX; what exists stays
  const CgroupWalk long_paths = walk_cgroups(root_.string());
  int stable = 0;
  for (const auto& [id, path] : long_paths.paths) stable += path.rfind("/stable-", 0) == 0;
  EXPECT_EQ(stable, 200);
  std::error_code rm_ec;
  fs::remove_all(root_ / "deep", rm_ec);
  const CgroupWalk calm = walk_cgroups(root_.string());
  EXPECT_TRUE(calm.complete);
  EXPECT_EQ(calm.paths.size(), 201U + [&] {
    std::size_t churn_left = 0;
    for (const auto& [id, path] : calm.paths) churn_left += path.rfind("/churn-", 0) == 0;
    return churn_left;
  }());
  EXPECT_FALSE(walk_cgroups((root_ / "absent").string()).complete);
}

}  // namespace
}  // namespace stallwatch::identity
