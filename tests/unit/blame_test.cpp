// The blame engine's user-space half: verdict rules, victim selectors,
// slow-event JSON, and the culprit budget of the metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "blame/verdict.h"
#include "blame/victims.h"
#include "common/duration.h"
#include "events/slow_event.h"
#include "events/start_event.h"
#include "events/event_line.h"
#include "exporters/prometheus/render_blame.h"
#include "exporters/prometheus/text_format.h"

namespace {

using stallwatch::blame::Kinds;
using stallwatch::blame::verdict;
using stallwatch::blame::VictimSelector;
using stallwatch::identity::Labels;

constexpr std::uint64_t kMs = 1'000'000;

Kinds kinds(std::initializer_list<std::pair<sw_blame_kind, std::uint64_t>> parts) {
  Kinds k{};
  for (const auto& [kind, ns] : parts) k[kind] = ns;
  return k;
}

TEST(Verdict, HalfTheWindowDecides) {
  EXPECT_EQ(verdict(kinds({{SW_BLAME_NEIGHBOR_IO, 60 * kMs}, {SW_BLAME_OWN_IO, 40 * kMs}}), 100 * kMs), "neighbor");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_OWN_IO, 50 * kMs}}), 100 * kMs), "self");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_JOURNAL, 70 * kMs}}), 100 * kMs), "journal");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_DEVICE, 90 * kMs}}), 100 * kMs), "device");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_CPU, 51 * kMs}}), 100 * kMs), "cpu");
}

TEST(Verdict, WritebackIsSomeoneElsesData) {
  EXPECT_EQ(verdict(kinds({{SW_BLAME_NEIGHBOR_IO, 30 * kMs}, {SW_BLAME_WRITEBACK, 30 * kMs}}), 100 * kMs), "neighbor");
}

TEST(Verdict, OnAThrottledDiskOwnIoAndStallsAreTheCap) {
  const Kinds own = kinds({{SW_BLAME_OWN_IO, 40 * kMs}, {SW_BLAME_DEVICE, 20 * kMs}});
  EXPECT_EQ(verdict(own, 100 * kMs), "mixed");
  EXPECT_EQ(verdict(own, 100 * kMs, {.disk_throttled = true}), "throttled");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_JOURNAL, 60 * kMs}}), 100 * kMs, {.disk_throttled = true}), "throttled");
  // Another workload's journal data is still that workload's.
  EXPECT_EQ(verdict(kinds({{SW_BLAME_JOURNAL, 60 * kMs}}), 100 * kMs, {60 * kMs, 0, true}), "neighbor");
  // A neighbour spent the capped budget: it is named first.
  EXPECT_EQ(verdict(kinds({{SW_BLAME_NEIGHBOR_IO, 55 * kMs}, {SW_BLAME_OWN_IO, 45 * kMs}}), 100 * kMs,
                    {.disk_throttled = true}),
            "neighbor");
  // Waiting for a CPU is no disk's doing.
  EXPECT_EQ(verdict(kinds({{SW_BLAME_CPU, 60 * kMs}}), 100 * kMs, {.disk_throttled = true}), "cpu");
}

TEST(Verdict, ABindingCgroupLimitIsIoLimit) {
  // blk-throttle holds the bios: the disk looks idle to the window.
  const Kinds held = kinds({{SW_BLAME_DEVICE, 80 * kMs}, {SW_BLAME_OWN_IO, 5 * kMs}});
  EXPECT_EQ(verdict(held, 100 * kMs), "device");
  EXPECT_EQ(verdict(held, 100 * kMs, {.io_limited = true}), "io_limit");
  // Before a provider's cap: the limit holds the bios before the disk.
  EXPECT_EQ(verdict(held, 100 * kMs, {.disk_throttled = true, .io_limited = true}), "io_limit");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_NEIGHBOR_IO, 60 * kMs}, {SW_BLAME_DEVICE, 40 * kMs}}), 100 * kMs,
                    {.io_limited = true}),
            "neighbor");
}

