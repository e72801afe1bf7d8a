// Blame judged by the counterfactual: the victim (named etcd: 4 KiB append
// + fdatasync) runs alone, then next to a neighbour in its own cgroup; what
// the neighbour caused is the slowdown, the disturbed windows' sum minus N
// times the undisturbed mean. The neighbour's blamed seconds must match it,
// in the shapes real noisy neighbours have, on ext4 and on XFS, and the
// same load on a device of its own (a /dev/shm-backed loop device) must be
// blamed for no I/O, only for the CPU it held while the victim waited.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/blame.h"
#include "support/processes.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

// A neighbour's workload, started in its cgroup on the directory given.
struct Shape {
  const char* name;
  std::function<std::vector<std::string>(const std::string& dir)> command;
  // Prepares the directory before the victim's first run (a file to read).
  std::function<void(const std::string& dir)> prepare = [](const std::string&) {};
  // Whether the engine answers the counterfactual for this shape yet; if
  // not, why (only the bystander check runs for it).
  bool counterfactual = true;
  const char* why_not = "";
  // A filesystem the counterfactual check leaves out for this shape ("": none).
  const char* except_fs = "";
  // The victim's loop device reads its image with O_DIRECT. A loop device
  // otherwise serves reads of a recently written image from the host's page
  // cache, where random reads cost nothing a disk's would: 150 calls slowed
  // by 2 to 51 ms in all, less than two undisturbed runs differ by.
  bool direct_backing = false;
  // The victim's calls per run: enough that its disturbed run spans several
  // of the neighbour's cycles, so that the effect is not one cycle's luck.
  int calls = 150;
  // > 1: the victim's calls are split into this many alone and disturbed
  // blocks that alternate, the neighbour frozen in between, for a neighbour
  // whose effect is smaller than how far apart two separate runs drift.
  int blocks = 1;
};

