// etcd as the oracle: a real etcd on an ext4 loop device in a cgroup of its
// own. Its WAL fdatasync histogram and ours must agree: counts exactly,
// buckets as far as Go's own timing around the call allows, and both must
// see a noisy neighbour. Then the headline story: etcd as a hostNetwork
// static pod, probed on /health by a prober named kubelet while a
// neighbour pod floods the disk; the slow probes are etcd's, and they link
// to slow WAL fdatasyncs blamed on the neighbour's pod.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <sstream>
#include <memory>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

// etcd in cg, data on dir; killed and reaped by the destructor.
class Etcd {
 public:
  Etcd(const TestCgroup& cg, const std::string& dir) : client_(free_port()), peer_(free_port()), metrics_(free_port()) {
    const std::string c = "http://127.0.0.1:" + std::to_string(client_);
    const std::string p = "http://127.0.0.1:" + std::to_string(peer_);
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ == 0) {
      FILE* procs = std::fopen((cg.dir() + "/cgroup.procs").c_str(), "w");
      if (!procs || std::fprintf(procs, "0") < 0 || std::fclose(procs) != 0) _exit(126);
      if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
      execlp("etcd", "etcd", "--name", "oracle", "--data-dir", (dir + "/etcd").c_str(), "--listen-client-urls",
             c.c_str(), "--advertise-client-urls", c.c_str(), "--listen-peer-urls", p.c_str(),
             "--initial-advertise-peer-urls", p.c_str(), "--initial-cluster", ("oracle=" + p).c_str(),
             "--listen-metrics-urls", ("http://127.0.0.1:" + std::to_string(metrics_)).c_str(), nullptr);
      _exit(127);
    }
  }
  ~Etcd() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  bool wait_ready() {
    for (int i = 0; i < 300; ++i) {
      if (run_shell("ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:" + std::to_string(client_) + " endpoint health").rc ==
          0) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // n sequential puts, each one WAL append + fdatasync.
  void put(int n, const std::string& prefix) {
    sh("for i in $(seq " + std::to_string(n) + "); do ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:" +
       std::to_string(client_) + " put " + prefix + "$i v$i >/dev/null || exit 1; done");
  }
  Exposition metrics() const { return scrape_metrics(metrics_); }
  int client_port() const { return client_; }

 private:
  int client_, peer_, metrics_;
  pid_t pid_ = -1;
};

// le -> cumulative count, for one histogram series family and label match.
std::map<double, double> buckets(const Exposition& m, const std::string& name, const Labels& l) {
  std::map<double, double> out;
  for (const auto& s : m.all(name + "_bucket", l)) {
    const std::string& le = s.labels.at("le");
    out[le == "+Inf" ? INFINITY : std::stod(le)] += s.value;
  }
  return out;
}

std::map<double, double> minus(const std::map<double, double>& a, const std::map<double, double>& b) {
  std::map<double, double> out;
  for (const auto& [le, n] : a) out[le] = n - (b.count(le) ? b.at(le) : 0);
  return out;
}

// The upper bound of the bucket holding quantile q.
double quantile_bound(const std::map<double, double>& cumulative, double q) {
  const double total = cumulative.rbegin()->second;
  for (const auto& [le, n] : cumulative) {
    if (n >= q * total) return le;
  }
  return INFINITY;
}

struct Window {
  std::map<double, double> etcd, ours;
  double etcd_sum = 0, ours_sum = 0;
};

double sum_of(const Exposition& m, const std::string& name, const Labels& l) {
  double out = 0;
  for (const auto& s : m.all(name + "_sum", l)) out += s.value;
  return out;
}

// (culprit cgroup, kind) -> blamed seconds of one victim cgroup.
std::map<std::pair<std::string, std::string>, double> blamed(const Exposition& m, const std::string& victim) {
  std::map<std::pair<std::string, std::string>, double> out;
  for (const auto& s : m.all("stallwatch_fsync_blame_seconds_total", {{"victim_cgroup", victim}})) {
    out[{s.labels.at("culprit_cgroup"), s.labels.at("kind")}] += s.value;
  }
  return out;
}

class EtcdOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    if (run_shell("command -v etcd && command -v etcdctl").rc != 0) {
      if (in_ci()) FAIL() << "etcd-server/etcd-client not installed";
      GTEST_SKIP() << "etcd-server/etcd-client not installed";
    }
  }
  Window measure(Agent& agent, Etcd& etcd, const TestCgroup& cg, int puts, const std::string& prefix) {
    const Labels wal = {{"cgroup", cg.rel()}, {"op", "fdatasync"}, {"file_class", "wal"}};
    const std::string theirs = "etcd_disk_wal_fsync_duration_seconds", mine = "stallwatch_fsync_duration_seconds";
    const Exposition e0 = etcd.metrics(), o0 = scrape_metrics(agent.port());
    etcd.put(puts, prefix);
    const Exposition e1 = etcd.metrics(), o1 = scrape_metrics(agent.port());
    return {minus(buckets(e1, theirs, {}), buckets(e0, theirs, {})), minus(buckets(o1, mine, wal), buckets(o0, mine, wal)),
            sum_of(e1, theirs, {}) - sum_of(e0, theirs, {}), sum_of(o1, mine, wal) - sum_of(o0, mine, wal)};
  }
};