TEST(Verdict, NoSingleCauseIsMixed) {
  EXPECT_EQ(verdict(kinds({{SW_BLAME_NEIGHBOR_IO, 40 * kMs}, {SW_BLAME_CPU, 40 * kMs}}), 100 * kMs), "mixed");
  // `other` (the victim's own CPU work) is no cause.
  EXPECT_EQ(verdict(kinds({{SW_BLAME_OTHER, 90 * kMs}}), 100 * kMs), "mixed");
  EXPECT_EQ(verdict(Kinds{}, 0), "mixed");
}

TEST(VictimSelector, ParsesTheThreeKinds) {
  auto comm = VictimSelector::parse("comm=etcd");
  ASSERT_TRUE(comm);
  EXPECT_TRUE(comm->matches_comm("etcd"));
  EXPECT_FALSE(comm->matches_comm("etcdctl"));
  auto glob = VictimSelector::parse("comm=etcd*");
  ASSERT_TRUE(glob);
  EXPECT_TRUE(glob->matches_comm("etcdctl"));

  auto cg = VictimSelector::parse("cgroup=/kubepods.slice/*");
  ASSERT_TRUE(cg);
  EXPECT_TRUE(cg->matches(Labels{"", "", "", "/kubepods.slice/kubepods-burstable.slice"}));
  EXPECT_FALSE(cg->matches(Labels{"", "", "", "/system.slice/etcd.service"}));
  EXPECT_FALSE(cg->matches_comm("etcd"));

  auto pod = VictimSelector::parse("pod=kube-system/etcd-*");
  ASSERT_TRUE(pod);
  EXPECT_TRUE(pod->matches(Labels{"kube-system", "etcd-cp-1", "etcd", "/kubepods/x"}));
  EXPECT_FALSE(pod->matches(Labels{"default", "etcd-cp-1", "etcd", "/kubepods/x"}));
  EXPECT_FALSE(pod->matches(Labels{"", "", "", "/kubepods/x"}));
}

TEST(Victims, ExactCommsGoToTheKernelGlobsStayWithTheScan) {
  std::vector<VictimSelector> sel;
  for (const char* t : {"comm=etcd", "comm=etcd*", "comm=pg?", "comm=[ab]x", "comm=a\\*", "cgroup=/x", "comm=etcd",
                        "comm=postgres"}) {
    sel.push_back(*VictimSelector::parse(t));
  }
  EXPECT_EQ(stallwatch::blame::Victims(sel).exact_comms(), (std::vector<std::string>{"etcd", "postgres"}));
  EXPECT_TRUE(stallwatch::blame::Victims({*VictimSelector::parse("pod=a/b")}).exact_comms().empty());
}

