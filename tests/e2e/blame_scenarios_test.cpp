// The blame engine against the disturbances it must tell apart, on the live
// kernel with ext4 on loop devices. A victim (sw_victim_helper, named etcd:
// 4 KiB write + fdatasync) runs alone, then with the disturbance; the test
// compares the victim's own timings with the agent's blame metrics and
// slow-event log for the disturbed run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "support/blame.h"
#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

// Disk-backed victim device, victim and neighbour cgroups, one agent.
class BlameScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    disk_ = std::make_unique<LoopFs>("/var/tmp", 512);
    victim_ = std::make_unique<TestCgroup>(unique("victim"));
    neighbour_ = std::make_unique<TestCgroup>(unique("neighbour"));
  }

  void start_agent(std::vector<std::string> args) {
    bool by_cgroup = false;
    for (const auto& a : args) by_cgroup = by_cgroup || a.rfind("--victim=cgroup=", 0) == 0;
    agent_ = std::make_unique<Agent>(std::move(args));
    ASSERT_TRUE(agent_->wait_ready()) << agent_->log();
    if (by_cgroup) wait_victims(*agent_, "cgroups", 1);
  }

  // The victim alone, then with `disturb` running; returns the deltas.
  struct Outcome {
    VictimRun alone, disturbed;
    Blame blame_alone, blame_disturbed;
    std::vector<nlohmann::json> events;  // slow events of the disturbed run
  };
  // reuse_file: both runs sync one file prefilled beforehand, so its first,
  // journal-heavy commit is in neither measurement.
  Outcome alone_then(const std::function<std::unique_ptr<Background>()>& disturb, int calls = 200,
                     bool reuse_file = false) {
    Outcome o;
    const std::string shared = disk_->path() + "/wal-shared";
    if (reuse_file) run_victim(*victim_, shared, 1);
    const Blame b0 = blame_of(*agent_, victim_->rel());
    o.alone = run_victim(*victim_, reuse_file ? shared : disk_->path() + "/wal-alone", calls);
    const Blame b1 = blame_of(*agent_, victim_->rel());
    const std::size_t first = agent_->events().size();
    auto neighbour = disturb();
    std::this_thread::sleep_for(1s);  // let it reach its steady state
    o.disturbed = run_victim(*victim_, reuse_file ? shared : disk_->path() + "/wal-disturbed", calls);
    neighbour->stop();
    const Blame b2 = blame_of(*agent_, victim_->rel());
    o.blame_alone = b1 - b0;
    o.blame_disturbed = b2 - b1;
    o.events = events_since(*agent_, first);
    return o;
  }

  std::unique_ptr<LoopFs> disk_;
  std::unique_ptr<TestCgroup> victim_, neighbour_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(BlameScenario, SameDeviceNeighbourIsNamed) {
  // The default selector, comm=etcd, names the victim here.
  start_agent({});
  const auto o = alone_then([&] {
    return std::make_unique<Background>(
        std::vector<std::string>{"/usr/bin/fio", "--name=neighbour", "--filename=" + disk_->path() + "/bulk",
                                 "--size=256M", "--rw=write", "--bs=1M", "--direct=1", "--iodepth=16",
                                 "--ioengine=libaio", "--time_based", "--runtime=120"},
        neighbour_->dir());
  });
  const Blame& d = o.blame_disturbed;
  std::printf("same-device neighbour: %s\n", describe(o.alone, o.disturbed, d, o.events).c_str());
  EXPECT_GT(o.disturbed.p50_s, 10 * o.alone.p50_s);
  EXPECT_EQ(largest_kind(d), "neighbor_io");
  const double neighbour = d.by(neighbour_->rel(), "neighbor_io");
  // Of the I/O part: waiting for a CPU is someone else's (on a loaded CI
  // host, 9% of the windows went to stress-ng's CPU hogs in one run).
  const double io = d.total() - d.of("cpu") - d.of("cpu_throttled");
  const double io_slowdown = (d.window_s - o.blame_alone.window_s) - (d.of("cpu") - o.blame_alone.of("cpu"));
  std::printf("neighbour's share of the victim's blamed time: %.3f, of its I/O part: %.3f, of the I/O slowdown "
              "it caused (%.1f ms): %.3f\n",
              neighbour / d.total(), neighbour / io, io_slowdown * 1e3, neighbour / io_slowdown);
  // Named for most of it. How close to the counterfactual the share comes
  // is the shapes test's bound; here it varies with the host: idle, 0.88 to
  // 0.94 of the I/O part; under stress-ng --io, 2 runs in 7 gave 0.68 and
  // 0.70 (own_io 20-24%: the victim's own requests, timed alone during the
  // host's sync storms, are expected to take that long).
  EXPECT_GT(neighbour, 0.6 * io);
  EXPECT_GT(neighbour, 2 * d.of("own_io")) << "the neighbour, not the victim's own I/O";
  for (const auto& [key, v] : d.culprit) {
    if (key.first != neighbour_->rel() && !key.first.empty()) {
      EXPECT_LT(v, neighbour) << key.first;
    }
  }
  const auto v = verdicts(o.events);
  ASSERT_FALSE(o.events.empty());
  EXPECT_GT(v.count("neighbor") ? v.at("neighbor") : 0, static_cast<int>(o.events.size()) / 2);
  // The events name the neighbour's cgroup as their top culprit.
  int named = 0;
  for (const auto& e : o.events) {
    const auto& culprits = e.at("culprits");
    if (!culprits.empty() && culprits[0].at("cgroup") == neighbour_->rel()) ++named;
  }
  EXPECT_GT(named, static_cast<int>(o.events.size()) / 2);
  EXPECT_EQ(o.disturbed.calls, static_cast<long>(d.windows) - 1) << "every fdatasync and the prefill fsync";
  expect_conservation(o.blame_alone, {});
  expect_conservation(d, o.events);
}