TEST_F(EtcdOracle, WalFdatasyncCountsAndBucketsAgreeAndANeighbourShowsInBoth) {
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  LoopFs disk("/var/tmp", 1024);
  TestCgroup etcd_cg("stallwatch-e2e-etcd-" + std::to_string(getpid()));
  TestCgroup noisy_cg("stallwatch-e2e-noisy-" + std::to_string(getpid()));
  Etcd etcd(etcd_cg, disk.path());
  ASSERT_TRUE(etcd.wait_ready()) << "etcd did not become healthy";

  const Window quiet = measure(agent, etcd, etcd_cg, 300, "quiet");
  const double total = quiet.etcd.rbegin()->second;
  EXPECT_EQ(quiet.ours.rbegin()->second, total) << "WAL fdatasync counts differ";
  EXPECT_GE(total, 300);
  std::printf("quiet: %.0f WAL fdatasyncs; le: etcd / stallwatch\n", total);
  // etcd times the call from Go, around the syscall stallwatch times, so each of
  // our samples is a little shorter: a call near a bucket bound may fall below
  // it for us and above it for etcd. Our count under a bound therefore lies
  // between etcd's count under it and etcd's count under the next bound.
  for (auto it = quiet.etcd.begin(); it != quiet.etcd.end(); ++it) {
    const auto [le, n] = *it;
    ASSERT_TRUE(quiet.ours.count(le)) << "stallwatch lacks etcd's bucket le=" << le;
    const double next = std::next(it) == quiet.etcd.end() ? n : std::next(it)->second;
    EXPECT_GE(quiet.ours.at(le), n - 1) << "bucket le=" << le << ": stallwatch saw fewer calls this fast than etcd";
    EXPECT_LE(quiet.ours.at(le), next) << "bucket le=" << le << ": stallwatch saw more calls this fast than etcd's next bound holds";
    std::printf("  %-8g %6.0f / %6.0f\n", le, n, quiet.ours.at(le));
  }
  // The same nesting for the totals: ours is inside etcd's, and Go's share of
  // a call is microseconds, not a tenth of a millisecond-long fdatasync.
  std::printf("time in WAL fdatasync: etcd %.4f s, stallwatch %.4f s\n", quiet.etcd_sum, quiet.ours_sum);
  EXPECT_LE(quiet.ours_sum, quiet.etcd_sum * 1.001);
  EXPECT_GE(quiet.ours_sum, quiet.etcd_sum * 0.9);

  // A same-device neighbour: 1 MiB direct writes, iodepth 16.
  std::fflush(stdout);  // or the child's freopen flushes our buffer a second time
  const pid_t fio = fork();
  if (fio == 0) {
    FILE* procs = std::fopen((noisy_cg.dir() + "/cgroup.procs").c_str(), "w");
    if (!procs || std::fprintf(procs, "0") < 0 || std::fclose(procs) != 0) _exit(126);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execlp("fio", "fio", "--name=noisy", ("--filename=" + disk.path() + "/noisy").c_str(), "--size=256M", "--rw=write",
           "--bs=1M", "--direct=1", "--ioengine=libaio", "--iodepth=16", "--time_based", "--runtime=120", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(2s);
  // etcd is a victim by default (comm=etcd): the blame must name the neighbour.
  const auto victims = scrape_metrics(agent.port()).value("stallwatch_blame_victims", {{"kind", "processes"}});
  EXPECT_GE(victims.value_or(0), 1) << "the agent did not find etcd";
  const auto blamed0 = blamed(scrape_metrics(agent.port()), etcd_cg.rel());
  const std::size_t first_event = agent.events().size();
  const Window noisy = measure(agent, etcd, etcd_cg, 150, "noisy");
  auto blamed1 = blamed(scrape_metrics(agent.port()), etcd_cg.rel());
  double all = 0;
  for (auto& [key, v] : blamed1) {
    v -= blamed0.count(key) ? blamed0.at(key) : 0;
    all += v;
  }
  const double neighbour = blamed1[{noisy_cg.rel(), "neighbor_io"}];
  std::printf("blame with neighbour: %.3f s of etcd's %.3f s blamed on %s (neighbor_io)\n", neighbour, all,
              noisy_cg.rel().c_str());
  for (const auto& [key, v] : blamed1) {
    if (key.first != noisy_cg.rel()) {
      EXPECT_LT(v, neighbour) << key.first << " " << key.second;
    }
  }
  EXPECT_GT(neighbour, 0.5 * all);
  int named = 0, slow = 0;
  const auto lines = agent.events();
  for (std::size_t i = first_event; i < lines.size(); ++i) {
    const auto e = nlohmann::json::parse(lines[i]);
    if (e["victim"]["cgroup"] != etcd_cg.rel()) continue;
    ++slow;
    named += !e["culprits"].empty() && e["culprits"][0]["cgroup"] == noisy_cg.rel() && e["verdict"] == "neighbor";
  }
  std::printf("slow events of etcd: %d, %d of them verdict neighbor naming %s first\n", slow, named,
              noisy_cg.rel().c_str());
  EXPECT_GT(named, slow / 2);
  kill(fio, SIGTERM);
  waitpid(fio, nullptr, 0);

  EXPECT_EQ(noisy.ours.rbegin()->second, noisy.etcd.rbegin()->second);
  const double etcd_p99_quiet = quantile_bound(quiet.etcd, 0.99), ours_p99_quiet = quantile_bound(quiet.ours, 0.99);
  const double etcd_p99 = quantile_bound(noisy.etcd, 0.99), ours_p99 = quantile_bound(noisy.ours, 0.99);
  std::printf("p99 bucket bound: quiet etcd %g s, stallwatch %g s; with neighbour etcd %g s, stallwatch %g s\n",
              etcd_p99_quiet, ours_p99_quiet, etcd_p99, ours_p99);
  EXPECT_GT(etcd_p99, etcd_p99_quiet);
  EXPECT_GT(ours_p99, ours_p99_quiet);
  // Same boundaries by design: at most one bucket apart.
  EXPECT_LE(std::max(etcd_p99, ours_p99) / std::min(etcd_p99, ours_p99), 2.0);
}

double sample_sum(const Exposition& m, const std::string& name, const Labels& l) {
  double total = 0;
  for (const auto& s : m.all(name, l)) total += s.value;
  return total;
}

// A pod as the kubelet lays it out on disk: a log directory naming it and a
// kubepods-shaped cgroup with one container.
struct PodCgroup {
  PodCgroup(const TempDir& logs, const std::string& ns, const std::string& name, char uid_tail,
            const std::string& container)
      : name(name) {
    const std::string uid = std::string("7e1f0000-0000-4000-8000-00000000000") + uid_tail;
    std::filesystem::create_directories(std::filesystem::path(logs.path()) / (ns + "_" + name + "_" + uid) / container);
    cgroup = std::make_unique<TestCgroup>("stallwatch-etcd-" + std::to_string(getpid()) + "/kubepods/burstable/pod" +
                                          uid + "/" + std::string(64, uid_tail));
  }
  std::string name;
  std::unique_ptr<TestCgroup> cgroup;
};

TEST_F(EtcdOracle, HostNetworkEtcdProbesAreEtcdsAndLinkToItsSlowWalFsyncs) {
  TempDir logs;
  LoopFs disk("/var/tmp", 1024);
  PodCgroup etcd_pod(logs, "kube-system", "etcd-node1", '1', "etcd"), noisy_pod(logs, "batch", "loader", '2', "fio");
  Agent agent({"--pod-logs-dir=" + logs.path(), "--probe-slow-threshold=50ms"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  Etcd etcd(*etcd_pod.cgroup, disk.path());  // host network: 127.0.0.1
  ASSERT_TRUE(etcd.wait_ready()) << "etcd did not become healthy";
  const std::string port = std::to_string(etcd.client_port());
  // WAL counts from here: etcd's first syncs go to wal.tmp before the rename.
  const Labels wal = {{"pod", "etcd-node1"}, {"op", "fdatasync"}, {"file_class", "wal"}};
  const double etcd_wal0 = etcd.metrics().value("etcd_disk_wal_fsync_duration_seconds_count", {}).value_or(-1);
  const double ours_wal0 = sample_sum(scrape_metrics(agent.port()), "stallwatch_fsync_duration_seconds_count", wal);
  // An API server's worth of writes, and a neighbour pod's buffered flood.
  Background writer({"/bin/sh", "-c",
                     "while :; do ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:" + port +
                         " put /registry/leases/k v >/dev/null; done"});
  Background fio({"/usr/bin/fio", "--name=flood", "--filename=" + disk.path() + "/flood", "--size=400M", "--rw=write",
                  "--bs=1M", "--ioengine=psync", "--time_based", "--runtime=60", "--overwrite=1"},
                 noisy_pod.cgroup->dir());
  std::this_thread::sleep_for(1s);
  // The kubelet's liveness probe of etcd: GET /health twice a second.
  const Completed c = run_command(
      {prober(), "--count", "40", "--interval-ms", "500", "--timeout-ms", "5000", "--path", "/health",
       "http:127.0.0.1:" + port});
  fio.stop();
  writer.stop();
  ASSERT_EQ(c.exit.code, 0) << c.err;
  // Our clock starts in connect() and stops in close(), the prober's just
  // outside them: a probe within 10 ms of the threshold may fall either way.
  int prober_ok = 0, slow_surely = 0, slow_maybe = 0;
  std::vector<double> ms;
  {
    std::istringstream in(c.out);
    std::string target, result;
    long long ns = 0;
    while (in >> target >> result >> ns) {
      prober_ok += result == "success";
      slow_surely += ns >= 60'000'000;
      slow_maybe += ns >= 40'000'000;
      ms.push_back(ns / 1e6);
      std::string rest;
      std::getline(in, rest);
    }
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    std::printf("prober's /health durations: p50 %.1f ms, p90 %.1f ms, max %.1f ms\n", ms[ms.size() / 2],
                ms[ms.size() * 9 / 10], ms.back());
  }
  const Exposition m = scrape_metrics(agent.port());
  // The same WAL fdatasyncs, counted by etcd and by us.
  const double etcd_wal =
      etcd.metrics().value("etcd_disk_wal_fsync_duration_seconds_count", {}).value_or(-1) - etcd_wal0;
  const double ours_wal = sample_sum(m, "stallwatch_fsync_duration_seconds_count", wal) - ours_wal0;
  std::printf("WAL fdatasyncs: etcd %.0f, stallwatch %.0f\n", etcd_wal, ours_wal);
  EXPECT_EQ(ours_wal, etcd_wal);
  const Labels etcd_probes = {{"namespace", "kube-system"}, {"pod", "etcd-node1"}, {"type", "http"}, {"port", port}};
  double ours_ok = 0, ours_all = 0;
  for (const auto& s : m.all("stallwatch_probe_results_total", etcd_probes)) {
    ours_all += s.value;
    if (s.labels.at("result") == "success") ours_ok += s.value;
  }
  // Probe events wait for fsyncs ending after them, then the agent's tick.
  int slow = 0, linked = 0;
  for (int i = 0; i < 60; ++i) {
    std::this_thread::sleep_for(100ms);
    slow = linked = 0;
    for (const auto& line : agent.events()) {
      const auto j = nlohmann::json::parse(line);
      if (j["event"] != "probe" || j["pod"] != "etcd-node1") continue;
      ++slow;
      for (const auto& f : j["slow_fsyncs"]) {
        if (f["op"] == "fdatasync" && f.contains("top_culprit") && f["top_culprit"]["pod"] == "loader") {
          ++linked;
          break;
        }
      }
    }
    if (slow >= slow_surely) break;
  }
  std::printf("etcd /health on 127.0.0.1:%s: prober 40 probes, %d success, %d to %d of 50 ms or more; stallwatch "
              "%.0f probes labelled kube-system/etcd-node1, %.0f success; slow probe events %d, linked to a slow WAL "
              "fdatasync whose top culprit is batch/loader: %d\n",
              port.c_str(), prober_ok, slow_surely, slow_maybe, ours_all, ours_ok, slow, linked);
  EXPECT_EQ(ours_all, 40);
  EXPECT_EQ(ours_ok, prober_ok);
  ASSERT_GE(slow, 3) << "the flood did not slow etcd's /health: no story to tell";
  EXPECT_GE(slow, slow_surely);
  EXPECT_LE(slow, slow_maybe);
  EXPECT_GT(linked, slow / 2);
}

}  // namespace
}  // namespace stallwatch::test
