// Workload identity on the live kernel: kubelet-shaped cgroups, names from a
// pod log tree and OCI bundles, short-lived cgroups, churn.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kCount = "stallwatch_fsync_duration_seconds_count";

std::string parent() { return "stallwatch-id-" + std::to_string(getpid()); }

void write_bundle(const fs::path& state, const std::string& id, const std::string& json) {
  fs::create_directories(state / "k8s.io" / id);
  std::ofstream(state / "k8s.io" / id / "config.json") << json;
}

TEST(Identity, KubeletShapedCgroupsCarryPodNamespaceAndContainer) {
  SW_REQUIRE_ROOT();
  TempDir logs, state;
  Tmpfs tmpfs;
  const std::string uid_a = "0a3bf4d9-c097-4e13-89a5-b1d8560d8297";
  const std::string etcd_hash = "8c0b3c0ec0c8270f0805ea6b7b250885";  // static pod: config hash
  const std::string cid_a(64, 'c'), cid_etcd(64, 'e');
  fs::create_directories(fs::path(logs.path()) / ("default_web-frontend-7d9c6b5f4d-abcde_" + uid_a) / "nginx");
  fs::create_directories(fs::path(logs.path()) / ("default_web-frontend-7d9c6b5f4d-abcde_" + uid_a) / "sidecar");
  fs::create_directories(fs::path(logs.path()) / ("kube-system_etcd-cp-1_" + etcd_hash) / "etcd");
  write_bundle(
      state.path(), cid_a,
      R"({"annotations":{"io.kubernetes.cri.container-type":"container",)"
      R"("io.kubernetes.cri.container-name":"nginx","io.kubernetes.cri.sandbox-name":"web-frontend-7d9c6b5f4d-abcde",)"
      R"("io.kubernetes.cri.sandbox-namespace":"default","io.kubernetes.cri.sandbox-uid":")" +
          uid_a + R"("}})");
  // The etcd container has no bundle: its one log directory names it.
  TestCgroup web(parent() + "/kubepods/burstable/pod" + uid_a + "/" + cid_a);
  TestCgroup etcd(parent() + "/kubepods/pod" + etcd_hash + "/" + cid_etcd);
  TestCgroup unit(parent() + "/system.slice/backup.service");

  Agent agent({"--pod-logs-dir=" + logs.path(), "--runtime-state-dir=" + state.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  run_fsync_helper(web.dir(), tmpfs.path(), {"--fsync", "3"});
  run_fsync_helper(etcd.dir(), tmpfs.path(), {"--fdatasync", "4"});
  run_fsync_helper(unit.dir(), tmpfs.path(), {"--fsync", "2"});

  const Exposition m = scrape_metrics(agent.port());
  EXPECT_EQ(m.value(kCount, {{"namespace", "default"},
                             {"pod", "web-frontend-7d9c6b5f4d-abcde"},
                             {"container", "nginx"},
                             {"cgroup", web.rel()},
                             {"op", "fsync"}}),
            3.0);
  EXPECT_EQ(m.value(kCount, {{"namespace", "kube-system"},
                             {"pod", "etcd-cp-1"},
                             {"container", "etcd"},
                             {"cgroup", etcd.rel()},
                             {"op", "fdatasync"}}),
            4.0);
  EXPECT_EQ(m.value(kCount, {{"namespace", ""}, {"pod", ""}, {"container", ""}, {"cgroup", unit.rel()}}), 2.0);
}

// The DaemonSets pass the host's /sys/fs/cgroup, which on a hybrid host holds
// the v1 hierarchies beside cgroup2's unified/: a cgroup there before the
// agent starts and one made after are named alike, from the cgroup2 root.
TEST(Identity, CgroupRootOfAHybridHostNamesFromItsCgroup2Hierarchy) {
  SW_REQUIRE_ROOT();
  Tmpfs tmpfs;
  TestCgroup before(parent() + "/before");
  Agent agent({"--cgroup-root=/sys/fs/cgroup"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  TestCgroup after(parent() + "/after");
  run_fsync_helper(before.dir(), tmpfs.path(), {"--fsync", "3"});
  run_fsync_helper(after.dir(), tmpfs.path(), {"--fsync", "5"});
  const Exposition m = scrape_metrics(agent.port());
  std::string named;
  for (const auto& c : m.all(kCount, {{"op", "fsync"}})) named += " " + c.labels.at("cgroup");
  EXPECT_EQ(m.value(kCount, {{"cgroup", before.rel()}, {"op", "fsync"}}), 3.0) << "cgroups named:" << named;
  EXPECT_EQ(m.value(kCount, {{"cgroup", after.rel()}, {"op", "fsync"}}), 5.0);
}

// Created after start, used once and removed before any scrape: still named.
TEST(Identity, ShortLivedCgroupIsNamedFromItsMkdirEvent) {
  SW_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  Tmpfs tmpfs;
  std::string rel;
  {
    TestCgroup brief(parent() + "-brief");
    rel = brief.rel();
    run_fsync_helper(brief.dir(), tmpfs.path(), {"--fsync", "1"});
  }  // removed here
  const auto t0 = std::chrono::steady_clock::now();
  const Exposition m = scrape_metrics(agent.port());
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_EQ(m.value(kCount, {{"cgroup", rel}}), 1.0);
  EXPECT_TRUE(m.all(kCount, {{"cgroup", "unknown"}}).empty());
  for (const auto& s : m.all(kCount)) EXPECT_EQ(s.labels.at("cgroup").rfind("unknown:", 0), std::string::npos);
  std::printf("removed cgroup named in the first scrape after its only event (%lld us)\n",
              static_cast<long long>(took.count()));
}

std::size_t fsync_map_entries() {
  const auto dump = nlohmann::json::parse(sh("bpftool -j map dump name fsync_hist"), nullptr, false);
  return dump.is_array() ? dump.size() : 0;
}

void churn(int n, const std::string& tag, const std::string& dir) {
  for (int i = 0; i < n; ++i) {
    TestCgroup cg(parent() + "-churn-" + tag + "-" + std::to_string(i));
    run_fsync_helper(cg.dir(), dir, {"--fsync", "1"});
  }
}

TEST(Identity, ChurnOfTwoThousandCgroupsReturnsToBaseline) {
  SW_REQUIRE_ROOT();
  Agent agent({"--stale-after=1s"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  Tmpfs tmpfs;
  const auto settle = [&] {
    std::this_thread::sleep_for(3s);  // past --stale-after and one expiry tick
    return scrape_metrics(agent.port());
  };
  // Prometheus scrapes while cgroups come and go: one scrape per 200. The
  // warm-up does the same once, so the baseline holds a scrape's working set.
  const auto churn_scraped = [&](int chunks, const std::string& tag) {
    std::size_t peak = 0;
    for (int c = 0; c < chunks; ++c) {
      churn(200, tag + std::to_string(c), tmpfs.path());
      peak = std::max(peak, scrape_metrics(agent.port()).all(kCount).size());
    }
    return peak;
  };
  // The endpoint's 64 workers each touch their stack and request buffer the
  // first time they serve (bounded by their number): serve with all of them
  // once, so the baseline holds them. One request after another may reach
  // only a few workers (a CI run measured a baseline 0.4 MiB short, and a
  // growth of 1032 KiB); 64 at once need all 64.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::jthread> peers;
    for (int i = 0; i < 64; ++i) {
      peers.emplace_back([port = agent.port()] {
        try {
          http_get(port, "/metrics");
        } catch (const std::exception&) {  // a refused peer primes nothing; the bound still holds it
        }
      });
    }
  }
  churn_scraped(1, "warm");
  const Exposition base = settle();
  const std::size_t base_series = base.all(kCount).size();
  const std::size_t base_entries = fsync_map_entries();
  const long base_rss = rss_kib(agent.pid());

  const std::size_t peak = churn_scraped(10, "run");
  const Exposition after = settle();
  const long after_rss = rss_kib(agent.pid());
  std::printf("churn: series %zu -> %zu (peak %zu), map entries %zu -> %zu, RSS %ld -> %ld KiB, tracked %g\n",
              base_series, after.all(kCount).size(), peak, base_entries, fsync_map_entries(), base_rss, after_rss,
              *after.value("stallwatch_tracked_cgroups", {}));
  EXPECT_GT(peak, base_series);
  // The host's own processes may fsync meanwhile (journald, apt): their new
  // series are not the test's, and their map entries are allowed for.
  const auto ours = [](const Exposition& m) {
    std::size_t n = 0;
    for (const auto& s : m.all(kCount)) n += s.labels.at("cgroup").rfind("/" + parent(), 0) == 0;
    return n;
  };
  const std::size_t host_new = (after.all(kCount).size() - ours(after)) - (base_series - ours(base));
  EXPECT_EQ(ours(after), 0U) << "series of removed cgroups stayed";
  EXPECT_LE(fsync_map_entries(), base_entries + host_new);
  if (!sanitized()) {
    EXPECT_LE(after_rss - base_rss, 1024) << "RSS grew by more than 1 MiB";
  }
  EXPECT_EQ(*after.value("stallwatch_series_dropped_total", {}), 0.0);
}

}  // namespace
}  // namespace stallwatch::test

namespace stallwatch::test {
namespace {

// Removes <hierarchy>/<name> from every cgroup hierarchy, deepest first:
// runc creates the container's cgroup in each v1 hierarchy too.
struct RuncCgroups {
  std::string name;
  ~RuncCgroups() {
    run_shell("for d in /sys/fs/cgroup/*/" + name + " /sys/fs/cgroup/" + name +
              "; do [ -d \"$d\" ] && find \"$d\" -depth -type d -exec rmdir {} \\;; done");
  }
};

// A real container: runc from a busybox rootfs in a kubelet-shaped cgroup,
// its bundle config.json carrying the annotations containerd writes.
TEST(Identity, RuncContainerCarriesItsNames) {
  SW_REQUIRE_ROOT();
  TempDir bundle, logs, state;
  const std::string uid = "ab00ca3e-e989-4e77-b218-d06eec35bea1";
  const std::string cid(64, 'f');
  const std::string top = parent() + "-runc";
  RuncCgroups cleanup{top};
  fs::create_directories(fs::path(logs.path()) / ("payments-prod_api.v2-worker-5c8f9b7d6-xk2lq_" + uid) / "api");
  fs::create_directories(fs::path(bundle.path()) / "rootfs");
  fs::copy_file("/bin/busybox", fs::path(bundle.path()) / "rootfs/busybox");
  fs::copy_file(fsync_helper(), fs::path(bundle.path()) / "rootfs/sw_fsync_helper");
  sh("cd " + bundle.path() + " && runc spec");
  std::ifstream in(fs::path(bundle.path()) / "config.json");
  nlohmann::json spec = nlohmann::json::parse(in);
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = {"/sw_fsync_helper", "/data", "--fsync", "5", "--fdatasync", "2"};
  spec["root"]["readonly"] = false;
  spec["mounts"].push_back(
      {{"destination", "/data"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev"}}});
  spec["linux"]["cgroupsPath"] = "/" + top + "/kubepods/besteffort/pod" + uid + "/" + cid;
  spec["annotations"] = {{"io.kubernetes.cri.container-type", "container"},
                         {"io.kubernetes.cri.container-name", "api"},
                         {"io.kubernetes.cri.sandbox-name", "api.v2-worker-5c8f9b7d6-xk2lq"},
                         {"io.kubernetes.cri.sandbox-namespace", "payments-prod"},
                         {"io.kubernetes.cri.sandbox-uid", uid}};
  std::ofstream(fs::path(bundle.path()) / "config.json") << spec.dump();
  // containerd keeps the bundle under its state directory, by container id.
  write_bundle(state.path(), cid, spec.dump());

  Agent agent({"--pod-logs-dir=" + logs.path(), "--runtime-state-dir=" + state.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const Completed c =
      run_command({"/usr/sbin/runc", "run", "--bundle", bundle.path(), "sw-" + std::to_string(getpid())});
  ASSERT_EQ(c.exit.code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("fsync 5"), std::string::npos) << c.out;

  const Exposition m = scrape_metrics(agent.port());
  const Labels names = {{"namespace", "payments-prod"}, {"pod", "api.v2-worker-5c8f9b7d6-xk2lq"}, {"container", "api"}};
  Labels fsync = names, fdatasync = names;
  fsync["op"] = "fsync";
  fdatasync["op"] = "fdatasync";
  EXPECT_EQ(m.value(kCount, fsync), 5.0) << "container cgroup /" << top << "/kubepods/besteffort/pod" << uid;
  EXPECT_EQ(m.value(kCount, fdatasync), 2.0);
}

}  // namespace
}  // namespace stallwatch::test
