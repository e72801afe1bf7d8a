// `stallwatch capture`, `report` and `top` by hand, as a person would use
// them during an incident: a victim named etcd, a same-device fio
// neighbour, a capture waiting on a trigger; the report opened in headless
// Chromium; top driven in tmux.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "support/processes.h"
#include "support/report_page.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uintmax_t dir_size(const fs::path& dir) {
  std::uintmax_t total = 0;
  for (const auto& f : fs::directory_iterator(dir)) total += f.is_regular_file() ? f.file_size() : 0;
  return total;
}

// The same-device neighbour scenario: victim and neighbour started by the test.
class Incident : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    disk_ = std::make_unique<LoopFs>("/var/tmp", 512);
    victim_ = std::make_unique<TestCgroup>("stallwatch-cap-victim-" + std::to_string(getpid()));
    neighbour_ = std::make_unique<TestCgroup>("stallwatch-cap-noisy-" + std::to_string(getpid()));
  }
  void start_victim() {
    victim_proc_ =
        std::make_unique<Background>(std::vector<std::string>{victim_helper(), disk_->path() + "/wal", "--calls",
                                                              "100000", "--delay-ms", "0", "--interval-us", "2000"},
                                     victim_->dir());
  }
  void start_neighbour() {
    neighbour_proc_ = std::make_unique<Background>(
        std::vector<std::string>{"/usr/bin/fio", "--name=noisy", "--filename=" + disk_->path() + "/bulk", "--size=256M",
                                 "--rw=write", "--bs=1M", "--direct=1", "--iodepth=16", "--ioengine=libaio",
                                 "--time_based", "--runtime=120"},
        neighbour_->dir());
  }
  // A page-cache flood: buffered 1 MiB writes that nobody syncs, written
  // out by the flusher (the shape once told as "journal" and "device").
  void start_buffered_neighbour() {
    neighbour_proc_ = std::make_unique<Background>(
        std::vector<std::string>{"/usr/bin/fio", "--name=flood", "--filename=" + disk_->path() + "/bulk", "--size=256M",
                                 "--rw=write", "--bs=1M", "--ioengine=psync", "--time_based", "--runtime=120"},
        neighbour_->dir());
  }
  void TearDown() override {
    neighbour_proc_.reset();
    victim_proc_.reset();
  }

  std::unique_ptr<LoopFs> disk_;
  std::unique_ptr<TestCgroup> victim_, neighbour_;
  std::unique_ptr<Background> victim_proc_, neighbour_proc_;
};