std::vector<std::string> fio(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> cmd = {"/usr/bin/fio", "--name=neighbour", "--filename=" + dir + "/bulk",
                                  "--size=192M",  "--time_based",     "--runtime=300"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

const Shape kShapes[] = {
    {"direct_qd1_1m",
     [](const std::string& d) {
       return fio(d, {"--rw=write", "--bs=1M", "--direct=1", "--ioengine=psync"});
     }},
    {"direct_qd16_1m",
     [](const std::string& d) {
       return fio(d, {"--rw=write", "--bs=1M", "--direct=1", "--iodepth=16", "--ioengine=libaio"});
     }},
    {"buffered_never_synced",
     [](const std::string& d) {
       return fio(d, {"--rw=write", "--bs=1M", "--ioengine=psync"});
     }},
    {"buffered_64m_then_fsync",
     [](const std::string& d) {
       return fio(d, {"--rw=write", "--bs=1M", "--ioengine=psync", "--fsync=64"});
     },
     // Held on ext4 again: under stress-ng 6 of 6 runs gave 0.80 to 0.86
     // of the slowdown (0.91 to 1.00 of its I/O part) and unloaded 3 of 3
     // gave 0.79 to 0.89, where at b2d9bf3 stressed runs reached 1.65.
     [](const std::string&) {}, true, "", "", false,
     // 150 calls (0.3 to 1 s disturbed) caught one to three of its fsyncs:
     // slowdowns of 87 to 830 ms under stress-ng, and the blame 0.81 to 1.88
     // of them; with 600, XFS's blame is 0.85 to 1.19 of the slowdown.
     // Since writes in service count in a flush, unloaded 0.86 to 0.94 (4
     // runs), and under stress-ng 10 of 10 passed, the blame 0.88 to 2.20
     // of the slowdown where the undisturbed runs differed by up to 967 ms.
     600},
    {"small_file_churn",
     [](const std::string& d) {
       return std::vector<std::string>{
           "/bin/sh", "-c",
           "mkdir -p " + d + "/churn; for w in a b; do (i=0; while :; do i=$((i+1)); dd if=/dev/zero of=" + d +
               "/churn/$w$((i%50)) bs=4k count=1 conv=fsync status=none; rm -f " + d +
               "/churn/$w$(((i+25)%50)); done) & done; wait"};
     },
     // Judged on alternating blocks: unloaded, 10 of 10 runs (5 on each
     // filesystem) gave 0.81 to 0.99 of the slowdown, with noise of 8 to 13
     // ms against slowdowns of 118 to 198 ms; most of it is CPU the churn
     // held while the victim or the loop device's worker waited. Under
     // stress-ng --cpu 2 the undisturbed blocks were the slower ones, and
     // only the noise term held the bound (docs/blame.md).
     [](const std::string&) {}, true, "", "", false, 320, 8},
    {"direct_randread_qd32",
     [](const std::string& d) {
       return fio(d, {"--rw=randread", "--bs=4k", "--direct=1", "--iodepth=32", "--ioengine=libaio"});
     },
     [](const std::string& d) { sh("dd if=/dev/urandom of=" + d + "/bulk bs=1M count=192 conv=fsync status=none"); },
     // Judged since the flush-base rule and the journal's owners came back:
     // under stress-ng 10 of 10 runs passed (0.82 to 1.31 of the slowdown,
     // and 3.33 in one whose undisturbed runs differed by 297 ms); before
     // them 2 of 5 failed on ext4, once with the victim's own I/O above
     // the neighbour's.
     true, "", "", true},
};

struct Param {
  const Shape* shape;
  std::string fs;
};

std::string param_name(const ::testing::TestParamInfo<Param>& p) {
  return std::string(p.param.shape->name) + "_" + p.param.fs;
}

// Victim and neighbour cgroups, the victim's filesystem, one agent.
class BlameShape : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    disk_ = std::make_unique<LoopFs>("/var/tmp", 768, GetParam().fs, GetParam().shape->direct_backing);
    victim_ = std::make_unique<TestCgroup>(unique("victim"));
    neighbour_ = std::make_unique<TestCgroup>(unique("neighbour"));
    agent_ = std::make_unique<Agent>(std::vector<std::string>{"--victim=cgroup=" + victim_->rel()});
    ASSERT_TRUE(agent_->wait_ready()) << agent_->log();
    wait_victims(*agent_, "cgroups", 1);
  }

  struct Outcome {
    VictimRun alone, disturbed, again;  // alone before and after the disturbed run
    Blame blame, blame_alone;           // the disturbed run's, the first alone run's (or all alone blocks')
    // What the victim's undisturbed calls were blamed on, per (cgroup,
    // kind), scaled to the disturbed run's calls: the mean of both alone runs.
    std::map<std::pair<std::string, std::string>, double> baseline;
    int alone_slow = 0;  // slow calls an undisturbed run had (the mean, rounded up)
    std::vector<nlohmann::json> events;
    double slowdown_s = 0;   // disturbed sum - N x mean alone
    double rise_s = 0;       // what the calls that got slower rose by (rank_rise_s)
    double noise_s = 0;      // two standard deviations of the slowdown (below)
    double cpu_s = 0;        // of the slowdown, more waiting for a CPU (anyone's)
    double cpu_fell_s = 0;   // or how much less the victim waited for a CPU
    double cpu_theirs_s = 0;  // of that, named on the neighbour
    int blocks = 1;          // alternating blocks of each (again is then empty)
    double neighbour_s = 0;  // blamed on the neighbour's cgroup, every kind
    // The part of the slowdown the neighbour answers for: the more CPU
    // wait is named on whoever ran, and what others ran (stress-ng, the
    // kernel's workers) is theirs.
    double theirs_slowdown_s() const { return slowdown_s - (cpu_s - cpu_theirs_s); }
  };

  // Both runs sync one file prefilled beforehand, so its allocation is in neither.
  Outcome run(const std::string& neighbour_dir, int calls) {
    if (GetParam().shape->blocks > 1) return run_alternating(neighbour_dir, calls, GetParam().shape->blocks);
    Outcome o;
    const std::string wal = disk_->path() + "/wal";
    GetParam().shape->prepare(neighbour_dir);
    run_victim(*victim_, wal, 1);
    const Blame b0 = blame_of(*agent_, victim_->rel());
    const std::size_t at_alone = agent_->events().size();
    o.alone = run_victim(*victim_, wal, calls);
    const Blame b1 = blame_of(*agent_, victim_->rel());
    const std::size_t slow_alone = events_since(*agent_, at_alone).size();
    const std::size_t first = agent_->events().size();
    auto neighbour = std::make_unique<Background>(GetParam().shape->command(neighbour_dir), neighbour_->dir());
    std::this_thread::sleep_for(2s);  // past fio's start and the first dirty-page flush
    o.disturbed = run_victim(*victim_, wal, calls);
    neighbour->stop();
    const Blame b2 = blame_of(*agent_, victim_->rel());
    o.events = events_since(*agent_, first);
    sh("sync");  // what the neighbour left dirty is not the second alone run's
    const std::size_t at_again = agent_->events().size();
    o.again = run_victim(*victim_, wal, calls);
    const Blame b3 = blame_of(*agent_, victim_->rel());
    o.alone_slow = static_cast<int>(slow_alone + events_since(*agent_, at_again).size() + 1) / 2;
    o.blame = b2 - b1;
    o.blame_alone = b1 - b0;
    for (const Blame& alone : {b1 - b0, b3 - b2}) {
      for (const auto& [key, v] : alone.culprit) o.baseline[key] += v / 2;
    }
    const double mean = (o.alone.sum_s + o.again.sum_s) / (o.alone.calls + o.again.calls);
    o.slowdown_s = o.disturbed.sum_s - o.disturbed.calls * mean;
    o.rise_s = rank_rise_s(o.disturbed, {&o.alone, &o.again});
    // How far the two undisturbed runs differ is one sample of the spread
    // between runs (sd = |a - b| / sqrt 2); the slowdown, one run less the
    // mean of two, has sd x sqrt 1.5 of it. Held to one difference (about
    // one sd), the bound failed 3 of 40 shape runs under stress-ng, two of
    // them where an undisturbed run came out slower than another by more
    // than the neighbour's whole effect (223.7 ms alone, 331.4 disturbed,
    // 378.0 alone again).
    o.noise_s = 2 * std::sqrt(1.5) / std::sqrt(2.0) * std::abs(o.alone.sum_s - o.again.sum_s);
    return judged(o);
  }

  // Under stress-ng the victim's undisturbed cost moves between regimes
  // that last seconds (150 calls took 35 ms in one run and 373 ms in the
  // next, the difference all `own_io`), more than a small neighbour adds. Blocks a
  // second or less apart see the same regime, so alone and disturbed
  // blocks alternate: the neighbour is frozen, the filesystem settled (its
  // journal checkpointed, so what the neighbour left owed is not the alone
  // block's), the victim runs alone; then the neighbour is thawed and the
  // victim runs disturbed. Only the disturbed blocks' blame counts.
  Outcome run_alternating(const std::string& neighbour_dir, int calls, int blocks) {
    Outcome o;
    o.blocks = blocks;
    const std::string wal = disk_->path() + "/wal";
    GetParam().shape->prepare(neighbour_dir);
    run_victim(*victim_, wal, 1);
    auto neighbour = std::make_unique<Background>(GetParam().shape->command(neighbour_dir), neighbour_->dir());
    std::this_thread::sleep_for(1s);  // past its start-up
    std::vector<double> alone_s, alone_p50, disturbed_p50;
    const auto add = [](VictimRun& to, const VictimRun& r) {
      to.calls += r.calls;
      to.sum_s += r.sum_s;
      to.sorted_s.insert(to.sorted_s.end(), r.sorted_s.begin(), r.sorted_s.end());
    };
    Blame before = blame_of(*agent_, victim_->rel());
    for (int i = 0; i < blocks; ++i) {
      neighbour_->freeze(true);
      disk_->settle();
      // Both blocks start as long after the last scrape and the last change.
      std::this_thread::sleep_for(200ms);
      const std::size_t at_alone = agent_->events().size();
      const VictimRun a = run_victim(*victim_, wal, calls / blocks, {}, 0);
      const Blame a1 = blame_of(*agent_, victim_->rel());
      o.alone_slow += static_cast<int>(events_since(*agent_, at_alone).size());
      neighbour_->freeze(false);
      std::this_thread::sleep_for(200ms);
      const std::size_t first = agent_->events().size();
      const VictimRun d = run_victim(*victim_, wal, calls / blocks, {}, 0);
      const Blame d1 = blame_of(*agent_, victim_->rel());
      for (auto& e : events_since(*agent_, first)) o.events.push_back(std::move(e));
      const Blame a0 = std::exchange(before, d1);
      o.blame_alone = o.blame_alone + (a1 - a0);
      o.blame = o.blame + (d1 - a1);
      add(o.alone, a);
      add(o.disturbed, d);
      alone_s.push_back(a.sum_s);
      alone_p50.push_back(a.p50_s);
      disturbed_p50.push_back(d.p50_s);
      o.alone.p99_s = std::max(o.alone.p99_s, a.p99_s);
      o.disturbed.p99_s = std::max(o.disturbed.p99_s, d.p99_s);
    }
    neighbour->stop();
    o.baseline = o.blame_alone.culprit;
    // The runs' percentiles: the median block's p50 and the largest p99.
    const auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    o.alone.p50_s = median(alone_p50);
    o.disturbed.p50_s = median(disturbed_p50);
    o.slowdown_s = o.disturbed.sum_s - o.alone.sum_s;
    std::sort(o.alone.sorted_s.begin(), o.alone.sorted_s.end());
    std::sort(o.disturbed.sorted_s.begin(), o.disturbed.sorted_s.end());
    o.rise_s = rank_rise_s(o.disturbed, {&o.alone});
    // The spread of one block from the next alone block (half the mean
    // squared successive difference, which a slow drift barely moves); the
    // slowdown sums `blocks` differences of two blocks each.
    double ssd = 0;
    for (std::size_t i = 1; i < alone_s.size(); ++i) {
      ssd += (alone_s[i] - alone_s[i - 1]) * (alone_s[i] - alone_s[i - 1]);
    }
    const double sd = std::sqrt(ssd / (2.0 * (alone_s.size() - 1)));
    o.noise_s = 2 * sd * std::sqrt(2.0 * blocks);
    return judged(o);
  }

  // The CPU part of the slowdown and what the neighbour was blamed for.
  Outcome judged(Outcome o) const {
    const double cpu_change = o.blame.of("cpu") - o.blame_alone.of("cpu");
    o.cpu_s = std::max(0.0, cpu_change);
    o.cpu_fell_s = std::max(0.0, -cpu_change);
    const std::string& n = neighbour_->rel();
    o.cpu_theirs_s = std::clamp(o.blame.by(n, "cpu") - o.blame_alone.by(n, "cpu"), 0.0, o.cpu_s);
    o.neighbour_s = o.blame.on(n);
    return o;
  }

  void report(const char* what, const Outcome& o) {
    std::printf(
        "%s %s/%s: %s; %ld calls took %.1f ms alone, %.1f ms disturbed, %s; slowdown %.1f ms "
        "(slower calls rose %.1f ms, noise %.1f ms, cpu wait %+.1f ms, %.1f ms of the rise the neighbour's), blamed on "
        "the neighbour %.1f ms (%.2f of the slowdown, %.2f of the part not others' CPU: %s)\n",
        what, GetParam().shape->name, GetParam().fs.c_str(), describe(o.alone, o.disturbed, o.blame, o.events).c_str(),
        o.disturbed.calls, o.alone.sum_s * 1e3, o.disturbed.sum_s * 1e3, again(o).c_str(), o.slowdown_s * 1e3,
        o.rise_s * 1e3, o.noise_s * 1e3, (o.cpu_s - o.cpu_fell_s) * 1e3, o.cpu_theirs_s * 1e3, o.neighbour_s * 1e3,
        o.slowdown_s > 0 ? o.neighbour_s / o.slowdown_s : 0.0,
        o.theirs_slowdown_s() > 0 ? o.neighbour_s / o.theirs_slowdown_s() : 0.0, neighbour_kinds(o.blame).c_str());
  }

  static std::string again(const Outcome& o) {
    char out[64];
    if (o.blocks > 1) {
      std::snprintf(out, sizeof(out), "in %d alternating blocks", o.blocks);
    } else {
      std::snprintf(out, sizeof(out), "%.1f ms alone again", o.again.sum_s * 1e3);
    }
    return out;
  }

  // What the neighbour is blamed for, by kind ("neighbor_io 41.0 ms, cpu 2.1 ms").
  std::string neighbour_kinds(const Blame& b) const {
    std::string out;
    for (const auto& [key, v] : b.culprit) {
      if (key.first != neighbour_->rel() || v < 0.00005) continue;
      char part[96];
      std::snprintf(part, sizeof(part), "%s%s %.1f ms", out.empty() ? "" : ", ", key.second.c_str(), v * 1e3);
      out += part;
    }
    return out.empty() ? "nothing" : out;
  }

  std::unique_ptr<LoopFs> disk_;
  std::unique_ptr<TestCgroup> victim_, neighbour_;
  std::unique_ptr<Agent> agent_;
};

