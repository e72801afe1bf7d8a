// The event log as a service ships it: rotated by size within a bound,
// reopened on SIGHUP after logrotate moved it, limited per victim with the
// count of what was held back, and never a reason for the agent to stall or
// die (a full disk, a stdout nobody reads). Every event is a victim's
// fdatasync with --slow-threshold=0ns, so the counts are exact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

double lines_total(int port, const std::string& result) {
  const auto v = scrape_metrics(port).value("stallwatch_event_log_lines_total", {{"result", result}});
  return v ? *v : -1;
}

// Waits until written + failed + dropped + suppressed reaches n (or 20 s pass).
void wait_accounted(int port, double n) {
  for (int i = 0; i < 200; ++i) {
    const auto m = scrape_metrics(port);
    double sum = 0;
    for (const char* r : {"written", "failed", "dropped", "suppressed"}) {
      sum += m.value("stallwatch_event_log_lines_total", {{"result", r}}).value_or(0);
    }
    if (sum >= n) return;
    std::this_thread::sleep_for(100ms);
  }
}

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    victim_ = std::make_unique<TestCgroup>("stallwatch-evlog-" + std::to_string(getpid()));
    disk_ = std::make_unique<LoopFs>("/dev/shm", 64);
  }
  std::vector<std::string> agent_args(const std::vector<std::string>& more) const {
    std::vector<std::string> a = {"--victim=cgroup=" + victim_->rel(), "--slow-threshold=0ns", "--probe-hook=off"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  void syncs(int n) const { run_fsync_helper(victim_->dir(), disk_->path(), {"--fdatasync", std::to_string(n)}); }

  std::unique_ptr<TestCgroup> victim_;
  std::unique_ptr<LoopFs> disk_;
  TempDir logs_;
};

TEST_F(EventLogTest, RotatesBySizeAndKeepsOnlyTheNewestFiles) {
  const std::string path = logs_.path() + "/events.jsonl";
  Agent agent(agent_args({"--events-file=" + path, "--events-max-size=64KiB", "--events-keep=2", "--events-rate=0"}));
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  syncs(600);
  wait_accounted(agent.port(), 600);
  EXPECT_EQ(lines_total(agent.port(), "written"), 600);
  const auto rotations = scrape_metrics(agent.port()).value("stallwatch_event_log_rotations_total", {});
  ASSERT_TRUE(rotations);
  EXPECT_GE(*rotations, 3) << "600 events of about 1 KB in 64 KiB files";
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3")) << "--events-keep=2";
  std::size_t kept = 0;
  for (const auto& f : {path, path + ".1", path + ".2"}) {
    const auto lines = lines_of(f);
    ASSERT_FALSE(lines.empty()) << f;
    EXPECT_EQ(nlohmann::json::parse(lines.front()).value("event", ""), "start") << f << " starts with " << lines.front();
    kept += lines.size() - 1;
    std::size_t longest = 0;
    for (const auto& l : lines) {
      longest = std::max(longest, l.size() + 1);
      EXPECT_TRUE(nlohmann::json::accept(l)) << f << ": " << l;
    }
    EXPECT_LE(fs::file_size(f), 64 * 1024 + longest) << f << " grew past the bound by more than its last line";
  }
  EXPECT_LT(kept, 600u) << "the oldest files went";
  std::printf("600 events: %.0f rotations, %zu lines kept in 3 files\n", *rotations, kept);
}

TEST_F(EventLogTest, TheFirstLineSaysOnceWhatWroteTheRest) {
  const std::string path = logs_.path() + "/events.jsonl";
  Agent agent(agent_args({"--events-file=" + path, "--events-rate=0"}));
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  syncs(5);
  wait_accounted(agent.port(), 5);
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 6u);
  const auto start = nlohmann::json::parse(lines.front());
  EXPECT_EQ(lines.front().rfind(R"({"event":"start","schema_version":1,"time":")", 0), 0u) << lines.front();
  EXPECT_EQ(start.at("pid"), agent.pid());
  EXPECT_EQ(start.at("hooks").at("fsync"), "tracepoint");
  EXPECT_EQ(start.at("hooks").at("probe"), "off");
  EXPECT_EQ(start.at("victims"), nlohmann::json::array({"cgroup=" + victim_->rel()}));
  EXPECT_EQ(start.at("slow_threshold_ms"), 0.0);
  EXPECT_EQ(start.at("probe_slow_threshold_ms"), 500.0);
  EXPECT_FALSE(start.at("kernel").get<std::string>().empty());
  EXPECT_FALSE(start.at("version").get<std::string>().empty());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto e = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(e.value("event", ""), "slow_fsync");
    EXPECT_FALSE(e.contains("hooks")) << "said once, in the start event";
  }
  EXPECT_EQ(lines_total(agent.port(), "written"), 5) << "the start line is no event";
}