TEST_F(Incident, TriggeredCaptureKeepsWhatCameBeforeAndNamesTheNeighbour) {
  TempDir out;
  const fs::path bundle = fs::path(out.path()) / "bundle";
  start_victim();
  const auto t0 = std::chrono::steady_clock::now();
  Background capture({agent_binary(), "capture", "--trigger=fsync>15ms", "--pre=10s", "--post=4s",
                      "--out=" + bundle.string(), "--max-size=5MB", "--slow-threshold=3ms",
                      "--victim=cgroup=" + victim_->rel()});
  for (int i = 0; i < 100 && !fs::exists(bundle / "host.json"); ++i) std::this_thread::sleep_for(20ms);
  std::printf("capture start-up (launch to recording, host.json written): %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::this_thread::sleep_for(3s);  // victim alone: nothing reaches 15 ms
  start_neighbour();
  // The capture ends by itself --post after the trigger.
  for (int i = 0; i < 300 && !fs::exists(bundle / "report.html"); ++i) std::this_thread::sleep_for(100ms);
  const double startup_to_end = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  capture.stop();
  ASSERT_TRUE(fs::exists(bundle / "report.html")) << capture.output();
  for (const char* f : {"events.jsonl", "timeseries.jsonl", "metrics-start.prom", "metrics-end.prom", "host.json",
                        "summary.json", "report.html"}) {
    EXPECT_TRUE(fs::exists(bundle / f)) << f;
  }
  const auto summary = nlohmann::json::parse(slurp(bundle / "summary.json"));
  const std::string triggered = summary["capture"]["triggered_at"];
  ASSERT_FALSE(triggered.empty()) << summary.dump(2);
  // Events from before the trigger were kept (the pre-trigger ring).
  int before = 0, events = 0;
  std::ifstream in(bundle / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line);
    ++events;
    before += e["time"].get<std::string>() < triggered;
  }
  std::printf("bundle %s: %d events (%d before the trigger), %zu samples, %ju bytes; %.1f s from start to report\n",
              bundle.c_str(), events, before, summary["samples"].get<std::size_t>(), dir_size(bundle), startup_to_end);
  std::printf("summary: %s\n", summary["sentence"].get<std::string>().c_str());
  EXPECT_GT(before, 0);
  EXPECT_GE(summary["samples"].get<int>(), 4);
  ASSERT_TRUE(summary.contains("top_culprit")) << summary.dump(2);
  EXPECT_EQ(summary["top_culprit"]["labels"]["cgroup"], neighbour_->rel());
  EXPECT_NE(summary["sentence"].get<std::string>().find(neighbour_->rel()), std::string::npos);
  EXPECT_LE(dir_size(bundle), 5'000'000U);
  EXPECT_TRUE(nlohmann::json::parse(slurp(bundle / "host.json")).contains("hooks"));
  EXPECT_NE(slurp(bundle / "metrics-end.prom").find("stallwatch_fsync_blame_seconds_total"), std::string::npos);

  // The report, in a real browser, offline: the neighbour, the verdict
  // sentence, a timeline with points; and nothing fetched.
  const std::string html = slurp(bundle / "report.html");
  EXPECT_EQ(fetches(html), "");
  TempDir profile;
  const std::string png = (bundle / "report.png").string();
  const std::string chromium =
      "chromium --headless --no-sandbox --disable-gpu --user-data-dir=" + profile.path() + " --window-size=1200,2400 ";
  const auto shot = run_shell(chromium + "--screenshot=" + png + " file://" + (bundle / "report.html").string());
  ASSERT_TRUE(fs::exists(png)) << shot.out;
  EXPECT_GT(fs::file_size(png), 20'000U);
  std::printf("screenshot: %s (%ju bytes)\n", png.c_str(), fs::file_size(png));
  const auto dom = run_shell(chromium + "--dump-dom file://" + (bundle / "report.html").string());
  EXPECT_NE(dom.out.find(neighbour_->rel()), std::string::npos);
  EXPECT_NE(dom.out.find("id=\"verdict\""), std::string::npos);
  EXPECT_NE(dom.out.find("Verdict: neighbor"), std::string::npos) << summary["sentence"];
  // Chart.js drew the slow calls and the heat map; no chart failed.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom.out, m, std::regex(R"re(id="slowcalls"[^>]*data-points="(\d+)")re")))
      << "no slow calls drawn";
  EXPECT_GT(std::stoi(m[1]), 5);
  ASSERT_TRUE(std::regex_search(dom.out, m, std::regex(R"re(id="timeline"[^>]*data-points="(\d+)")re")))
      << "no heat map";
  EXPECT_GT(std::stoi(m[1]), 5);
  EXPECT_EQ(dom.out.find("class=\"chart-error\""), std::string::npos);

  // `report` renders the same bundle again.
  fs::remove(bundle / "report.html");
  const Completed again = run_command({agent_binary(), "report", bundle.string()});
  EXPECT_EQ(again.exit.code, 0) << again.err;
  EXPECT_TRUE(fs::exists(bundle / "report.html"));
}

TEST_F(Incident, MaxSizeStopsTheCaptureWithAValidBundle) {
  TempDir out;
  const fs::path bundle = fs::path(out.path()) / "small";
  start_victim();
  start_neighbour();
  const auto capture = [&](const std::string& max) {
    return run_command({agent_binary(), "capture", "--duration=30s", "--out=" + bundle.string(), "--max-size=" + max,
                        "--slow-threshold=1ms", "--victim=cgroup=" + victim_->rel()});
  };
  // The metrics snapshots grow with the host's series (a loaded CI host had
  // four times an idle one's), and the report inlines its chart scripts: a
  // bound below them is refused with the size they take, and the user asks
  // for that much more.
  std::string max = "200KB";
  std::uint64_t max_bytes = 200'000;
  Completed c = capture(max);
  const std::regex below(
      R"(--max-size 200KB is below what the metrics snapshots and the report's scripts take here \(about (\d+) KB\))");
  if (std::smatch m; c.exit.code == 2 && std::regex_search(c.err, m, below)) {
    max_bytes = (std::stoull(m[1]) + 200) * 1000;
    max = std::to_string(max_bytes / 1000) + "KB";
    std::printf("200KB refused: the snapshots take about %s KB here; asking for %s\n", m[1].str().c_str(), max.c_str());
    fs::remove_all(bundle);
    c = capture(max);
  }
  EXPECT_EQ(c.exit.code, 0) << c.err;
  EXPECT_NE(c.err.find("--max-size " + max + " reached"), std::string::npos) << c.err;
  const auto summary = nlohmann::json::parse(slurp(bundle / "summary.json"));
  EXPECT_TRUE(summary["capture"]["truncated"].get<bool>());
  EXPECT_TRUE(fs::exists(bundle / "report.html"));
  std::ifstream in(bundle / "events.jsonl");
  for (std::string line; std::getline(in, line);)
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded());
  std::printf("max-size %s: bundle %ju bytes, stopped after %.1f s\n", max.c_str(), dir_size(bundle),
              summary["capture"]["duration_s"].get<double>());
  EXPECT_LE(dir_size(bundle), max_bytes);
}

