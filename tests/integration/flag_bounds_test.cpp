// Every bounded flag at its bounds (the agent starts, serves and stops
// cleanly) and just past them (one line naming the flag, exit 2, nothing
// loaded), and every value parser given what people mistype.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/processes.h"
#include "support/scratch.h"
#include "support/scrape.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

struct Refusal {
  std::string sub;   // run or capture
  std::string flag;  // --flag=value
  int code;
  std::string says;
};

const Refusal kPastTheBounds[] = {
    {"run", "--fsync-map-entries=0", 2, "--fsync-map-entries: Value 0 not in range 1 to 1048576"},
    {"run", "--fsync-map-entries=1048577", 2, "--fsync-map-entries: Value 1048577 not in range"},
    {"run", "--fsync-map-entries=-1", 2, "--fsync-map-entries"},
    {"run", "--fsync-map-entries=99999999999999999999", 2, "--fsync-map-entries"},
    {"run", "--block-map-entries=0", 2, "--block-map-entries: Value 0 not in range"},
    {"run", "--block-map-entries=1048577", 2, "--block-map-entries: Value 1048577 not in range"},
    {"run", "--blame-map-entries=0", 2, "--blame-map-entries: Value 0 not in range"},
    {"run", "--blame-map-entries=1048577", 2, "--blame-map-entries: Value 1048577 not in range"},
    {"run", "--max-series=0", 2, "--max-series: Value 0 not in range"},
    {"run", "--max-series=1048577", 2, "--max-series: Value 1048577 not in range"},
    {"run", "--stale-after=-1s", 2, "--stale-after: bad duration '-1s': must be between 0 and 24h"},
    {"run", "--stale-after=24h1s", 2, "--stale-after: bad duration '24h1s': must be between 0 and 24h"},
    {"run", "--stale-after=60", 2, "--stale-after: bad duration '60': unit must be h, m, s, ms, us or ns"},
    {"capture", "--duration=24h1ms", 2, "--duration: bad duration '24h1ms': must be between 0 and 24h"},
    {"capture", "--pre=61m", 2, "--pre: bad duration '61m': must be between 0 and 1h"},
    {"run", "--slow-threshold=1s1h", 2, "--slow-threshold: bad duration '1s1h': units go from the largest"},
    {"run", "--blame-top-culprits=0", 2, "--blame-top-culprits: Value 0 not in range 1 to 1000"},
    {"run", "--blame-top-culprits=1001", 2, "--blame-top-culprits: Value 1001 not in range"},
    {"run", "--events-keep=0", 2, "--events-keep: Value 0 not in range 1 to 100"},
    {"run", "--events-keep=101", 2, "--events-keep: Value 101 not in range"},
    {"run", "--events-rate=-0.5", 2, "--events-rate"},
    {"run", "--events-rate=1000001", 2, "--events-rate: Value 1000001 not in range"},
    {"run", "--events-rate=nan", 2, "--events-rate: must be a finite number, not nan"},
    {"run", "--events-rate=inf", 2, "--events-rate: must be a finite number, not inf"},
    {"run", "--events-max-size=4095B", 2, "--events-max-size: size '4095B' is too small (4 KiB at least)"},
    {"run", "--events-max-size=1000000TB", 2, "--events-max-size: bad size '1000000TB'"},
    {"run", "--events-max-size=-1MB", 2, "--events-max-size: bad size '-1MB'"},
    {"run", "--slow-threshold=-1ms", 2, "--slow-threshold: bad duration '-1ms': must be between 0 and 1h"},
    {"run", "--slow-threshold=3600.001s", 2, "--slow-threshold: bad duration '3600.001s': must be between 0 and 1h"},
    {"run", "--slow-threshold=10", 2, "--slow-threshold: bad duration '10': unit must be h, m, s, ms, us or ns"},
    {"run", "--slow-threshold=1e400s", 2, "--slow-threshold: bad duration '1e400s'"},
    {"run", "--slow-threshold=nans", 2, "--slow-threshold: bad duration 'nans'"},
    {"run", "--probe-slow-threshold=3601s", 2, "--probe-slow-threshold: bad duration '3601s'"},
    {"run", "--probe-max-duration=999ms", 2, "--probe-max-duration: at least 1s"},
    {"run", "--probe-max-duration=3601s", 2, "--probe-max-duration: bad duration '3601s'"},
    {"run", "--prober-comm=a,b,c,d,e", 2, "--prober-comm 'a,b,c,d,e': at most 4 process names"},
    {"run", "--prober-comm=sixteen-chars-xx", 2, "each process name is 1 to 15 characters"},
    {"run", "--prober-comm=kubelet,,x", 2, "each process name is 1 to 15 characters"},
    {"run", "--victim=bogus", 2, "--victim 'bogus': expected comm=NAME, cgroup=PATH or pod=NAMESPACE/NAME"},
    {"run", "--victim=comm=", 2, "--victim 'comm=': empty pattern"},
    {"run", "--victim=cgroup=relative", 2, "a cgroup path starts with '/'"},
    {"run", "--victim=pod=no-namespace", 2, "expected pod=NAMESPACE/NAME"},
    {"run", "--devices=no-such-disk", 2, "--devices: no block device named 'no-such-disk'"},
    {"run", "--cgroup-root=/nonexistent", 2, "--cgroup-root: Directory does not exist"},
    {"run", "--pod-logs-dir=/etc/hostname", 2, "--pod-logs-dir: Directory is actually a file"},
    {"run", "--runtime-state-dir=/nonexistent", 2, "--runtime-state-dir: Directory does not exist"},
    {"run", "--fsync-hook=kprobe", 2, "--fsync-hook: unknown hook 'kprobe'"},
    {"run", "--block-hook=fentry", 2, "--block-hook: unknown hook 'fentry'"},
    {"run", "--blame-hook=maybe", 2, "--blame-hook: unknown hook 'maybe'"},
    {"run", "--probe-hook=yes", 2, "--probe-hook: unknown hook 'yes'"},
    {"run", "--web.listen-address=:65536", 2, "port must be a number 0-65535"},
    {"run", "--events-file=/proc/no/such", 1, "event log /proc/no/such"},
    {"capture", "--duration=0s", 2, "--duration: must be more than 0"},
    {"capture", "--duration=86401s", 2, "--duration: bad duration '86401s'"},
    {"capture", "--pre=-1s", 2, "--pre: bad duration '-1s'"},
    {"capture", "--post=3601s", 2, "--post: bad duration '3601s'"},
    {"capture", "--max-size=4095B", 2, "--max-size: size '4095B' is too small"},
    {"run", "--recorder-max-size=lots", 2, "--recorder-max-size: bad size 'lots'"},
    {"run", "--recorder-max-size=-1MB", 2, "--recorder-max-size: bad size '-1MB'"},
    {"run", "--recorder-max-size=1023KiB", 2, "--recorder-max-size: '1023KiB' is too small (1MiB at least, or 0: off)"},
    {"run", "--recorder-max-age=8785h", 2, "--recorder-max-age: bad duration '8785h'"},
    {"run", "--recorder-max-age=24", 2, "--recorder-max-age: bad duration '24': unit must be"},
    {"report", "--since=yesterday", 2, "--since: bad time 'yesterday'"},
    {"report", "--until=2026-12-04T03:00:00", 2, "--until: bad time '2026-12-04T03:00:00': no time zone"},
    {"report", "--since=-1h", 2, "is not before --until"},
};