TEST(VictimSelector, BadInputIsOneClearLine) {
  for (const char* bad : {"etcd", "comm=", "pid=1", "cgroup=kubepods", "pod=etcd", "comm=averyverylongprocessname"}) {
    auto s = VictimSelector::parse(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find(std::string("--victim '") + bad + "'"), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
  }
}

TEST(Duration, UnitsAndErrors) {
  EXPECT_EQ(*stallwatch::parse_duration_ns("10ms"), 10 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("1.5s"), 1500 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("250us"), 250'000U);
  EXPECT_EQ(*stallwatch::parse_duration_ns("0ms"), 0U);
  // Prometheus's forms: minutes, hours and compounds, largest unit first.
  EXPECT_EQ(*stallwatch::parse_duration_ns("2m"), 120'000 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("1m30s"), 90'000 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("1h"), 3'600'000 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("1h30m", 24 * stallwatch::kHourNs), 5'400'000 * kMs);
  EXPECT_EQ(*stallwatch::parse_duration_ns("1s500ms"), 1500 * kMs);
  for (const char* bad : {"10", "ms", "-1ms", "10 ms", "2h", "nanms", "", "1s1h", "1s2s", "5x", "1h-5m", "1e400s"}) {
    const auto r = stallwatch::parse_duration_ns(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message.rfind("bad duration '" + std::string(bad) + "'", 0), 0U) << r.error().message;
  }
  EXPECT_EQ(stallwatch::parse_duration_ns("2h").error().message, "bad duration '2h': must be between 0 and 1h");
  EXPECT_EQ(stallwatch::parse_duration_ns("25h", 24 * stallwatch::kHourNs).error().message,
            "bad duration '25h': must be between 0 and 24h");
  EXPECT_EQ(stallwatch::parse_duration_ns("10").error().message,
            "bad duration '10': unit must be h, m, s, ms, us or ns");
  EXPECT_EQ(stallwatch::duration_text(90'000 * kMs), "90s");
  EXPECT_EQ(stallwatch::duration_text(2 * stallwatch::kHourNs), "2h");
}

sw_blame_event sample_event() {
  sw_blame_event e{};
  e.start_ns = 1'000'000'000;
  e.wall_ns = 40 * kMs;
  e.victim = 10;
  e.tgid = 77;
  e.tid = 78;
  e.disk = 7U << 20;
  e.op = SW_OP_FDATASYNC;
  e.file_class = SW_FILE_WAL;
  e.kinds[SW_BLAME_NEIGHBOR_IO] = 30 * kMs;
  e.kinds[SW_BLAME_OWN_IO] = 4 * kMs;
  e.kinds[SW_BLAME_CPU] = 2 * kMs;
  e.kinds[SW_BLAME_OTHER] = 4 * kMs;
  // Completed inside the window: 10 ms of neighbour 20, 5 ms of neighbour 21.
  e.top[0] = {20, 10 * kMs, 1 << 20, 1, SW_BLAME_NEIGHBOR_IO, {}};
  e.top[1] = {21, 5 * kMs, 1 << 20, 1, SW_BLAME_NEIGHBOR_IO, {}};
  std::strcpy(e.comm, "etcd");
  std::snprintf(e.file, sizeof(e.file), "%s", "0000000000000001-0000000000000001.wal");
  return e;
}

stallwatch::events::EventContext context() {
  return {[](std::uint64_t id) {
            return Labels{"ns", "pod-" + std::to_string(id), "c", "/cg" + std::to_string(id)};
          },
          [](std::uint32_t dev) { return std::string(dev == 253U << 20 ? "dm-0" : "loop0"); },
          0,
          "ctrl-1",
          [](std::uint32_t) { return std::optional<stallwatch::blame::DeviceCondition>{}; },
          [](const std::string&, std::uint32_t) { return std::optional<stallwatch::blame::IoLimit>{}; }};
}

// On a disk at its provider's cap the event says so, with the numbers that show it.
TEST(SlowEvent, AThrottledDiskIsTheVerdictAndItsNumbersAreShown) {
  sw_blame_event e = sample_event();
  e.kinds[SW_BLAME_NEIGHBOR_IO] = 0;
  e.kinds[SW_BLAME_OWN_IO] = 34 * kMs;
  e.top[0] = {10, 30 * kMs, 1 << 20, 1, SW_BLAME_OWN_IO, {}};
  e.top[1] = {};
  auto ctx = context();
  EXPECT_EQ(stallwatch::events::slow_event(e, ctx)["verdict"], "self");
  EXPECT_FALSE(stallwatch::events::slow_event(e, ctx).contains("disk_condition"));
  ctx.disk_condition = [](std::uint32_t disk) {
    EXPECT_EQ(disk, 7U << 20);
    return std::optional<stallwatch::blame::DeviceCondition>({true, 100, 409600, 10, 0.4, 2000, 8192000});
  };
  const auto j = stallwatch::events::slow_event(e, ctx);
  EXPECT_EQ(j["verdict"], "throttled");
  EXPECT_EQ(j["disk_condition"]["state"], "throttled");
  EXPECT_EQ(j["disk_condition"]["iops"], 100);
  EXPECT_EQ(j["disk_condition"]["service_ms"], 10);
  EXPECT_EQ(j["disk_condition"]["baseline_service_ms"], 0.4);
  EXPECT_EQ(j["disk_condition"]["peak_iops"], 2000);
  const std::string line = stallwatch::events::slow_event_json(e, ctx);
  EXPECT_LT(line.find("\"disk_condition\":{\"state\":\"throttled\",\"iops\":100"), line.find("\"kinds_ms\"")) << line;
}

// Lines read in the order people look: what, when, where, the verdict, then who.
TEST(SlowEvent, KeysComeInTheDocumentedOrder) {
  const std::string line = stallwatch::events::slow_event_json(sample_event(), context());
  EXPECT_EQ(line.rfind(R"({"event":"slow_fsync","schema_version":1,"time":")", 0), 0U) << line;
  const auto at = [&](const std::string& key) { return line.find("\"" + key + "\":"); };
  std::vector<std::string> keys = {"time", "node", "verdict", "duration_ms", "victim", "op", "device", "file",
                                   "kinds_ms", "culprits", "other_culprits", "window"};
  for (std::size_t i = 1; i < keys.size(); ++i) {
    ASSERT_NE(at(keys[i]), std::string::npos) << keys[i];
    EXPECT_LT(at(keys[i - 1]), at(keys[i])) << keys[i - 1] << " before " << keys[i] << ": " << line;
  }
  // Inside the victim: who first, then the process.
  const auto victim = line.substr(at("victim"));
  EXPECT_EQ(victim.rfind(R"("victim":{"namespace":"ns","pod":"pod-)", 0), 0U) << victim;
  EXPECT_LT(victim.find("\"cgroup\""), victim.find("\"comm\""));
  // kinds_ms in the order of the kinds, not of the alphabet.
  const auto kinds = line.substr(at("kinds_ms"));
  EXPECT_EQ(kinds.rfind(R"("kinds_ms":{"own_io":)", 0), 0U) << kinds;
  EXPECT_EQ(nlohmann::json::parse(line).value("schema_version", 0), 1);
}

TEST(StartEvent, SaysOnceWhatWroteTheLinesAfterIt) {
  stallwatch::events::StartFacts f;
  f.realtime_ns = 1'000'000'000;
  f.node = "ctrl-1";
  f.version = "0.1.0";
  f.revision = "abc";
  f.libbpf_version = "v1.1";
  f.kernel = "6.1.0-13-amd64";
  f.cgroup_layout = "v2";
  f.hooks = {{"fsync", "tracepoint"}, {"blame", "tp_btf"}};
  f.victims = {"comm=etcd", "pod=kube-system/etcd-*"};
  f.slow_threshold_ms = 10;
  f.probe_slow_threshold_ms = 500;
  f.pid = 42;
  const std::string line = stallwatch::events::event_line(stallwatch::events::start_event(f));
  EXPECT_EQ(line.rfind(R"({"event":"start","schema_version":1,"time":"1970-01-01T00:00:01.000000Z","node":"ctrl-1",)", 0),
            0U)
      << line;
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["hooks"]["blame"], "tp_btf");
  EXPECT_EQ(j["victims"], nlohmann::json::array({"comm=etcd", "pod=kube-system/etcd-*"}));
  EXPECT_EQ(j["kernel"], "6.1.0-13-amd64");
  EXPECT_EQ(j["cgroup_layout"], "v2");
  EXPECT_EQ(j["pid"], 42);
  EXPECT_DOUBLE_EQ(j["slow_threshold_ms"], 10.0);
  EXPECT_DOUBLE_EQ(j["probe_slow_threshold_ms"], 500.0);
  EXPECT_LT(line.find("\"version\""), line.find("\"hooks\""));
  EXPECT_LT(line.find("\"hooks\""), line.find("\"victims\""));
}

TEST(SlowEvent, CarriesTheWindowAndItsVerdict) {
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(sample_event(), context()));
  EXPECT_EQ(j["event"], "slow_fsync");
  EXPECT_EQ(j["node"], "ctrl-1");
  EXPECT_EQ(j["verdict"], "neighbor");
  EXPECT_EQ(j["op"], "fdatasync");
  EXPECT_EQ(j["file_class"], "wal");
  EXPECT_EQ(j["device"], "loop0");
  EXPECT_EQ(j["disk"], "loop0");
  EXPECT_EQ(j["victim"]["pod"], "pod-10");
  EXPECT_EQ(j["victim"]["comm"], "etcd");
  EXPECT_EQ(j["victim"]["pid"], 77);
  EXPECT_DOUBLE_EQ(j["duration_ms"], 40.0);
  EXPECT_DOUBLE_EQ(j["kinds_ms"]["neighbor_io"], 30.0);
  EXPECT_FALSE(j.contains("hooks")) << "the start event says them once";
  EXPECT_EQ(j["time"], "1970-01-01T00:00:01.000000Z");
}

TEST(SlowEvent, NamesTheFilesystemOnAStackAndTheDiskItsWindowWatched) {
  auto e = sample_event();
  e.sdev = 253U << 20;  // dm-0: LVM over loop0
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(e, context()));
  EXPECT_EQ(j["device"], "dm-0");
  EXPECT_EQ(j["disk"], "loop0");
}

TEST(SlowEvent, NamesWhoHeldTheCpuAndTheVictimsOwnQuota) {
  sw_blame_event e = sample_event();
  e.kinds[SW_BLAME_NEIGHBOR_IO] = 0;
  e.top[0] = {};
  e.top[1] = {};
  e.kinds[SW_BLAME_CPU] = 30 * kMs;
  e.kinds[SW_BLAME_CPU_THROTTLED] = 2 * kMs;
  e.kinds[SW_BLAME_OTHER] = 4 * kMs;
  e.cpu_by[0] = {31, 25 * kMs};
  e.cpu_by[1] = {10, 3 * kMs};  // the victim's own threads
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(e, context()));
  EXPECT_EQ(j["verdict"], "neighbor") << "25 of 40 ms waiting for the CPU another workload held";
  EXPECT_DOUBLE_EQ(j["kinds_ms"]["cpu_throttled"], 2.0);
  const auto& c = j["culprits"];
  ASSERT_GE(c.size(), 3u);
  EXPECT_EQ(c[0]["cgroup"], "/cg31");
  EXPECT_EQ(c[0]["kind"], "cpu");
  EXPECT_DOUBLE_EQ(c[0]["blamed_ms"], 25.0);
  EXPECT_EQ(c[0]["bytes"], 0);
  bool quota = false;
  for (const auto& x : c) quota = quota || (x["kind"] == "cpu_throttled" && x["cgroup"] == "/cg10");
  EXPECT_TRUE(quota) << c.dump();
}

// The CPU a loop device's worker waited for reaches the event through the
// slot's epoch, which the victim's overlapping windows share: its names are
// cut to the window's own cpu time, with the victim thread's own waits.
TEST(SlowEvent, WhoHeldTheCpuTheDisksWorkerWaitedForIsNamedUpToTheWindowsCpu) {
  sw_blame_event e = sample_event();
  e.kinds[SW_BLAME_NEIGHBOR_IO] = 0;
  e.kinds[SW_BLAME_CPU] = 30 * kMs;
  e.kinds[SW_BLAME_OTHER] = 6 * kMs;
  e.top[0] = {};
  e.top[1] = {};
  e.top[0].cgroup = 31;
  e.top[0].kind = SW_BLAME_CPU;
  e.top[0].ns = 40 * kMs;  // two windows' worth
  e.cpu_by[0] = {31, 5 * kMs};
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(e, context()));
  int named = 0;
  for (const auto& c : j["culprits"]) {
    if (c["kind"] != "cpu") continue;
    named++;
    EXPECT_EQ(c["cgroup"], "/cg31");
    EXPECT_NEAR(c["blamed_ms"].get<double>(), 30.0, 1e-5) << "the thread's and the worker's waits, one entry";
  }
  EXPECT_EQ(named, 1) << j["culprits"].dump();
  EXPECT_EQ(j["verdict"], "neighbor") << "30 of 40 ms waiting for the CPU another workload held";
}

TEST(Verdict, ACpuAnotherWorkloadHeldIsTheNeighbours) {
  const Kinds k = kinds({{SW_BLAME_CPU, 60 * kMs}});
  EXPECT_EQ(verdict(k, 100 * kMs, {0, 55 * kMs}), "neighbor");
  EXPECT_EQ(verdict(k, 100 * kMs, {0, 20 * kMs}), "mixed") << "40 ms cpu, 20 ms neighbour: neither half";
  EXPECT_EQ(verdict(k, 100 * kMs), "cpu") << "nobody named";
}

TEST(Verdict, TheVictimsOwnCpuQuotaIsSelf) {
  EXPECT_EQ(verdict(kinds({{SW_BLAME_CPU_THROTTLED, 60 * kMs}}), 100 * kMs), "self");
  EXPECT_EQ(verdict(kinds({{SW_BLAME_CPU_THROTTLED, 30 * kMs}, {SW_BLAME_OWN_IO, 25 * kMs}}), 100 * kMs), "self");
}

TEST(SlowEvent, CulpritsAddUpToTheirKind) {
  // In-service time at close is shared 2:1 like the completed parts; own
  // I/O with no completion in the window is the victim's own.
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(sample_event(), context()));
  const auto& c = j["culprits"];
  ASSERT_EQ(c.size(), 3U) << j.dump();
  EXPECT_EQ(c[0]["cgroup"], "/cg20");
  EXPECT_NEAR(c[0]["blamed_ms"].get<double>(), 20.0, 1e-6);
  EXPECT_NEAR(c[0]["share"].get<double>(), 0.5, 1e-9);
  EXPECT_EQ(c[1]["cgroup"], "/cg21");
  EXPECT_NEAR(c[1]["blamed_ms"].get<double>(), 10.0, 1e-6);
  EXPECT_EQ(c[2]["cgroup"], "/cg10");
  EXPECT_EQ(c[2]["kind"], "own_io");
  EXPECT_NEAR(c[2]["blamed_ms"].get<double>(), 4.0, 1e-6);
  EXPECT_EQ(j["window"]["requests"], 2);
}

