// Start, serve, stop: signals detach everything, kill -9 leaves nothing loaded.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    before_ = loaded_stallwatch_programs();
  }
  // Programs are freed once the last fd closes, after an RCU grace period.
  bool programs_back_to_baseline(std::chrono::milliseconds within) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (loaded_stallwatch_programs() == before_) return true;
      std::this_thread::sleep_for(50ms);
    }
    return loaded_stallwatch_programs() == before_;
  }
  std::vector<std::string> before_;
};

TEST_F(Lifecycle, SigtermDetachesAndExitsWithinTwoSeconds) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  // One enter program for the fd-taking calls, msync's, one exit program
  // for all, io_uring's submit and completion.
  EXPECT_GE(loaded_stallwatch_programs().size(), before_.size() + 5) << "fsync programs not loaded";
  const Exit e = agent.stop(SIGTERM);
  EXPECT_EQ(e.code, 0) << agent.log();
  EXPECT_LT(e.waited, 2000ms);
  EXPECT_TRUE(programs_back_to_baseline(2s));
  EXPECT_NE(agent.log().find("received SIGTERM, detaching"), std::string::npos);
}

TEST_F(Lifecycle, SigintDetachesAndExitsWithinTwoSeconds) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const Exit e = agent.stop(SIGINT);
  EXPECT_EQ(e.code, 0) << agent.log();
  EXPECT_LT(e.waited, 2000ms);
  EXPECT_TRUE(programs_back_to_baseline(2s));
}

TEST_F(Lifecycle, KillNineLeavesNoProgramLoaded) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  ASSERT_GT(loaded_stallwatch_programs().size(), before_.size());
  const Exit e = agent.stop(SIGKILL);
  EXPECT_EQ(e.signal, SIGKILL);
  EXPECT_TRUE(programs_back_to_baseline(5s)) << "left: " << loaded_stallwatch_programs().size();
}

// One agent per node: a second one refuses, on the same port or another,
// naming the first; the first is unharmed.
TEST_F(Lifecycle, SecondAgentOnTheNodeRefusesWithOneLine) {
  Agent first;
  ASSERT_TRUE(first.wait_ready()) << first.log();
  const auto programs = loaded_stallwatch_programs().size();
  for (const std::string& where : {"127.0.0.1:" + std::to_string(first.port()), std::string("127.0.0.1:0")}) {
    const Completed second =
        run_command({agent_binary(), "run", "--web.listen-address=" + where, "--events-file=/dev/null",
                     "--recorder-max-size=0"});
    EXPECT_EQ(second.exit.code, 1);
    EXPECT_NE(second.err.find("another stallwatch agent runs on this node (pid " + std::to_string(first.pid()) + ": "),
              std::string::npos)
        << second.err;
    EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
  }
  EXPECT_EQ(loaded_stallwatch_programs().size(), programs) << "the second one loaded programs";
  EXPECT_EQ(http_get(first.port(), "/healthz").status, 200);
  // Once the first is gone, a new one starts.
  first.stop(SIGTERM);
  Agent next;
  EXPECT_TRUE(next.wait_ready()) << next.log();
}

TEST_F(Lifecycle, HealthzAndMetricsAnswer) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const auto health = http_get(agent.port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const auto metrics = http_get(agent.port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  const Exposition m(metrics.body);
  EXPECT_EQ(m.value("stallwatch_hook_info", {{"subsystem", "fsync"}}), 1.0);
  EXPECT_EQ(m.all("stallwatch_build_info").size(), 1U);
  EXPECT_EQ(http_get(agent.port(), "/nope").status, 404);
}

TEST_F(Lifecycle, LiveScrapePassesPromtool) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  run_shell("sync");  // some fsync-family traffic so histograms exist
  const std::string body = http_get(agent.port(), "/metrics").body;
  const std::string file = "/tmp/stallwatch-promtool." + std::to_string(getpid());
  FILE* f = std::fopen(file.c_str(), "w");
  std::fwrite(body.data(), 1, body.size(), f);
  std::fclose(f);
  const ShellResult r = run_shell("promtool check metrics < " + file);
  std::remove(file.c_str());
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "") << r.out;
}

// A fresh host has no tracefs mounted; the agent mounts it (private mount
// namespace here, so the host's mounts stay as they are).
TEST_F(Lifecycle, DoctorMountsTracefsWhenMissing) {
  const std::string script =
      "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing 2>/dev/null; "
      "umount /sys/kernel/debug 2>/dev/null; exec " +
      agent_binary() + " doctor";
  const Completed c = run_command({"/usr/bin/unshare", "--mount", "/bin/sh", "-c", script});
  EXPECT_EQ(c.exit.code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("tracefs        /sys/kernel/tracing (mounted now)"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("tracepoint   chosen"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("verdict        ok"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace stallwatch::test

namespace stallwatch::test {
namespace {

TEST(Logging, JsonFormatIsOneObjectPerLine) {
  SW_REQUIRE_ROOT();
  Agent agent({"--log-format=json", "--log-level=debug"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  agent.stop(SIGTERM);
  std::istringstream lines(agent.log());
  std::string line;
  int n = 0;
  bool saw_start = false;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    ASSERT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    const std::string msg = j["msg"];
    saw_start |= j["level"] == "info" && msg.find("serving /metrics") != std::string::npos;
    // A better rung this kernel refuses is the normal case: info, naming the
    // rung that runs (here: fentry refused, tracepoints run); a warning only
    // for a subsystem left with none.
    if (msg.find(" not used: ") != std::string::npos) {
      EXPECT_EQ(j["level"], msg.find("; running on ") != std::string::npos ? "info" : "warning") << line;
      if (msg.rfind("fsync rung fentry not used", 0) == 0) {
        EXPECT_NE(msg.find("; running on tracepoint"), std::string::npos) << line;
      }
    }
    ++n;
  }
  EXPECT_GE(n, 3);
  EXPECT_TRUE(saw_start);
}

}  // namespace
}  // namespace stallwatch::test

namespace stallwatch::test {
namespace {

// The start-up self-test: one call of each kind from a private cgroup, each
// seen exactly once, reported in /metrics and by doctor, and gone after.
TEST(SelfTest, EveryCallSeenOnceAndReported) {
  SW_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const Exposition m = scrape_metrics(agent.port());
  for (const char* op : {"fsync", "fdatasync", "sync_file_range", "msync", "syncfs", "io_uring_fsync"}) {
    EXPECT_EQ(m.value("stallwatch_fsync_selftest_calls", {{"op", op}, {"kind", "seen"}}), 1.0) << op;
    EXPECT_EQ(m.value("stallwatch_fsync_selftest_calls", {{"op", op}, {"kind", "expected"}}), 1.0) << op;
  }
  // Its series were removed again, and so was its cgroup.
  for (const auto& s : m.all("stallwatch_fsync_duration_seconds_count")) {
    EXPECT_EQ(s.labels.at("cgroup").find("stallwatch-selftest"), std::string::npos) << s.labels.at("cgroup");
  }
  EXPECT_NE(agent.log().find("fsync self-test on "), std::string::npos) << agent.log();
  const Completed doctor = run_command({agent_binary(), "doctor"});
  EXPECT_EQ(doctor.exit.code, 0);
  EXPECT_NE(doctor.out.find("  fdatasync          fdatasync(2)                         seen 1 of 1  ok"),
            std::string::npos)
      << doctor.out;
}

}  // namespace
}  // namespace stallwatch::test