// kill -9 mid-capture (the node rebooted, the OOM killer): no summary, maybe a
// torn last line; `report` renders what was written and says it was cut short.
TEST_F(Incident, KillNineMidCaptureLeavesABundleReportRenders) {
  TempDir out;
  const fs::path bundle = fs::path(out.path()) / "killed";
  start_victim();
  Background capture({agent_binary(), "capture", "--duration=60s", "--out=" + bundle.string(), "--slow-threshold=0ns",
                      "--victim=cgroup=" + victim_->rel()});
  // Until some events and samples are on disk.
  for (int i = 0;
       i < 300 && !(fs::exists(bundle / "events.jsonl") && fs::file_size(bundle / "events.jsonl") > 0 &&
                    fs::exists(bundle / "timeseries.jsonl") && fs::file_size(bundle / "timeseries.jsonl") > 400);
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  capture.stop();  // SIGKILL
  ASSERT_FALSE(fs::exists(bundle / "summary.json"));
  std::size_t whole = 0;
  {
    std::ifstream in(bundle / "events.jsonl");
    for (std::string line; std::getline(in, line);)
      whole += !nlohmann::json::parse(line, nullptr, false).is_discarded();
  }
  ASSERT_GT(whole, 0U) << capture.output();
  std::ofstream(bundle / "events.jsonl", std::ios::app) << R"({"event":"slow_fsync","ti)";  // torn by the kill
  const Completed r = run_command({agent_binary(), "report", bundle.string()});
  EXPECT_EQ(r.exit.code, 0) << r.err;
  EXPECT_NE(r.err.find("was cut short (no summary.json)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 lines of the bundle were not JSON"), std::string::npos) << r.err;
  const auto summary = nlohmann::json::parse(slurp(bundle / "summary.json"));
  EXPECT_TRUE(summary["capture"]["incomplete"].get<bool>());
  EXPECT_EQ(summary["events"]["slow_fsync"].get<std::size_t>(), whole);
  const std::string html = slurp(bundle / "report.html");
  EXPECT_NE(html.find("id=\"incomplete\""), std::string::npos);
  std::printf("killed mid-capture: %zu whole events and a torn line; report rendered from them\n", whole);
}