TEST(SlowEvent, WithCulpritsFoldedIntoTheRestSharesNeverPassTheirKind) {
  // The named culprits hold 25 ms of neighbour I/O but the window's kind is
  // 30 ms and 12 ms more sit in the rest (mixed kinds): the named ones are
  // not scaled up into the rest's part, so shares add up to at most 1.
  sw_blame_event e = sample_event();
  e.top[0].ns = 15 * kMs;
  e.top[1].ns = 10 * kMs;
  e.rest = {0, 12 * kMs, 1 << 20, 3, SW_BLAME_KIND_MIXED, {}};
  const auto j = nlohmann::json::parse(stallwatch::events::slow_event_json(e, context()));
  double share = 0;
  for (const auto& c : j["culprits"]) share += c["share"].get<double>();
  EXPECT_NEAR(j["culprits"][0]["blamed_ms"].get<double>(), 15.0, 1e-6) << j.dump();
  EXPECT_NEAR(j["culprits"][1]["blamed_ms"].get<double>(), 10.0, 1e-6);
  EXPECT_NEAR(j["other_culprits"]["blamed_ms"].get<double>(), 12.0, 1e-6);
  EXPECT_LE(share + 12.0 / 40.0, 1.0 + 1e-9) << j.dump();
}

stallwatch::reader::Snapshot blame_snapshot(
    std::initializer_list<std::tuple<std::uint64_t, std::uint64_t, std::uint8_t, std::uint64_t>> rows) {
  stallwatch::reader::Snapshot snap;
  snap.blame = true;
  for (const auto& [victim, culprit, kind, ns] : rows) {
    stallwatch::reader::BlameSeries s;
    s.key.victim = victim;
    s.key.culprit = culprit;
    s.key.dev = 7U << 20;
    s.key.kind = kind;
    s.val.ns = ns;
    s.val.count = kind == SW_BLAME_WINDOW ? 1 : 0;
    snap.blame_series.push_back(s);
  }
  return snap;
}