TEST_P(BlameShape, NeighbourIsBlamedForTheSlowdownItCaused) {
  const Outcome o = run(disk_->path(), GetParam().shape->calls);
  report("same device", o);
  const Blame& d = o.blame;
  expect_conservation(d, o.events);
  // The neighbour is blamed for the slowdown it caused, give or take a
  // quarter and what two undisturbed runs differ by. The more CPU wait is
  // named on whoever ran: what others ran (stress-ng, the kernel's workers
  // writing the neighbour's data) may be the neighbour's doing or not, so
  // the truth lies between the slowdown less that and the whole of it.
  // Under stress-ng the victim can wait less for a CPU while disturbed: it
  // sleeps longer behind the neighbour's I/O, and the scheduler places a
  // long sleeper ahead. That gain is not a harm the neighbour's blame can
  // offset, so the whole slowdown is taken as if the CPU wait had not
  // fallen: 600 calls took 395.5 ms alone, 407.3 ms disturbed and 482.4
  // ms alone again, 214.0 ms less CPU wait than alone, and 6 calls were
  // held up behind the neighbour's flushes (p99 5.1 -> 14.9 ms), for
  // which it was named 241 ms; on XFS, 640.4, 486.5 and 661.4 ms, 311.6
  // ms named. Nor does a gain of the calls it left alone: in CI the 64
  // MiB writer halved the victim's median (0.283 -> 0.145 ms, more than
  // its CPU wait fell by) and held one call up behind its flush, 600
  // calls taking 176.8 ms alone, 137.5 ms disturbed and 180.2 ms alone
  // again, with 40.2 ms named on it. So the whole is at least what the
  // calls that got slower rose by, rank against rank.
  const double theirs = std::max(o.theirs_slowdown_s(), 0.0);
  const double all = whole_slowdown_s(o.slowdown_s, o.cpu_fell_s, o.rise_s);
  EXPECT_GE(o.neighbour_s, 0.75 * theirs - o.noise_s) << "under-blamed";
  EXPECT_LE(o.neighbour_s, 1.25 * all + o.noise_s) << "over-blamed";
  if (o.disturbed.p50_s < 3 * std::max(o.alone.p50_s, o.again.p50_s)) return;
  // A victim made three times slower: the neighbour is the top culprit of
  // the slowdown and the verdict. A culprit's part of the slowdown is what
  // it was blamed for beyond what the undisturbed runs were: under
  // stress-ng the victim's own I/O took 83 ms of a disturbed run whose
  // alone runs took 161 and 33 ms, when the neighbour was named for 60 ms
  // of a 60 ms slowdown.
  for (const auto& [key, v] : d.culprit) {
    if (key.first != neighbour_->rel()) {
      const double before = o.baseline.count(key) ? o.baseline.at(key) : 0;
      EXPECT_LT(v - before, o.neighbour_s) << key.first << " " << key.second << ", undisturbed " << before;
    }
  }
  // A victim whose 0.2 ms calls became 0.7 ms is three times slower with
  // none past the 10 ms slow threshold: nothing to judge.
  if (o.events.size() < 5) {
    std::printf("%zu slow events: too few to judge the verdicts\n", o.events.size());
    return;
  }
  // On a loaded host some slow calls waited mostly for a CPU that other
  // processes held (stress-ng: 28% of the windows in one CI-like run): those
  // rightly say cpu, as many as the windows' CPU wait allows, and as many
  // more as an undisturbed run had slow calls (3 of 8 said cpu once, where
  // the windows' CPU share allowed 2); the rest say neighbor.
  const auto v = verdicts(o.events);
  const int neighbor = v.count("neighbor") ? v.at("neighbor") : 0, cpu = v.count("cpu") ? v.at("cpu") : 0;
  const int n = static_cast<int>(o.events.size());
  const double cpu_share = d.window_s > 0 ? d.of("cpu") / d.window_s : 0;
  EXPECT_GE(neighbor, (n - cpu) * 8 / 10);
  // Its own I/O is what it would have waited for alone: as many calls say
  // `self` as an undisturbed run had slow, and a tenth more. (A flush that
  // did not count the writes in service ahead of it made 1 to 13 of 29 to
  // 89 slow calls `self` in each of 13 runs beside the 64 MiB writer, 7
  // past this bound; since, none unloaded, and under stress-ng at most one
  // a run, 5 of 917 calls in 20 runs.)
  const int self = v.count("self") ? v.at("self") : 0;
  EXPECT_LE(self, o.alone_slow + n / 10) << "slow calls undisturbed " << o.alone_slow;
  EXPECT_LE(cpu, static_cast<int>(n * std::min(1.0, 2 * cpu_share + 0.1)) + o.alone_slow)
      << "cpu share of the windows " << cpu_share << ", slow calls undisturbed " << o.alone_slow;
}