TEST_F(BlameScenario, NeighbourOnAnotherDeviceIsCpu) {
  // The neighbour's I/O goes to a /dev/shm-backed device: it shares the
  // CPUs, not the disk. CPU is made the binding constraint for the victim
  // alone: it gets the least CPU weight; the neighbour a quarter of the
  // default, so that the kernel's own workers (the loop device's, which
  // serve the victim's requests) are not starved as well.
  start_agent({"--victim=cgroup=" + victim_->rel()});
  LoopFs shm("/dev/shm", 512);
  CpuWeight low(*victim_, 1);
  CpuWeight quarter(*neighbour_, 25);
  // With the least weight the victim waits behind any host load, alone as
  // well: one lone run of 200 calls under stress-ng caught a second more
  // CPU wait than the disturbed run after it. So the counterfactual is
  // taken five times, alone then disturbed, and judged by the median pair.
  const std::vector<std::string> fio = {
      "/usr/bin/fio", "--name=neighbour", "--filename=" + shm.path() + "/bulk", "--size=256M", "--rw=randwrite",
      "--bs=4k", "--direct=1", "--iodepth=16", "--ioengine=libaio", "--numjobs=2", "--time_based", "--runtime=120"};
  const std::string wal = disk_->path() + "/wal";
  run_victim(*victim_, wal, 1);  // allocates the file outside every pair
  std::vector<double> more_cpu, slower;
  Blame d;  // all disturbed runs together
  std::vector<nlohmann::json> events;
  for (int pair = 0; pair < 5; ++pair) {
    const Blame b0 = blame_of(*agent_, victim_->rel());
    const VictimRun alone = run_victim(*victim_, wal, 60);
    const Blame b1 = blame_of(*agent_, victim_->rel());
    const std::size_t first = agent_->events().size();
    VictimRun disturbed;
    {
      Background neighbour(fio, neighbour_->join_spec());
      std::this_thread::sleep_for(1s);  // let it reach its steady state
      disturbed = run_victim(*victim_, wal, 60);
    }
    const Blame b2 = blame_of(*agent_, victim_->rel());
    const Blame a = b1 - b0, p = b2 - b1;
    const auto ev = events_since(*agent_, first);
    std::printf("pair %d: %s\n", pair, describe(alone, disturbed, p, ev).c_str());
    more_cpu.push_back(p.of("cpu") - a.of("cpu"));
    slower.push_back(p.window_s - a.window_s);
    d = pair == 0 ? p : d + p;
    events.insert(events.end(), ev.begin(), ev.end());
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double neighbour_io = d.by(neighbour_->rel(), "neighbor_io");
  const double neighbour_cpu = d.by(neighbour_->rel(), "cpu");
  std::printf("median pair: slowdown %.1f ms, of which cpu %.1f ms; named on the neighbour: cpu %.1f ms, I/O %.1f ms\n",
              median(slower) * 1e3, median(more_cpu) * 1e3, neighbour_cpu * 1e3, neighbour_io * 1e3);
  EXPECT_LT(neighbour_io, 0.05 * d.window_s);
  EXPECT_GT(neighbour_cpu, 0) << "the neighbour held the victim's CPU at times";
  EXPECT_GT(median(more_cpu), 0) << "the neighbour's CPU use must show as CPU wait";
  EXPECT_GT(median(more_cpu), 0.5 * median(slower)) << "cpu must explain most of the slowdown";
  expect_conservation(d, events);
}

TEST_F(BlameScenario, IoLimitedVictimIsIoLimit) {
  // An I/O limit on the victim's own cgroup: nobody else is on the device.
  // blk-throttle holds its bios before the disk, so its windows see the
  // disk idle (`device`); the limit, binding, is what explains it.
  start_agent({"--victim=cgroup=" + victim_->rel()});
  const VictimRun alone = run_victim(*victim_, disk_->path() + "/wal-alone", 100);
  const Blame b1 = blame_of(*agent_, victim_->rel());
  const std::size_t first = agent_->events().size();
  VictimRun throttled;
  {
    IoLimit limit(*victim_, disk_->device(), 50);
    throttled = run_victim(*victim_, disk_->path() + "/wal-throttled", 100);
  }
  const Blame d = blame_of(*agent_, victim_->rel()) - b1;
  const auto events = events_since(*agent_, first);
  std::printf("throttled victim: %s\n", describe(alone, throttled, d, events).c_str());
  ASSERT_FALSE(events.empty());
  const auto v = verdicts(events);
  const auto n = [&](const char* verdict) { return v.count(verdict) ? v.at(verdict) : 0; };
  // The test starts no neighbour, but the host may write to the same device
  // (`stress-ng --io` calls sync(): hundreds of requests from "/" into the
  // victim's windows) and hold its CPU. That is a neighbour, rightly named
  // (under stress-ng: 45 of 53 events device or self, 3 neighbor, 3 cpu, 2
  // mixed; device and own I/O 0.83 of the windows). Idle, every event is
  // io_limit, device or self. The limit binds from the first full second
  // the agent measured it at (each call here takes about 40 ms: the first
  // 25 or so are judged before then, `device`).
  EXPECT_GT(d.of("device") + d.of("own_io"), 0.7 * d.window_s);
  EXPECT_GE(n("io_limit") + n("device") + n("self"), static_cast<int>(events.size()) * 3 / 4);
  EXPECT_GE(n("io_limit"), static_cast<int>(events.size()) / 2);
  int named = 0;
  for (const auto& e : events) {
    if (e.at("verdict") != "io_limit") continue;
    ++named;
    const auto& l = e.at("io_limit");
    EXPECT_EQ(l.at("limit"), "wiops=50") << e.dump();
    EXPECT_TRUE(l.at("binding").get<bool>()) << e.dump();
    EXPECT_GE(l.at("rate").get<double>(), 40) << e.dump();
    const std::string where = l.at("cgroup");
    EXPECT_EQ(where.substr(where.size() - victim_->rel().size()), victim_->rel()) << e.dump();
  }
  std::printf("%d of %zu slow calls io_limit\n", named, events.size());
  EXPECT_EQ(d.by(victim_->rel(), "neighbor_io"), 0) << "the victim is not its own neighbour";
  for (const auto& e : events) {
    for (const auto& c : e.at("culprits")) {
      if (c.at("kind") == "neighbor_io") {
        EXPECT_NE(c.at("cgroup"), victim_->rel()) << e.dump();
      }
    }
  }
  expect_conservation(d, events);
}

TEST_F(BlameScenario, JournalPressureIsTheNeighboursTransactions) {
  // A neighbour that creates, syncs and deletes small files on the victim's
  // filesystem keeps jbd2 committing.
  start_agent({"--victim=cgroup=" + victim_->rel(), "--slow-threshold=2ms"});
  const std::string dir = disk_->path() + "/churn";
  sh("mkdir -p " + dir);
  const auto o = alone_then(
      [&] {
        return std::make_unique<Background>(
            // Two writers, so that a commit is nearly always under way.
            std::vector<std::string>{"/bin/sh", "-c",
                                     "for w in a b; do (i=0; while :; do i=$((i+1)); dd if=/dev/zero of=" + dir +
                                         "/$w$((i%50)) bs=4k count=1 conv=fsync status=none; rm -f " + dir +
                                         "/$w$(((i+25)%50)); done) & done; wait"},
            neighbour_->dir());
      },
      200, true);
  const Blame& d = o.blame_disturbed;
  std::printf("journal pressure: %s\n", describe(o.alone, o.disturbed, d, o.events).c_str());
  const double journal = d.of("journal");
  std::printf("journal share %.3f (alone %.3f)\n", journal / d.window_s,
              o.blame_alone.of("journal") / o.blame_alone.window_s);
  EXPECT_GT(journal, 0.02 * d.window_s);
  EXPECT_GT(journal / d.window_s, o.blame_alone.of("journal") / o.blame_alone.window_s);
  // jbd2 writes the transactions the neighbour's creates and deletes
  // filled: the journal's time is the neighbour's, its kind still journal.
  for (const auto& [key, v] : d.culprit) {
    if (key.second == "journal") std::printf("  journal by %s: %.2f ms\n", key.first.c_str(), v * 1e3);
  }
  EXPECT_GT(d.by(neighbour_->rel(), "journal"), 0.8 * journal);
  expect_conservation(d, o.events);
}

}  // namespace
}  // namespace stallwatch::test