TEST(FlagBounds, PastEveryBoundIsOneLineNamingTheFlag) {
  SW_REQUIRE_ROOT();
  const auto before = loaded_stallwatch_programs();
  TempDir state;
  for (const auto& r : kPastTheBounds) {
    std::vector<std::string> argv = {agent_binary(), r.sub, r.flag};
    if (r.sub == "run" && r.flag.rfind("--events-file", 0) != 0) argv.push_back("--events-file=/dev/null");
    if (r.sub == "run" && r.flag.rfind("--recorder", 0) != 0) argv.push_back("--recorder-max-size=0");
    if (r.sub == "run" && r.flag.rfind("--recorder", 0) == 0) argv.push_back("--state-dir=" + state.path());
    if (r.sub == "report") argv.push_back("--state-dir=" + state.path());
    if (r.sub == "report" && r.flag.rfind("--since", 0) != 0) argv.push_back("--since=-1h");
    if (r.flag == "--since=-1h") argv.push_back("--until=-2h");
    if (r.sub == "capture") argv.push_back("--out=/nonexistent-parent/bundle");
    const Completed c = run_command(argv);
    EXPECT_EQ(c.exit.code, r.code) << r.flag << ": " << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << r.flag << ": " << c.err;
    EXPECT_NE(c.err.find(r.says), std::string::npos) << r.flag << ": " << c.err;
    // One style whoever found it: the parser, or a check after it.
    EXPECT_EQ(c.err.rfind("stallwatch: error: ", 0), 0U) << r.flag << ": " << c.err;
  }
  EXPECT_EQ(loaded_stallwatch_programs(), before) << "programs left attached";
}