std::string utc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Nobody ran capture: the agent's flight recorder had it. A quiet stretch,
// a same-device neighbour, the agent restarted (and later killed -9), then
// `report --state-dir` for the incident's window names the neighbour, the
// quiet window says there was no incident, and --list shows both.
TEST_F(Incident, TheFlightRecorderRendersAPastWindowAfterARestart) {
  TempDir state, out;
  const std::vector<std::string> args = {"--state-dir=" + state.path(), "--slow-threshold=3ms",
                                         "--victim=cgroup=" + victim_->rel()};
  using clock = std::chrono::system_clock;
  clock::time_point quiet_from, quiet_to, incident_from, incident_to;
  {
    Agent agent(args);
    ASSERT_TRUE(agent.wait_ready()) << agent.log();
    start_victim();
    quiet_from = clock::now() + 1s;
    std::this_thread::sleep_for(8s);
    quiet_to = clock::now();
    start_neighbour();
    incident_from = clock::now();
    std::this_thread::sleep_for(10s);
    incident_to = clock::now();
    neighbour_proc_.reset();
    EXPECT_EQ(agent.stop(SIGTERM).code, 0) << agent.log();
  }
  {
    Agent again(args);  // keeps the first run's segments and begins its own
    ASSERT_TRUE(again.wait_ready()) << again.log();
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(again.stop(SIGKILL).signal, SIGKILL);
  }
  victim_proc_.reset();
  const fs::path recorder = fs::path(state.path()) / "recorder";
  std::size_t segments = 0;
  std::uintmax_t bytes = 0;
  for (const auto& f : fs::directory_iterator(recorder)) {
    segments += f.path().extension() == ".jsonl";
    bytes += f.file_size();
  }
  EXPECT_EQ(segments, 2U) << "one per agent run";

  const Completed list = run_command({agent_binary(), "report", "--state-dir=" + state.path(), "--list"});
  EXPECT_EQ(list.exit.code, 0) << list.err;
  EXPECT_NE(list.out.find("2 segments"), std::string::npos) << list.out;
  std::printf("%s", list.out.c_str());

  const fs::path incident = fs::path(out.path()) / "incident";
  const auto t0 = std::chrono::steady_clock::now();
  const Completed r =
      run_command({agent_binary(), "report", "--state-dir=" + state.path(), "--since=" + utc(incident_from),
                   "--until=" + utc(incident_to + 1s), "--out=" + incident.string()});
  const double render_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit.code, 0) << r.err;
  const auto summary = nlohmann::json::parse(slurp(incident / "summary.json"));
  std::printf("incident window: %s (rendered in %.2f s; the recorder held %ju bytes after about 25 s)\n",
              summary["sentence"].get<std::string>().c_str(), render_s, bytes);
  ASSERT_TRUE(summary.contains("top_culprit")) << summary.dump(2);
  EXPECT_EQ(summary["top_culprit"]["labels"]["cgroup"], neighbour_->rel());
  EXPECT_GT(summary["events"]["slow_fsync"].get<int>(), 10);
  EXPECT_GE(summary["samples"].get<int>(), 9);
  EXPECT_EQ(summary["capture"]["source"], "flight recorder");
  for (const char* f :
       {"events.jsonl", "timeseries.jsonl", "metrics-start.prom", "metrics-end.prom", "host.json", "report.html"}) {
    EXPECT_TRUE(fs::exists(incident / f)) << f;
  }
  const std::string html = slurp(incident / "report.html");
  EXPECT_NE(html.find(neighbour_->rel()), std::string::npos);
  EXPECT_NE(html.find("stallwatch flight recorder on node"), std::string::npos);
  EXPECT_NE(html.find("id=\"window\">The window " + utc(incident_from).substr(0, 19)), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(slurp(incident / "host.json")).contains("hooks"));

  const fs::path quiet = fs::path(out.path()) / "quiet";
  const Completed q =
      run_command({agent_binary(), "report", "--state-dir=" + state.path(), "--since=" + utc(quiet_from),
                   "--until=" + utc(quiet_to - 1s), "--out=" + quiet.string()});
  ASSERT_EQ(q.exit.code, 0) << q.err;
  const auto calm = nlohmann::json::parse(slurp(quiet / "summary.json"));
  std::printf("quiet window: %s\n", calm["sentence"].get<std::string>().c_str());
  // Idle, no call of the quiet window reaches 3 ms and the sentence says
  // "none slow: no incident". Under `stress-ng --io` the host's sync()
  // storms slow the victim's own writes (235 slow calls, verdict self, in
  // one run): the window must then blame no neighbour, and it never may
  // name the one that had not started yet.
  const std::string said = calm["sentence"];
  EXPECT_EQ(said.find(neighbour_->rel()), std::string::npos) << said;
  if (calm["events"]["slow_fsync"].get<int>() == 0) {
    EXPECT_NE(said.find("none slow: no incident"), std::string::npos) << said;
  } else {
    EXPECT_EQ(said.find("Verdict: neighbor"), std::string::npos) << said;
  }

  // Before anything was recorded: said, with what the recorder holds.
  const Completed none =
      run_command({agent_binary(), "report", "--state-dir=" + state.path(), "--since=2020-01-01T00:00:00Z",
                   "--until=2020-01-01T01:00:00Z", "--out=" + (fs::path(out.path()) / "none").string()});
  EXPECT_EQ(none.exit.code, 1);
  EXPECT_NE(none.err.find("the flight recorder holds nothing from 2020-01-01T00:00:00"), std::string::npos) << none.err;
  // The last run was killed: what it wrote renders.
  const Completed killed = run_command({agent_binary(), "report", "--state-dir=" + state.path(), "--since=-15s",
                                        "--out=" + (fs::path(out.path()) / "killed").string()});
  EXPECT_EQ(killed.exit.code, 0) << killed.err;
}

