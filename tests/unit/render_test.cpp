#include <gtest/gtest.h>
#include "common/names.h"
#include "exporters/prometheus/render.h"
#include "exporters/prometheus/text_format.h"

namespace {

using stallwatch::identity::Labeler;
using stallwatch::reader::FsyncSeries;
using stallwatch::reader::Snapshot;

Labeler fake_labeler() {
  return {[](std::uint64_t id) {
            return stallwatch::identity::Labels{"", "", "", id == 1 ? std::string("/") : "/pod-" + std::to_string(id)};
          },
          [](std::uint32_t dev) { return dev == (7U << 20) ? std::string("loop0") : std::string("vda"); },
          [](std::uint32_t dev) { return "part" + std::to_string(dev); }, false};
}

std::string serialize(const std::vector<prometheus::MetricFamily>& families) {
  return stallwatch::exporters::text_format(families);
}

TEST(Render, HistogramIsCumulativeWithCountAndSum) {
  Snapshot snap;
  FsyncSeries s{42, 7U << 20, SW_OP_FDATASYNC, {}};
  s.hist.buckets[0] = 2;   // <= 50 us
  s.hist.buckets[4] = 3;   // <= 1 ms
  s.hist.buckets[18] = 1;  // +Inf
  s.hist.sum_ns = 9'500'000'000ULL;
  snap.fsync.push_back(s);
  const std::string text = serialize(stallwatch::exporters::render_fsync(snap, fake_labeler()));
  const std::string lbl =
      R"(namespace="",pod="",container="",cgroup="/pod-42",device="loop0",op="fdatasync",file_class="other")";
  EXPECT_NE(text.find("# TYPE stallwatch_fsync_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("stallwatch_fsync_duration_seconds_count{" + lbl + "} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("stallwatch_fsync_duration_seconds_sum{" + lbl + "} 9.5\n"), std::string::npos) << text;
  const std::vector<std::pair<std::string, int>> expected = {
      {"5e-05", 2}, {"0.0001", 2}, {"0.00025", 2}, {"0.0005", 2}, {"0.001", 5}, {"0.002", 5}, {"0.004", 5},
      {"0.008", 5}, {"0.016", 5},  {"0.032", 5},   {"0.064", 5},  {"0.128", 5}, {"0.256", 5}, {"0.512", 5},
      {"1.024", 5}, {"2.048", 5},  {"4.096", 5},   {"8.192", 5},  {"+Inf", 6}};
  for (const auto& [le, n] : expected) {
    const std::string line =
        "stallwatch_fsync_duration_seconds_bucket{" + lbl + ",le=\"" + le + "\"} " + std::to_string(n) + "\n";
    EXPECT_NE(text.find(line), std::string::npos) << "missing " << line;
  }
}

TEST(Render, SeriesWithTheSameLabelsAreSummedNotDuplicated) {
  Snapshot snap;
  FsyncSeries a{1, 1, SW_OP_FSYNC, {}};
  a.hist.buckets[1] = 1;
  a.hist.sum_ns = 60'000;
  FsyncSeries b{1, 2, SW_OP_FSYNC, {}};  // another dev_t the labeler names "vda" too
  b.hist.buckets[1] = 2;
  b.hist.sum_ns = 140'000;
  snap.fsync = {a, b};
  const auto families = stallwatch::exporters::render_fsync(snap, fake_labeler());
  ASSERT_EQ(families[0].metric.size(), 1U);
  EXPECT_EQ(families[0].metric[0].histogram.sample_count, 3U);
  EXPECT_DOUBLE_EQ(families[0].metric[0].histogram.sample_sum, 0.0002);
}

TEST(Render, LostEventsAreExportedEvenWhenZero) {
  Snapshot snap;
  snap.drops[SW_DROP_FSYNC_HIST_FULL] = 5;
  const std::string text = serialize(stallwatch::exporters::render_lost(snap));
  EXPECT_NE(text.find(R"(stallwatch_events_lost_total{reason="histogram_map_full",source="fsync"} 5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(stallwatch_events_lost_total{reason="inflight_map_full",source="fsync"} 0)"),
            std::string::npos)
      << text;
}

// Completions the programs did not see are made good when found (the
// request leaves service): counted apart, so an alert on lost events never
// fires for them.
TEST(Render, BlockAnomaliesAreNotLostEvents) {
  Snapshot snap;
  snap.block = true;
  snap.drops[SW_DROP_BLOCK_COMPLETION_MISSED] = 3;
  snap.drops[SW_DROP_BLOCK_UNMATCHED_COMPLETION] = 2;
  snap.drops[SW_DROP_BLOCK_COMPLETION_LOST] = 5;
  snap.drops[SW_DROP_BLOCK_BIO_FULL] = 7;
  const std::string text = serialize(stallwatch::exporters::render_lost(snap));
  EXPECT_NE(text.find(R"(stallwatch_block_anomalies_total{reason="completion_missed"} 3)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(stallwatch_block_anomalies_total{reason="unmatched_completion"} 2)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(stallwatch_block_anomalies_total{reason="completion_lost"} 5)"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(stallwatch_events_lost_total{reason="completion_missed")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(stallwatch_events_lost_total{reason="completion_lost")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(stallwatch_events_lost_total{reason="bio_map_full",source="block"} 7)"), std::string::npos)
      << text;
}

TEST(Render, RecursionMissesArePerProgram) {
  Snapshot snap;
  snap.recursion_misses = {{"block_rq_issue_btf", 4}, {"sys_enter_sync_tp", 0}};
  const std::string text = serialize(stallwatch::exporters::render_lost(snap));
  EXPECT_NE(text.find(R"(stallwatch_bpf_recursion_misses_total{program="block_rq_issue_btf"} 4)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(stallwatch_bpf_recursion_misses_total{program="sys_enter_sync_tp"} 0)"), std::string::npos)
      << text;
}

TEST(Render, UnknownOpKeepsItsNumber) {
  EXPECT_EQ(stallwatch::names::fsync_op_name(99), "op_99");
  EXPECT_EQ(stallwatch::names::fsync_op_name(SW_OP_URING_FSYNC), "io_uring_fsync");
}

TEST(Render, HookAndBuildInfo) {
  const std::string text =
      serialize(stallwatch::exporters::render_agent_info({{"fsync", "tracepoint"}}, {"0.1.0", "abc", "v1.1", "ctrl-1"}));
  EXPECT_NE(text.find(R"(stallwatch_hook_info{mode="tracepoint",subsystem="fsync"} 1)"), std::string::npos);
  EXPECT_NE(
      text.find(R"(stallwatch_build_info{libbpf_version="v1.1",nodename="ctrl-1",revision="abc",version="0.1.0"} 1)"),
      std::string::npos)
      << text;
}

}  // namespace

namespace {

stallwatch::reader::BlockIoSeries io(std::uint64_t submitter, std::uint64_t owner, std::uint32_t part, std::uint8_t op,
                                     std::uint8_t kind, std::uint64_t n) {
  stallwatch::reader::BlockIoSeries s;
  s.key.submitter = submitter;
  s.key.owner = owner;
  s.key.dev = 7U << 20;
  s.key.part = part;
  s.key.op = op;
  s.key.kind = kind;
  s.io = {n, n * 4096, n * 1000, n / 2, 0};
  return s;
}

TEST(RenderBlock, SubmitterOrOwnerBecomesTheCgroupLabel) {
  Snapshot snap;
  snap.block = true;
  snap.block_io = {io(5, 9, 0, SW_BLK_WRITE, SW_KIND_USER, 10), io(1, 9, 0, SW_BLK_WRITE, SW_KIND_WRITEBACK, 4)};
  auto labeler = fake_labeler();
  std::string text = serialize(stallwatch::exporters::render_block(snap, labeler));
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_requests_total{namespace="",pod="",container="",cgroup="/pod-5",device="loop0",op="write",submitter="task"} 10)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_bytes_total{namespace="",pod="",container="",cgroup="/",device="loop0",op="write",submitter="writeback"} 16384)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_flagged_requests_total{namespace="",pod="",container="",cgroup="/pod-5",device="loop0",op="write",submitter="task",flag="preflush"} 5)"),
      std::string::npos)
      << text;
  // With owner attribution both rows belong to the owner, per submitter kind.
  labeler.block_owner = true;
  text = serialize(stallwatch::exporters::render_block(snap, labeler));
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_requests_total{namespace="",pod="",container="",cgroup="/pod-9",device="loop0",op="write",submitter="task"} 10)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_requests_total{namespace="",pod="",container="",cgroup="/pod-9",device="loop0",op="write",submitter="writeback"} 4)"),
      std::string::npos)
      << text;
}

