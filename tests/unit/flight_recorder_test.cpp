// The flight recorder's segments: written, bounded by size and age with the
// oldest going first, read back by window, and torn records (a crash, a full
// disk) skipped and counted without losing the records around them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "capture/flight_recorder.h"
#include "capture/segments.h"
#include "common/time_arg.h"

namespace stallwatch::capture {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kT0 = 1'764'806'400 * kSec;  // 2025-12-04T00:00:00Z

struct RecorderDir {
  fs::path path;
  RecorderDir() {
    char tmpl[] = "/tmp/stallwatch-recorder-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~RecorderDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

live::Sample sample_at(std::int64_t t, std::size_t pad = 0) {
  live::Sample s;
  s.realtime_ns = t;
  s.interval_s = 1;
  live::VictimSample v;
  v.labels.cgroup = "/etcd" + std::string(pad, 'x');
  v.calls = 7;
  s.victims.push_back(v);
  return s;
}

std::unique_ptr<FlightRecorder> open_recorder(const fs::path& dir, std::uint64_t max_bytes = 256ULL << 20,
                                              std::int64_t max_age = 24 * 3600 * kSec) {
  FlightRecorderConfig c;
  c.dir = dir;
  c.max_bytes = max_bytes;
  c.max_age_ns = max_age;
  c.host = {{"node", "node-a"}};
  auto r = FlightRecorder::open(c);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

TEST(FlightRecorder, AWindowReadsBackItsSamplesEventsHostAndMetrics) {
  RecorderDir d;
  {
    auto r = open_recorder(d.path);
    for (int i = 0; i < 20; ++i) r->sample(sample_at(kT0 + i * kSec));
    r->event({{"event", "slow_fsync"}, {"n", 1}}, kT0 + 5 * kSec);
    r->event({{"event", "slow_fsync"}, {"n", 2}}, kT0 + 15 * kSec);
    r->metrics("stallwatch_a 1\n", kT0 + 4 * kSec);
    r->metrics("stallwatch_a 2\n", kT0 + 8 * kSec);
    r->metrics("stallwatch_a 3\n", kT0 + 16 * kSec);
    EXPECT_EQ(r->stats().records, 20u + 2 + 3 + 1) << "and the host record";
    EXPECT_EQ(r->stats().dropped, 0u);
  }
  const Window w = read_window(d.path, kT0 + 3 * kSec, kT0 + 10 * kSec);
  ASSERT_EQ(w.samples.size(), 8u);
  EXPECT_EQ(w.samples.front().realtime_ns, kT0 + 3 * kSec);
  EXPECT_EQ(w.samples.front().victims.at(0).calls, 7u);
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0]["n"], 1);
  EXPECT_EQ(w.host.value("node", ""), "node-a");
  EXPECT_EQ(w.metrics_first, "stallwatch_a 1\n");
  EXPECT_EQ(w.metrics_last, "stallwatch_a 2\n");
  EXPECT_EQ(w.torn, 0u);
  const Holdings h = survey(d.path);
  EXPECT_EQ(h.samples, 20u);
  EXPECT_EQ(h.first_ns, kT0);
  EXPECT_EQ(h.per_hour.at(kT0).first, 2u) << "slow events in the hour";
}

TEST(FlightRecorder, PastTheSizeBoundTheOldestSegmentsGoFirst) {
  RecorderDir d;
  const std::uint64_t bound = 1ULL << 20;
  auto r = open_recorder(d.path, bound);
  // About 4 KiB a record, 4 MiB in all: four times the bound.
  const int n = 1000;
  for (int i = 0; i < n; ++i) r->sample(sample_at(kT0 + i * kSec, 4000));
  std::uint64_t on_disk = 0;
  for (const auto& s : list_segments(d.path)) on_disk += s.bytes;
  EXPECT_LE(on_disk, bound + bound / 16 + 8192) << "the bound, and the segment being written";
  EXPECT_GE(on_disk, bound * 3 / 4);
  EXPECT_EQ(on_disk, r->stats().bytes);
  EXPECT_GT(r->stats().removed, 0u);
  // What is left is the newest records, without a gap.
  const Window w = read_window(d.path, 0, kT0 + n * kSec);
  ASSERT_FALSE(w.samples.empty());
  EXPECT_EQ(w.samples.back().realtime_ns, kT0 + (n - 1) * kSec);
  EXPECT_GT(w.samples.front().realtime_ns, kT0 + 500 * kSec);
  for (std::size_t i = 1; i < w.samples.size(); ++i) {
    ASSERT_EQ(w.samples[i].realtime_ns - w.samples[i - 1].realtime_ns, kSec) << "a gap at " << i;
  }
}

TEST(FlightRecorder, SegmentsOlderThanTheAgeBoundGo) {
  RecorderDir d;
  auto r = open_recorder(d.path, 256ULL << 20, 2 * 3600 * kSec);
  // A sample a minute for five hours: segments roll every hour.
  for (int m = 0; m <= 5 * 60; ++m) r->sample(sample_at(kT0 + m * 60 * kSec));
  const Window w = read_window(d.path, 0, kT0 + 6 * 3600 * kSec);
  ASSERT_FALSE(w.samples.empty());
  // Segments that ended more than 2 h before the newest record are gone;
  // the one that ended within it stays whole.
  EXPECT_GE(w.samples.front().realtime_ns, kT0 + 2 * 3600 * kSec);
  EXPECT_LE(w.samples.front().realtime_ns, kT0 + 3 * 3600 * kSec);
  EXPECT_EQ(w.samples.back().realtime_ns, kT0 + 5 * 3600 * kSec);
}

TEST(FlightRecorder, ATornLastRecordIsSkippedAndTheRestReadsBack) {
  RecorderDir d;
  {
    auto r = open_recorder(d.path);
    for (int i = 0; i < 10; ++i) r->sample(sample_at(kT0 + i * kSec));
  }
  // kill -9 in the middle of a write: half a record, no newline.
  const auto segs = list_segments(d.path);
  ASSERT_EQ(segs.size(), 1u);
  {
    std::ofstream out(segs[0].base.string() + ".jsonl", std::ios::app);
    out << R"({"t":)" << kT0 + 10 * kSec << R"(,"k":"sample","v":{"realtime)";
  }
  {
    auto r = open_recorder(d.path);  // a restarted agent begins a new segment
    for (int i = 20; i < 30; ++i) r->sample(sample_at(kT0 + i * kSec));
  }
  EXPECT_EQ(list_segments(d.path).size(), 2u);
  const Window w = read_window(d.path, 0, kT0 + 60 * kSec);
  EXPECT_EQ(w.samples.size(), 20u);
  EXPECT_EQ(w.torn, 1u);
}

TEST(FlightRecorder, AFullDiskDropsAndCountsRecordsThenRecovers) {
  RecorderDir d;
  auto r = open_recorder(d.path);
  for (int i = 0; i < 10; ++i) r->sample(sample_at(kT0 + i * kSec));
  // A file size limit stands in for a full disk: write(2) stops at it,
  // part of a record first, then nothing (EFBIG).
  const auto seg = list_segments(d.path).at(0);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = fs::file_size(seg.base.string() + ".jsonl") + 100;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  for (int i = 10; i < 20; ++i) r->sample(sample_at(kT0 + i * kSec));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(r->stats().dropped, 10u);
  for (int i = 20; i < 30; ++i) r->sample(sample_at(kT0 + i * kSec));
  EXPECT_EQ(r->stats().dropped, 10u);
  const Window w = read_window(d.path, 0, kT0 + 60 * kSec);
  EXPECT_EQ(w.samples.size(), 20u) << "the records before and after, whole";
  EXPECT_EQ(w.torn, 1u) << "the one cut at the limit";
}

TEST(FlightRecorder, ATornMetricsSnapshotLosesOnlyItself) {
  RecorderDir d;
  {
    auto r = open_recorder(d.path);
    r->sample(sample_at(kT0));
    for (int i = 1; i <= 3; ++i) r->metrics(std::string(50000, 'a' + i) + "\n", kT0 + i * 10 * kSec);
  }
  const auto seg = list_segments(d.path).at(0);
  const fs::path gz = seg.base.string() + ".prom.gz";
  fs::resize_file(gz, fs::file_size(gz) - 20);
  const Window w = read_window(d.path, 0, kT0 + 60 * kSec);
  EXPECT_EQ(w.metrics_first_ns, kT0 + 10 * kSec);
  EXPECT_EQ(w.metrics_last_ns, kT0 + 20 * kSec);
  EXPECT_EQ(w.metrics_last, std::string(50000, 'c') + "\n");
  EXPECT_EQ(w.torn, 1u);
}

TEST(FlightRecorder, BelowAMebibyteIsRefused) {
  RecorderDir d;
  FlightRecorderConfig c;
  c.dir = d.path;
  c.max_bytes = 512 << 10;
  auto r = FlightRecorder::open(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("1MiB at least"), std::string::npos) << r.error().message;
}

TEST(TimeArg, Rfc3339RelativeAndNow) {
  const std::int64_t now = kT0 + 7200 * kSec;
  EXPECT_EQ(parse_time_ns("2025-12-04T00:00:00Z", now).value(), kT0);
  EXPECT_EQ(parse_time_ns("2025-12-04T01:00:00.5+01:00", now).value(), kT0 + kSec / 2);
  EXPECT_EQ(parse_time_ns("2025-12-03T23:00:00-01:00", now).value(), kT0);
  EXPECT_EQ(parse_time_ns("now", now).value(), now);
  EXPECT_EQ(parse_time_ns("-2h", now).value(), kT0);
  EXPECT_EQ(parse_time_ns("-1h30m", now).value(), kT0 + 1800 * kSec);
  for (const char* bad : {"", "yesterday", "2025-12-04", "2025-12-04T00:00:00", "2025-13-04T00:00:00Z",
                          "2025-12-04T00:00:00Zjunk", "-2", "-2d", "2025-12-04T00:00:00.Z", "2025-12-04T00:00:00+1"}) {
    auto t = parse_time_ns(bad, now);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_NE(t.error().message.find("bad time"), std::string::npos) << t.error().message;
    }
  }
}

}  // namespace
}  // namespace stallwatch::capture
