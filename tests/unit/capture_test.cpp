// capture's trigger and size flags, the sampler's quantiles, and the
// summary sentence.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "capture/recorder.h"
#include "capture/trigger.h"
#include "exporters/report/summary.h"
#include "live/sampler.h"

namespace {

using stallwatch::capture::parse_size;
using stallwatch::capture::Trigger;

// One second of an etcd victim's calls, split into kinds.
stallwatch::live::VictimSample etcd_second(std::map<std::string, double> kinds) {
  stallwatch::live::VictimSample v;
  v.labels = {"kube-system", "etcd-a", "etcd", "/kubepods/etcd"};
  v.calls = 100;
  v.wall_s = 1.0;
  v.kinds_s = std::move(kinds);
  return v;
}

TEST(Trigger, ParsesAndMatches) {
  auto t = Trigger::parse("fsync>50ms");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->matches({{"event", "slow_fsync"}, {"duration_ms", 50.0}}));
  EXPECT_FALSE(t->matches({{"event", "slow_fsync"}, {"duration_ms", 49.9}}));
  EXPECT_FALSE(t->matches({{"event", "probe"}, {"duration_ms", 900.0}}));
  auto p = Trigger::parse("probe=timeout");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->matches({{"event", "probe"}, {"result", "timeout"}}));
  EXPECT_FALSE(p->matches({{"event", "probe"}, {"result", "refused"}}));
  auto v = Trigger::parse("verdict=neighbor");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->matches({{"event", "slow_fsync"}, {"verdict", "neighbor"}}));
  for (const char* verdict : {"io_limit", "throttled"}) {
    EXPECT_TRUE(Trigger::parse(std::string("verdict=") + verdict)) << verdict;
  }
  EXPECT_NE(Trigger::parse("verdict=disk").error().message.find(
                "unknown verdict 'disk' (neighbor, io_limit, throttled, self, journal, device, cpu, mixed)"),
            std::string::npos);
}