TEST(RenderBlock, PartitionLabelOnlyWhereThereIsOne) {
  Snapshot snap;
  snap.block = true;
  snap.block_io = {io(5, 0, (7U << 20) | 1, SW_BLK_READ, SW_KIND_USER, 3), io(5, 0, 0, SW_BLK_READ, SW_KIND_USER, 2)};
  const std::string text = serialize(stallwatch::exporters::render_block(snap, fake_labeler()));
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_requests_total{namespace="",pod="",container="",cgroup="/pod-5",device="loop0",op="read",submitter="task",partition="part7340033"} 3)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(stallwatch_block_io_requests_total{namespace="",pod="",container="",cgroup="/pod-5",device="loop0",op="read",submitter="task"} 2)"),
      std::string::npos)
      << text;
}

TEST(RenderBlock, NothingWhenTheBlockLayerIsOff) {
  Snapshot snap;
  EXPECT_TRUE(stallwatch::exporters::render_block(snap, fake_labeler()).empty());
  const std::string lost = serialize(stallwatch::exporters::render_lost(snap));
  EXPECT_EQ(lost.find("source=\"block\""), std::string::npos);
}

}  // namespace

namespace {

TEST(Render, DiskConditionsAreAGaugeAndTwoServiceTimes) {
  const std::string text = stallwatch::exporters::text_format(
      stallwatch::exporters::render_disk_conditions({{"vdb", true, 0.0198, 0.0009}, {"sda", false, 0.0004, 0.0004}}));
  EXPECT_NE(text.find("stallwatch_disk_throttled{device=\"vdb\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("stallwatch_disk_throttled{device=\"sda\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("stallwatch_disk_service_seconds{device=\"vdb\",window=\"recent\"} 0.0198\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("stallwatch_disk_service_seconds{device=\"vdb\",window=\"baseline\"} 0.0009\n"),
            std::string::npos)
      << text;
  EXPECT_TRUE(stallwatch::exporters::render_disk_conditions({}).empty());
}

}  // namespace