TEST_F(EventLogTest, SighupReopensAFileLogrotateMoved) {
  const std::string path = logs_.path() + "/events.jsonl";
  Agent agent(agent_args({"--events-file=" + path, "--events-rate=0"}));
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  syncs(50);
  wait_accounted(agent.port(), 50);
  fs::rename(path, path + ".old");  // what logrotate does before it signals
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  for (int i = 0; i < 100 && !fs::exists(path); ++i) std::this_thread::sleep_for(50ms);
  syncs(30);
  wait_accounted(agent.port(), 80);
  // Each file starts with the agent's start event, then its own events.
  const auto old_lines = lines_of(path + ".old"), new_lines = lines_of(path);
  ASSERT_EQ(old_lines.size(), 51u);
  ASSERT_EQ(new_lines.size(), 31u);
  EXPECT_EQ(old_lines.front(), new_lines.front());
  const auto start = nlohmann::json::parse(new_lines.front());
  EXPECT_EQ(start.value("event", ""), "start") << new_lines.front();
  EXPECT_EQ(lines_total(agent.port(), "written"), 80);
  EXPECT_NE(agent.log().find("received SIGHUP, reopening " + path), std::string::npos) << agent.log();
}

TEST_F(EventLogTest, AVictimPastItsRateIsHeldBackAndItsNextEventSaysHowMany) {
  const std::string path = logs_.path() + "/events.jsonl";
  Agent agent(agent_args({"--events-file=" + path, "--events-rate=2"}));  // bursts of 20
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  syncs(200);
  wait_accounted(agent.port(), 200);
  const double written = lines_total(agent.port(), "written");
  const double suppressed = lines_total(agent.port(), "suppressed");
  EXPECT_EQ(written + suppressed, 200);
  EXPECT_GE(written, 20) << "the burst";
  EXPECT_LE(written, 40) << "the burst and 2 a second for a few seconds at most";
  std::this_thread::sleep_for(1s);  // a token comes back
  syncs(1);
  wait_accounted(agent.port(), 201);
  const auto lines = lines_of(path);
  ASSERT_FALSE(lines.empty());
  const auto last = nlohmann::json::parse(lines.back());
  EXPECT_EQ(last.value("suppressed", 0.0), suppressed) << lines.back();
  std::printf("200 calls at once: %.0f written, %.0f held back, counted in the next event\n", written, suppressed);
}

// A filesystem that fills up: events fail and are counted; the agent lives.
TEST_F(EventLogTest, AFullDiskFailsEventsAndTheAgentGoesOn) {
  ASSERT_EQ(mount("tmpfs", logs_.path().c_str(), "tmpfs", 0, "size=32k"), 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{logs_.path()};
  const std::string path = logs_.path() + "/events.jsonl";
  Agent agent(agent_args({"--events-file=" + path, "--events-rate=0"}));
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  syncs(300);
  wait_accounted(agent.port(), 300);
  const double written = lines_total(agent.port(), "written");
  const double failed = lines_total(agent.port(), "failed");
  EXPECT_EQ(written + failed, 300);
  EXPECT_GT(failed, 0);
  EXPECT_LE(fs::file_size(path), 32u * 1024);
  EXPECT_EQ(kill(agent.pid(), 0), 0) << "the agent died";
  std::printf("32 KiB filesystem, 300 events: %.0f written, %.0f failed\n", written, failed);
}

// stdout into a pipe nobody reads: the writer waits, the queue fills, the
// rest is dropped and counted, and the kernel side and /metrics never wait.
TEST_F(EventLogTest, AStdoutNobodyReadsDropsEventsAndStallsNothing) {
  const int port = free_port();
  std::string cmd = "exec " + agent_binary() + " run --web.listen-address=127.0.0.1:" + std::to_string(port) +
                    " --events-file=- --events-rate=0 --recorder-max-size=0";
  for (const auto& a : agent_args({})) cmd += " '" + a + "'";
  Background agent({"/bin/sh", "-c", cmd + " | sleep 3600"});
  for (int i = 0; i < 300; ++i) {
    try {
      if (http_get(port, "/healthz").status == 200) break;
    } catch (const std::exception&) {  // not listening yet
    }
    std::this_thread::sleep_for(100ms);
  }
  // In batches, so that the ring buffer's reader keeps up on a loaded or
  // sanitized build: an event the ring had no room for never reaches the
  // log (it is counted as lost), and the queue is what is tested here.
  for (int batch = 0; batch < 20; ++batch) {
    syncs(500);
    std::this_thread::sleep_for(100ms);
  }
  const auto ring_lost = [&] {
    return scrape_metrics(port)
        .value("stallwatch_events_lost_total", {{"source", "blame"}, {"reason", "ringbuf_full"}})
        .value_or(0);
  };
  wait_accounted(port, 10000 - 8193 - ring_lost());
  const auto t0 = std::chrono::steady_clock::now();
  const double written = lines_total(port, "written");
  const double dropped = lines_total(port, "dropped");
  const auto scrape_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double delivered = 10000 - ring_lost();
  // 8192 wait in the queue and at most one in the writer's hands.
  EXPECT_GE(delivered - written - dropped, 8192);
  EXPECT_LE(delivered - written - dropped, 8193);
  EXPECT_GT(dropped, 0);
  std::printf("10000 events to a stuck stdout: %.0f lost in the ring, %.0f written (the pipe's buffer), %.0f dropped, "
              "scrape %.1f ms\n",
              10000 - delivered, written, dropped, scrape_ms);
}

}  // namespace
}  // namespace stallwatch::test
