// A victim selected by its process name that lives less than the agent's
// once-a-second scan of /proc: a backup job, a CronJob's `etcdctl snapshot
// save`, a test's own short run. The kernel matches exact comm= names at
// each call, so every call of every such process is followed. And the other
// way round: a process a glob names, which was syncing before the scan found
// it, is followed from then on, though the kernel remembers each thread's
// verdict.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

std::vector<nlohmann::json> slow_events(const Agent& agent) {
  std::vector<nlohmann::json> out;
  for (const auto& line : agent.events()) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "slow_fsync") out.push_back(j);
  }
  return out;
}

// Waits until the agent has written n slow events (or 20 s pass).
std::vector<nlohmann::json> wait_events(const Agent& agent, std::size_t n) {
  auto events = slow_events(agent);
  for (int i = 0; i < 200 && events.size() < n; ++i) {
    std::this_thread::sleep_for(100ms);
    events = slow_events(agent);
  }
  return events;
}

TEST(ShortLivedVictims, EveryCallOfAProcessThatLivesMillisecondsIsFollowed) {
  SW_REQUIRE_ROOT();
  LoopFs disk("/dev/shm", 64);
  const std::string wal = disk.path() + "/wal";
  // The helper names itself etcd (prctl), as etcd's own binary is named.
  Agent agent({"--victim=comm=etcd", "--slow-threshold=0ns", "--events-rate=0", "--probe-hook=off"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  // One run to prefill the file (its fsync and one fdatasync are events too).
  ASSERT_EQ(run_command({victim_helper(), wal, "--calls", "1", "--delay-ms", "0"}).exit.code, 0);
  const std::size_t before = wait_events(agent, 2).size();
  ASSERT_EQ(before, 2U) << agent.log();

  constexpr int kRuns = 20, kCalls = 3;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_EQ(run_command({victim_helper(), wal, "--calls", std::to_string(kCalls), "--delay-ms", "0"}).exit.code, 0);
  }
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const auto events = wait_events(agent, before + kRuns * kCalls);
  std::set<long> pids;
  for (std::size_t i = before; i < events.size(); ++i) {
    EXPECT_EQ(events[i].at("victim").at("comm"), "etcd");
    EXPECT_EQ(events[i].at("op"), "fdatasync");
    pids.insert(events[i].at("victim").at("pid").get<long>());
  }
  std::printf("%d runs of %d fdatasyncs in %.0f ms (%.1f ms each): %zu events from %zu processes\n", kRuns, kCalls,
              run_ms, run_ms / kRuns, events.size() - before, pids.size());
  EXPECT_EQ(events.size() - before, static_cast<std::size_t>(kRuns * kCalls));
  EXPECT_EQ(pids.size(), static_cast<std::size_t>(kRuns));
}

TEST(ScannedVictims, AProcessThatSyncedBeforeTheScanNamedItIsFollowedAfter) {
  SW_REQUIRE_ROOT();
  LoopFs disk("/dev/shm", 64);
  // A glob: only user space's scan of /proc can match it, once a second.
  Agent agent({"--victim=comm=etc?", "--slow-threshold=0ns", "--events-rate=0", "--probe-hook=off"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  // Syncs at once (its file's prefill), so the kernel has judged the thread
  // before the scan adds its process; then 300 fdatasyncs over 3 s.
  constexpr int kCalls = 300;
  Background helper({victim_helper(), disk.path() + "/wal", "--calls", std::to_string(kCalls), "--delay-ms", "0",
                     "--interval-us", "10000"});
  std::string out;
  for (int i = 0; i < 300 && (out = helper.output()).find("calls ") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(out.find("calls " + std::to_string(kCalls)), std::string::npos) << out;
  std::this_thread::sleep_for(1500ms);  // the last events reach the log
  std::size_t followed = 0;
  for (const auto& e : slow_events(agent)) followed += e.at("op") == "fdatasync";
  std::printf("%zu of %d fdatasyncs followed after the scan named the process\n", followed, kCalls);
  // The scan runs within a second of the start, and the run lasts three.
  EXPECT_GE(followed, static_cast<std::size_t>(kCalls / 2)) << agent.log();
  EXPECT_LE(followed, static_cast<std::size_t>(kCalls));
}

}  // namespace
}  // namespace stallwatch::test