// At the bounds the agent starts, serves a scrape, and stops
// on SIGTERM with status 0. The smallest maps cannot hold the self-test's
// calls: the agent says so and counts what it lost.
TEST(FlagBounds, AtEveryBoundTheAgentRunsAndStopsCleanly) {
  SW_REQUIRE_ROOT();
  const std::vector<std::vector<std::string>> extremes = {
      {"--fsync-map-entries=1", "--block-map-entries=1", "--blame-map-entries=1", "--max-series=1", "--stale-after=0s",
       "--blame-top-culprits=1", "--events-keep=1", "--events-rate=0", "--events-max-size=4096B",
       "--slow-threshold=0ns", "--probe-slow-threshold=0ns", "--probe-max-duration=1s", "--web.listen-address=127.0.0.1:0",
       "--prober-comm=a,b,c,d", "--recorder-max-size=1MiB", "--recorder-max-age=1ns"},
      {"--fsync-map-entries=1048576", "--block-map-entries=1048576", "--blame-map-entries=1048576",
       "--max-series=1048576", "--stale-after=24h", "--blame-top-culprits=1000", "--events-keep=100",
       "--events-rate=1000000", "--slow-threshold=3600s", "--probe-slow-threshold=3600s",
       "--probe-max-duration=3600s", "--prober-comm=fifteen-chars-x", "--recorder-max-size=1000GiB",
       "--recorder-max-age=8784h"},
  };
  for (const auto& args : extremes) {
    Agent agent(args);
    ASSERT_TRUE(agent.wait_ready()) << agent.log();
    run_fsync_helper("", "/var/tmp", {"--fsync", "5", "--fdatasync", "5"});
    const auto scrape = http_get(agent.port(), "/metrics");
    EXPECT_EQ(scrape.status, 200);
    const bool min = args[0] == "--fsync-map-entries=1";
    if (min) {
      EXPECT_NE(agent.log().find("fsync self-test on"), std::string::npos);
      EXPECT_NE(agent.log().find("did not count every call"), std::string::npos) << agent.log();
      const auto lost = scrape_metrics(agent.port()).all("stallwatch_events_lost_total");
      double total = 0;
      for (const auto& s : lost) total += s.value;
      EXPECT_GT(total, 0.0) << "a full map must count what it dropped";
    }
    const Exit e = agent.stop(SIGTERM);
    EXPECT_EQ(e.code, 0) << agent.log();
    std::printf("%s bounds: started, scraped (%zu bytes), stopped with %d\n", min ? "lower" : "upper",
                scrape.body.size(), e.code);
  }
}

}  // namespace
}  // namespace stallwatch::test