TEST(Trigger, BadInputNamesTheTrigger) {
  for (const char* bad : {"fsync>", "fsync>5", "fsync=5ms", "probe=slow", "verdict=disk", "latency>5ms", ""}) {
    auto t = Trigger::parse(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_NE(t.error().message.find(std::string("--trigger '") + bad + "'"), std::string::npos) << t.error().message;
  }
}

TEST(Size, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("100MB"), 100'000'000U);
  EXPECT_EQ(*parse_size("1GiB"), 1ULL << 30);
  EXPECT_EQ(*parse_size("512KiB"), 512U * 1024);
  EXPECT_EQ(*parse_size("8192"), 8192U);
  for (const char* bad : {"lots", "10TB", "-1MB", "1KB", "MB"}) EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(Sampler, QuantileIsTheBucketBound) {
  stallwatch::reader::Histogram h;
  EXPECT_EQ(stallwatch::live::quantile(h, 0.99), 0.0);
  h.buckets[4] = 98;  // <= 1 ms
  h.buckets[9] = 2;   // <= 32 ms
  EXPECT_DOUBLE_EQ(stallwatch::live::quantile(h, 0.5), 0.001);
  EXPECT_DOUBLE_EQ(stallwatch::live::quantile(h, 0.99), 0.032);
}

// The report's heat map draws each second's histogram: the sampler keeps
// the buckets that had calls in that second (the +Inf one with bound 0),
// and a bundle reads them back.
TEST(Sampler, EachSecondKeepsTheBucketsItsCallsFellIn) {
  using namespace stallwatch;
  identity::Labeler labeler;
  labeler.workload = [](std::uint64_t) { return identity::Labels{"kube-system", "etcd-a", "etcd", "/kubepods/etcd"}; };
  labeler.device = [](std::uint32_t) { return std::string("vda"); };
  labeler.partition = labeler.device;
  live::Sampler sampler(labeler);
  reader::Snapshot before, after;
  reader::BlameSeries window;
  window.key.victim = 7;
  window.key.kind = SW_BLAME_WINDOW;
  window.val.ns = 1'000;
  before.blame_series.push_back(window);
  window.val.ns = 5'000;
  after.blame_series.push_back(window);
  reader::FsyncSeries f;
  f.cgroup_id = 7;
  f.hist.buckets[4] = 10;  // <= 1 ms, before this second
  before.fsync.push_back(f);
  f.hist.buckets[4] = 108;
  f.hist.buckets[9] = 3;                    // <= 32 ms
  f.hist.buckets[SW_HIST_BUCKETS - 1] = 1;  // +Inf
  after.fsync.push_back(f);
  EXPECT_FALSE(sampler.next(before, 1'000'000'000, 1.0));
  const auto s = sampler.next(after, 2'000'000'000, 1.0);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->victims.size(), 1U);
  const std::vector<std::pair<double, std::uint64_t>> want = {{0.001, 98}, {0.032, 3}, {0.0, 1}};
  EXPECT_EQ(s->victims[0].hist, want);
  EXPECT_EQ(s->victims[0].calls, 102U);
  EXPECT_EQ(live::Sample::from_json(s->to_json()).victims[0].hist, want);
  // A bundle written before the histograms were sampled reads back without.
  auto old = s->to_json();
  old["victims"][0].erase("hist");
  EXPECT_TRUE(live::Sample::from_json(old).victims[0].hist.empty());
}

TEST(Summary, SentenceNamesTheTopCulprit) {
  stallwatch::live::Sample s;
  auto v = etcd_second({{"neighbor_io", 0.9}, {"own_io", 0.1}});
  v.p50_s = 0.008;
  v.p99_s = 0.064;
  s.victims.push_back(v);
  const nlohmann::json event = {
      {"event", "slow_fsync"},
      {"verdict", "neighbor"},
      {"victim",
       {{"namespace", "kube-system"}, {"pod", "etcd-a"}, {"container", "etcd"}, {"cgroup", "/kubepods/etcd"}}},
      {"culprits",
       {{{"namespace", "batch"},
         {"pod", "etl-7"},
         {"container", "load"},
         {"cgroup", "/kubepods/etl"},
         {"kind", "neighbor_io"},
         {"blamed_ms", 45.0}},
        {{"namespace", "kube-system"},
         {"pod", "etcd-a"},
         {"container", "etcd"},
         {"cgroup", "/kubepods/etcd"},
         {"kind", "own_io"},
         {"blamed_ms", 5.0}}}}};
  const auto summary = stallwatch::report::summarize({event}, {s});
  EXPECT_EQ(summary["top_culprit"]["labels"]["pod"], "etl-7");
  EXPECT_DOUBLE_EQ(summary["top_culprit"]["share"].get<double>(), 0.9);
  const std::string sentence = summary["sentence"];
  EXPECT_NE(sentence.find("kube-system/etcd-a"), std::string::npos) << sentence;
  EXPECT_NE(sentence.find("90% of its slow calls' waiting was behind batch/etl-7 (neighbor_io)"), std::string::npos)
      << sentence;
  EXPECT_NE(sentence.find("Verdict: neighbor."), std::string::npos) << sentence;
}

// A window with calls and none slow says there was no incident, and no verdict.
TEST(Summary, AWindowWithoutSlowCallsSaysNoIncident) {
  stallwatch::live::Sample s;
  auto v = etcd_second({{"own_io", 0.2}});
  v.p99_s = 0.001;
  s.victims.push_back(v);
  const auto summary = stallwatch::report::summarize({}, {s, s});
  const std::string sentence = summary["sentence"];
  EXPECT_EQ(sentence, "kube-system/etcd-a: 200 fsync calls, p99 up to 1 ms in its worst second, none slow: no incident.");
  EXPECT_FALSE(summary.contains("top_culprit"));
}

// One workload that held the victim's disk and, later, its CPU: two rows,
// each with its own kind (the last kind seen used to name both).
TEST(Summary, AWorkloadBlamedForTwoKindsKeepsBoth) {
  stallwatch::live::Sample s;
  s.victims.push_back(etcd_second({{"neighbor_io", 0.8}, {"cpu", 0.1}, {"own_io", 0.1}}));
  const nlohmann::json etl = {{"namespace", "batch"}, {"pod", "etl-7"}, {"container", "load"},
                              {"cgroup", "/kubepods/etl"}};
  auto culprit = [&](const char* kind, double ms) {
    nlohmann::json c = etl;
    c["kind"] = kind;
    c["blamed_ms"] = ms;
    return c;
  };
  const nlohmann::json victim = {{"cgroup", "/kubepods/etcd"}};
  const std::vector<nlohmann::json> events = {
      {{"event", "slow_fsync"}, {"verdict", "neighbor"}, {"victim", victim},
       {"culprits", nlohmann::json::array({culprit("neighbor_io", 40)})}},
      {{"event", "slow_fsync"}, {"verdict", "neighbor"}, {"victim", victim},
       {"culprits", nlohmann::json::array({culprit("cpu", 10)})}}};
  const auto summary = stallwatch::report::summarize(events, {s});
  const auto& rows = summary["victims"][0]["culprits"];
  ASSERT_EQ(rows.size(), 2U) << rows.dump();
  EXPECT_EQ(rows[0]["kind"], "neighbor_io");
  EXPECT_DOUBLE_EQ(rows[0]["seconds"].get<double>(), 0.04);
  EXPECT_EQ(rows[1]["kind"], "cpu");
  EXPECT_NE(summary["sentence"].get<std::string>().find("behind batch/etl-7 (neighbor_io)"), std::string::npos)
      << summary["sentence"];
}

TEST(Recorder, KeepsThePreTriggerRingOnceTheTriggerFires) {
  const auto dir = std::filesystem::temp_directory_path() / ("sw-recorder-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    stallwatch::capture::Recorder recorder(dir, *Trigger::parse("verdict=neighbor"), std::chrono::seconds(10), 1 << 20);
    recorder.event({{"event", "slow_fsync"}, {"verdict", "self"}, {"duration_ms", 12.0}});
    EXPECT_FALSE(recorder.recording());
    EXPECT_TRUE(recorder.events().empty());
    recorder.event({{"event", "slow_fsync"}, {"verdict", "neighbor"}, {"duration_ms", 40.0}});
    EXPECT_TRUE(recorder.recording());
    EXPECT_GT(recorder.triggered_at(), 0);
    recorder.event({{"event", "slow_fsync"}, {"verdict", "device"}, {"duration_ms", 15.0}});
    ASSERT_EQ(recorder.events().size(), 3u) << "the event from before the trigger is kept";
    EXPECT_EQ(recorder.events()[0]["verdict"], "self");
    EXPECT_EQ(recorder.matches(), 1u);
  }
  std::ifstream in(dir / "events.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 3);
  std::filesystem::remove_all(dir);
}

TEST(Recorder, StopsKeepingAtItsBudget) {
  const auto dir = std::filesystem::temp_directory_path() / ("sw-recorder-full-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    stallwatch::capture::Recorder recorder(dir, std::nullopt, std::chrono::seconds(10), 300);
    for (int i = 0; i < 20; i++) recorder.event({{"event", "slow_fsync"}, {"n", i}, {"pad", std::string(20, 'x')}});
    EXPECT_TRUE(recorder.full());
    EXPECT_LE(recorder.bytes() * 3 / 2, 300u);
    EXPECT_GT(recorder.events().size(), 0u);
    EXPECT_LT(recorder.events().size(), 20u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST(Summary, JournalWritingANeighboursDataIsTheNeighboursVerdict) {
  // No slow events: the verdict comes from the samples' kinds, and journal
  // time spent on another workload's data counts for `neighbor`, as it does
  // in the slow events.
  stallwatch::live::Sample s;
  auto v = etcd_second({{"journal", 0.7}, {"own_io", 0.3}});
  v.journal_of_neighbours_s = 0.6;
  s.victims.push_back(v);
  const auto round_trip = stallwatch::live::Sample::from_json(s.to_json());
  ASSERT_EQ(round_trip.victims.size(), 1u);
  EXPECT_DOUBLE_EQ(round_trip.victims[0].journal_of_neighbours_s, 0.6);
  EXPECT_EQ(stallwatch::report::summarize({}, {round_trip})["victims"][0]["verdict"], "neighbor");
  s.victims[0].journal_of_neighbours_s = 0;  // the journal's own work
  EXPECT_EQ(stallwatch::report::summarize({}, {s})["victims"][0]["verdict"], "journal");
}