TEST(CaptureErrors, BadInputIsOneLineAndNonZero) {
  SW_REQUIRE_ROOT();
  TempDir out;
  const auto one_line = [](const Completed& c, int code, const std::string& says) {
    EXPECT_EQ(c.exit.code, code) << c.err;
    EXPECT_NE(c.err.find(says), std::string::npos) << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
  };
  one_line(run_command({agent_binary(), "capture", "--trigger=fsync>>5", "--out=" + out.path() + "/a"}), 2,
           "--trigger 'fsync>>5'");
  one_line(run_command({agent_binary(), "capture", "--trigger=probe=slow", "--out=" + out.path() + "/a"}), 2,
           "unknown probe result 'slow'");
  one_line(run_command({agent_binary(), "capture", "--trigger=disk>5ms", "--out=" + out.path() + "/a"}), 2,
           "unknown trigger");
  one_line(run_command({agent_binary(), "capture", "--max-size=lots", "--out=" + out.path() + "/a"}), 2,
           "--max-size: bad size 'lots'");
  one_line(run_command({agent_binary(), "capture", "--out=/proc/stallwatch-bundle"}), 1,
           "cannot write the bundle to /proc/stallwatch-bundle");
  one_line(run_command({agent_binary(), "report", out.path()}), 1, "is not a capture bundle");
  std::filesystem::create_directories(out.path() + "/earlier");
  std::ofstream(out.path() + "/earlier/summary.json") << "{}";
  one_line(run_command({agent_binary(), "capture", "--duration=1s", "--out=" + out.path() + "/earlier"}), 2,
           out.path() + "/earlier already holds files");
}

// tmux: a real terminal for `top`.
class Tmux {
 public:
  Tmux() : name_("sw-top-" + std::to_string(getpid())) {
    sh("tmux new-session -d -s " + name_ + " -x 200 -y 50 'bash --norc --noprofile'");
  }
  ~Tmux() { run_shell("tmux kill-session -t " + name_); }
  void keys(const std::string& k) { sh("tmux send-keys -t " + name_ + " " + k); }
  std::string screen() { return sh("tmux capture-pane -p -t " + name_); }
  // Waits up to `timeout` for text on the screen.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (screen().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

 private:
  std::string name_;
};