stallwatch::identity::Labeler labeler() {
  return {[](std::uint64_t id) {
            return Labels{"", "", "", "/cg" + std::to_string(id)};
          },
          [](std::uint32_t dev) { return std::string(dev == 253U << 20 ? "dm-0" : "loop0"); }, [](std::uint32_t) { return std::string(); }, false};
}

std::string text(const stallwatch::reader::Snapshot& snap, stallwatch::exporters::CulpritBudget& budget) {
  return stallwatch::exporters::text_format(
      stallwatch::exporters::render_blame(snap, labeler(), budget, {1, 0, 3, 0}));
}

std::string series(const std::string& culprit, const std::string& kind) {
  return R"(stallwatch_fsync_blame_seconds_total{victim_namespace="",victim_pod="",victim_container="",victim_cgroup="/cg1",culprit_namespace="",culprit_pod="",culprit_container="",culprit_cgroup=")" +
         culprit + R"(",device="loop0",kind=")" + kind + R"("} )";
}

TEST(CulpritBudget, TopCulpritsKeepTheirSeriesTheRestFold) {
  stallwatch::exporters::CulpritBudget budget(2);
  auto snap = blame_snapshot({{1, 2, SW_BLAME_NEIGHBOR_IO, 3'000'000'000},
                              {1, 3, SW_BLAME_NEIGHBOR_IO, 2'000'000'000},
                              {1, 4, SW_BLAME_NEIGHBOR_IO, 1'000'000'000},
                              {1, 0, SW_BLAME_CPU, 500'000'000},
                              {1, 0, SW_BLAME_WINDOW, 7'000'000'000}});
  std::string t = text(snap, budget);
  EXPECT_NE(t.find(series("/cg2", "neighbor_io") + "3\n"), std::string::npos) << t;
  EXPECT_NE(t.find(series("/cg3", "neighbor_io") + "2\n"), std::string::npos) << t;
  EXPECT_NE(t.find(series("other", "neighbor_io") + "1\n"), std::string::npos) << t;
  EXPECT_NE(t.find(series("", "cpu") + "0.5\n"), std::string::npos) << t;  // victim-only kinds always shown
  EXPECT_EQ(t.find("/cg4"), std::string::npos);
  EXPECT_NE(t.find("stallwatch_fsync_blame_window_seconds_total{victim_namespace=\"\",victim_pod=\"\",victim_container="
                   "\"\",victim_cgroup=\"/cg1\",device=\"loop0\"} 7\n"),
            std::string::npos)
      << t;

  // cg4 overtakes them later: its series would be new, but the budget is
  // spent; "other" only grows.
  snap = blame_snapshot({{1, 2, SW_BLAME_NEIGHBOR_IO, 3'000'000'000},
                         {1, 3, SW_BLAME_NEIGHBOR_IO, 2'000'000'000},
                         {1, 4, SW_BLAME_NEIGHBOR_IO, 9'000'000'000}});
  t = text(snap, budget);
  EXPECT_NE(t.find(series("other", "neighbor_io") + "9\n"), std::string::npos) << t;
  EXPECT_NE(t.find(series("/cg2", "neighbor_io") + "3\n"), std::string::npos) << t;
}

TEST(CulpritBudget, OffWhenTheEngineIsOff) {
  stallwatch::exporters::CulpritBudget budget(2);
  stallwatch::reader::Snapshot snap;
  EXPECT_TRUE(stallwatch::exporters::render_blame(snap, labeler(), budget, {}).empty());
}

}  // namespace
