// Which node an answer came from: NODE_NAME (the DaemonSet fills it from
// spec.nodeName; inside a pod the host name is the pod's), else the host
// name. Every slow-fsync event, stallwatch_build_info, the start-up line,
// the capture bundle, its report and `top` carry it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class NodeIdentity : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    victim_ = std::make_unique<TestCgroup>("stallwatch-node-" + std::to_string(getpid()));
    disk_ = std::make_unique<LoopFs>("/dev/shm", 64);
    setenv("NODE_NAME", node_.c_str(), 1);
  }
  void TearDown() override { unsetenv("NODE_NAME"); }
  std::vector<std::string> victim_args() const {
    return {"--victim=cgroup=" + victim_->rel(), "--slow-threshold=0ns", "--probe-hook=off"};
  }

  const std::string node_ = "ip-10-0-3-17.test-" + std::to_string(getpid());
  std::unique_ptr<TestCgroup> victim_;
  std::unique_ptr<LoopFs> disk_;
};

TEST_F(NodeIdentity, EveryEventTheStartLineAndBuildInfoNameTheNode) {
  auto args = victim_args();
  args.push_back("--events-rate=0");
  Agent agent(args);
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  EXPECT_NE(agent.log().find("on node " + node_ + ", kernel "), std::string::npos) << agent.log();
  run_fsync_helper(victim_->dir(), disk_->path(), {"--fdatasync", "20"});
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && (lines = agent.events()).size() < 20; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(lines.size(), 20U) << "one event per fdatasync at --slow-threshold=0ns";
  for (const auto& line : lines) {
    const auto e = nlohmann::json::parse(line);
    EXPECT_EQ(e.value("node", ""), node_) << line;
  }
  const auto m = scrape_metrics(agent.port());
  EXPECT_EQ(m.all("stallwatch_build_info").size(), 1U);
  EXPECT_EQ(m.value("stallwatch_build_info", {{"nodename", node_}}).value_or(0), 1.0);
}

TEST_F(NodeIdentity, TheBundleItsReportAndTopNameTheNode) {
  TempDir cwd;
  std::string argv;
  for (const auto& a : victim_args()) argv += " '" + a + "'";
  // No --out: the bundle is named after the node, in the working directory.
  const auto c =
      run_shell("cd " + cwd.path() + " && " + agent_binary() + " capture --duration=2s --no-progress" + argv + " 2>&1");
  ASSERT_EQ(c.rc, 0) << c.out;
  fs::path bundle;
  for (const auto& e : fs::directory_iterator(cwd.path())) bundle = e.path();
  ASSERT_FALSE(bundle.empty());
  EXPECT_EQ(bundle.filename().string().rfind("stallwatch-capture-" + node_ + "-", 0), 0U) << bundle;
  EXPECT_EQ(nlohmann::json::parse(slurp_file(bundle / "host.json")).value("node", ""), node_);
  EXPECT_NE(slurp_file(bundle / "report.html").find("<span id=\"node\">" + node_ + "</span>"), std::string::npos);

  auto top = victim_args();
  top.insert(top.begin(), {agent_binary(), "top", "--once"});
  const Completed t = run_command(top);
  ASSERT_EQ(t.exit.code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("stallwatch top  " + node_ + "  ", 0), 0U) << t.out;
}

TEST_F(NodeIdentity, ANodeNameThatIsNoNameIsRefusedInOneLine) {
  for (const char* bad : {"node a", "node\"a", "node\na"}) {
    setenv("NODE_NAME", bad, 1);
    // Nothing may land in the host's state directory.
    const Completed c = run_command(
        {agent_binary(), "run", "--web.listen-address=127.0.0.1:0", "--events-file=/dev/null", "--recorder-max-size=0"});
    EXPECT_EQ(c.exit.code, 2) << bad;
    EXPECT_NE(c.err.find("NODE_NAME is not a node name"), std::string::npos) << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
  }
}

}  // namespace
}  // namespace stallwatch::test