TEST_F(Incident, TopShowsTheCulpritSortsAndQuitsCleanly) {
  if (run_shell("command -v tmux").rc != 0) FAIL() << "tmux is needed";
  start_victim();
  start_neighbour();
  Tmux t;
  t.keys("'clear; echo BEFORE-TOP' Enter");
  ASSERT_TRUE(t.wait_for("BEFORE-TOP", 5s));
  t.keys("'" + agent_binary() + " top --victim=cgroup=" + victim_->rel() + "; echo TOP-EXIT=$?' Enter");
  // Start-up takes about a second (self-test, loading), several when
  // another process keeps syncing the disks (stress-ng --io); the first
  // sample a second after the first frame; then the neighbour must be on
  // screen within 3 s.
  ASSERT_TRUE(t.wait_for("q quit", 30s)) << t.screen();  // the first frame's key line
  ASSERT_TRUE(t.wait_for("CGROUP", 10s)) << t.screen();
  const auto shown = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.wait_for(neighbour_->rel(), 3s)) << t.screen();
  std::printf("culprit on screen %.1f s after the first frame\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - shown).count());
  EXPECT_NE(t.screen().find(victim_->rel()), std::string::npos);
  t.keys("i");
  EXPECT_TRUE(t.wait_for("sort: IOPS", 3s)) << t.screen();
  t.keys("s");
  EXPECT_TRUE(t.wait_for("sort: blame", 3s)) << t.screen();
  // With blame sorting the neighbour is the first cgroup row.
  std::this_thread::sleep_for(1500ms);
  {
    std::istringstream lines(t.screen());
    std::string line;
    while (std::getline(lines, line) && line.rfind("CGROUP", 0) != 0) {
    }
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_NE(line.find(neighbour_->rel()), std::string::npos) << t.screen();
  }
  t.keys("f");
  t.keys("'" + victim_->rel().substr(1) + "' Enter");
  EXPECT_TRUE(t.wait_for("filter: " + victim_->rel().substr(1), 3s)) << t.screen();
  t.keys("q");
  ASSERT_TRUE(t.wait_for("TOP-EXIT=0", 5s)) << t.screen();
  // The alternate screen is gone: what was there before top is back.
  const std::string after = t.screen();
  EXPECT_NE(after.find("BEFORE-TOP"), std::string::npos) << after;
  EXPECT_EQ(after.find("sort: "), std::string::npos) << after;
}

// The page-cache flood through what a person reads: the bundle's summary
// and report, and top's victim row, all name the flooding cgroup with the
// verdict neighbor.
TEST_F(Incident, APageCacheFloodIsNamedInTheReportAndTop) {
  TempDir out;
  const fs::path bundle = fs::path(out.path()) / "bundle";
  start_victim();
  Background capture(
      {agent_binary(), "capture", "--duration=12s", "--out=" + bundle.string(), "--victim=cgroup=" + victim_->rel()});
  for (int i = 0; i < 100 && !fs::exists(bundle / "host.json"); ++i) std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(2s);
  start_buffered_neighbour();
  // top beside it, plain frames on a pipe, one a second.
  TempDir top_dir;
  const std::string frames = top_dir.path() + "/frames.txt";
  Background top({"/bin/sh", "-c", agent_binary() + " top --victim=cgroup=" + victim_->rel() + " > " + frames});
  for (int i = 0; i < 300 && !fs::exists(bundle / "report.html"); ++i) std::this_thread::sleep_for(100ms);
  top.stop();
  capture.stop();
  ASSERT_TRUE(fs::exists(bundle / "report.html")) << capture.output();
  const auto summary = nlohmann::json::parse(slurp(bundle / "summary.json"));
  std::printf("summary: %s\n", summary["sentence"].get<std::string>().c_str());
  ASSERT_TRUE(summary.contains("top_culprit")) << summary.dump(2);
  EXPECT_EQ(summary["top_culprit"]["labels"]["cgroup"], neighbour_->rel());
  EXPECT_NE(summary["sentence"].get<std::string>().find("Verdict: neighbor"), std::string::npos);
  EXPECT_NE(slurp(bundle / "report.html").find(neighbour_->rel()), std::string::npos);
  // top's last victim row: its verdict and top culprit.
  std::ifstream in(frames);
  std::string line, row;
  bool victims = false;  // in a frame's VICTIM table, above its CGROUP one
  while (std::getline(in, line)) {
    if (line.rfind("VICTIM", 0) == 0) victims = true;
    if (line.rfind("CGROUP", 0) == 0) victims = false;
    if (victims && line.rfind(victim_->rel(), 0) == 0) row = line;
  }
  std::printf("top: %s\n", row.c_str());
  ASSERT_FALSE(row.empty()) << slurp(frames);
  EXPECT_NE(row.find(" neighbor "), std::string::npos) << row;
  EXPECT_NE(row.find(neighbour_->rel()), std::string::npos) << row;
}

TEST(TopPlain, OnceOnAPipePrintsOneFrame) {
  SW_REQUIRE_ROOT();
  const Completed c = run_command({agent_binary(), "top", "--once"});
  EXPECT_EQ(c.exit.code, 0) << c.err;
  EXPECT_NE(c.out.find("VICTIM"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("CGROUP"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("\x1b["), std::string::npos) << "escape codes on a pipe";
}

}  // namespace
}  // namespace stallwatch::test