// Every shape, the ones the counterfactual check leaves out included.
class BlameShapeBystander : public BlameShape {};

TEST_P(BlameShapeBystander, OnItsOwnDeviceIsNotBlamed) {
  LoopFs own("/dev/shm", 768, GetParam().fs);
  const Outcome o = run(own.path(), GetParam().shape->calls);
  report("bystander", o);
  expect_conservation(o.blame, o.events);
  // It shares no disk with the victim: no I/O of its is blamed. It does
  // share the CPUs, and is named for the CPU it held while the victim
  // waited, which cannot be more than the victim's CPU wait rose by.
  const double cpu = o.blame.by(neighbour_->rel(), "cpu");
  EXPECT_LT(o.neighbour_s - cpu, 0.05 * o.blame.window_s) << "blamed for I/O";
  EXPECT_LE(cpu, 1.25 * o.cpu_s + o.noise_s + 0.05 * o.blame.window_s) << "more cpu than the victim's cpu wait rose by";
}

std::vector<Param> params(bool counterfactual_only) {
  std::vector<Param> out;
  for (const char* fs : {"ext4", "xfs"}) {
    for (const auto& s : kShapes) {
      const bool checked = s.counterfactual && std::string(s.except_fs) != fs;
      if (!counterfactual_only || checked) out.push_back({&s, fs});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, BlameShape, ::testing::ValuesIn(params(true)), param_name);
INSTANTIATE_TEST_SUITE_P(Shapes, BlameShapeBystander, ::testing::ValuesIn(params(false)), param_name);

}  // namespace
}  // namespace stallwatch::test
