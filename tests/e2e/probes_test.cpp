// Probe latency on the live kernel. "Pods" are network namespaces the test
// makes (a veth pair each, IPv4 and IPv6) with a server process in a
// kubelet-shaped cgroup and a /var/log/pods-shaped directory naming it; a
// prober named kubelet (sw_prober) makes exactly N probes per target, each
// on a fresh connection with a 1 s deadline, and prints its own outcomes and
// durations, which the agent's must match.
#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string tag() { return std::to_string(getpid() % 100000); }

// A pod: network namespace, veth pair, cgroup, log directory.
class Pod {
 public:
  Pod(const TempDir& logs, const std::string& name, int index)
      : name_(name),
        netns_("swp" + tag() + "-" + std::to_string(index)),
        veth_("swv" + tag() + "x" + std::to_string(index)),
        ipv4_("10.231." + std::to_string(index) + ".2"),
        ipv6_("fd31:" + std::to_string(index) + "::2") {
    const std::string uid = "5e1f0000-0000-4000-8000-00000000000" + std::to_string(index);
    fs::create_directories(fs::path(logs.path()) / ("default_" + name + "_" + uid) / "app");
    cgroup_ = std::make_unique<TestCgroup>("stallwatch-probe-" + tag() + "/kubepods/burstable/pod" + uid + "/" +
                                           std::string(64, static_cast<char>('a' + index)));
    const std::string i = std::to_string(index);
    sh("ip netns add " + netns_ + " && ip link add " + veth_ + " type veth peer name eth0 netns " + netns_ +
       " && ip addr add 10.231." + i + ".1/24 dev " + veth_ + " && ip -6 addr add fd31:" + i + "::1/64 dev " + veth_ +
       " nodad && ip link set " + veth_ + " up && ip -n " + netns_ + " addr add " + ipv4_ + "/24 dev eth0 && ip -n " +
       netns_ + " -6 addr add " + ipv6_ + "/64 dev eth0 nodad && ip -n " + netns_ + " link set eth0 up && ip -n " +
       netns_ + " link set lo up");
  }
  ~Pod() {
    servers_.clear();
    run_shell("ip netns del " + netns_ + "; ip link del " + veth_ + " 2>/dev/null");
  }

  // Starts sw_probe_server inside the pod; returns once it listens.
  void serve(int port, const std::string& mode) { run("ip netns exec " + netns_ + " " + server_line(port, mode)); }
  // The same in the node's network namespace, as a hostNetwork pod does:
  // its sockets answer on 127.0.0.1 and on every node address.
  void serve_on_host(int port, const std::string& mode) { run(server_line(port, mode)); }
  // Any command in the pod's network namespace; it prints "listening".
  void run_in_pod(const std::string& command) { run("ip netns exec " + netns_ + " " + command); }

  // The node's side of the pod's veth: a node address.
  std::string node_ipv4() const { return ipv4_.substr(0, ipv4_.size() - 1) + "1"; }

  const std::string& name() const { return name_; }
  const std::string& ipv4() const { return ipv4_; }
  const std::string& ipv6() const { return ipv6_; }
  const TestCgroup& cgroup() const { return *cgroup_; }

 private:
  static std::string server_line(int port, const std::string& mode) {
    return probe_server() + " " + std::to_string(port) + " " + mode;
  }
  void run(const std::string& command) {
    servers_.push_back(
        std::make_unique<Background>(std::vector<std::string>{"/bin/sh", "-c", "exec " + command}, cgroup_->dir()));
    for (int i = 0; i < 500 && servers_.back()->output().find("listening") == std::string::npos; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_NE(servers_.back()->output().find("listening"), std::string::npos) << servers_.back()->output();
  }

  std::string name_, netns_, veth_, ipv4_, ipv6_;
  std::unique_ptr<TestCgroup> cgroup_;
  std::vector<std::unique_ptr<Background>> servers_;
};

// What the prober saw: per target and result, count and summed duration.
struct Seen {
  int count = 0;
  double seconds = 0;
};
using ProberLog = std::map<std::pair<std::string, std::string>, Seen>;

// Prober lines: "<target> <result> <ns> [<code>]".
ProberLog parse_prober_log(const std::string& out, std::map<std::string, std::string>* codes = nullptr) {
  ProberLog log;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string target, result, code;
    long long ns = 0;
    if (!(in >> target >> result >> ns)) continue;
    in >> code;
    auto& s = log[{target, result}];
    ++s.count;
    s.seconds += ns / 1e9;
    if (codes) (*codes)[target + " " + result] = code;
  }
  return log;
}

ProberLog run_prober(const std::vector<std::string>& targets, int count, const std::string& comm = "kubelet",
                     std::map<std::string, std::string>* codes = nullptr) {
  std::vector<std::string> argv = {prober(), "--comm", comm, "--count", std::to_string(count)};
  argv.insert(argv.end(), targets.begin(), targets.end());
  const Completed c = run_command(argv);
  if (c.exit.code != 0) throw std::runtime_error("prober failed: " + c.err);
  return parse_prober_log(c.out, codes);
}

double sample(const Exposition& m, const std::string& name, const Labels& l) {
  double total = 0;
  for (const auto& s : m.all(name, l)) total += s.value;
  return total;
}

class Probes : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    if (run_shell("command -v ip").rc != 0) FAIL() << "iproute2 (ip) is needed";
  }
  TempDir logs_;
};

TEST_F(Probes, ExactCountsAndDurationsPerPodAndResult) {
  Pod web(logs_, "web", 1), slow(logs_, "slow", 2);
  web.serve(8080, "ok");
  web.serve(8081, "hang");
  slow.serve(8080, "slow 300");
  Agent agent({"--pod-logs-dir=" + logs_.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  std::this_thread::sleep_for(1500ms);  // the agent reads the pods' addresses once a second at most

  constexpr int n = 5;
  const std::string healthy = "http:" + web.ipv4() + ":8080", healthy6 = "http:[" + web.ipv6() + "]:8080",
                    tcp = "tcp:" + web.ipv4() + ":8080", refused = "http:" + web.ipv4() + ":9999",
                    hang = "http:" + web.ipv4() + ":8081", slow300 = "http:" + slow.ipv4() + ":8080";
  const ProberLog seen = run_prober({healthy, healthy6, tcp, refused, hang, slow300}, n);
  // Someone else's sockets to the same pods: never counted.
  run_prober({healthy, slow300}, 3, "curl");
  const Exposition m = scrape_metrics(agent.port());

  struct Expect {
    std::string target, pod, type, port, result;
    std::vector<std::string> targets;  // prober lines that make up this series
  };
  const std::vector<Expect> expect = {
      {healthy, "web", "http", "8080", "success", {healthy, healthy6}},
      {tcp, "web", "tcp", "8080", "success", {tcp}},
      // A probe that never connected sent nothing: it shows as type tcp.
      {refused, "web", "tcp", "9999", "refused", {refused}},
      {hang, "web", "http", "8081", "timeout", {hang}},
      {slow300, "slow", "http", "8080", "success", {slow300}},
  };
  for (const auto& e : expect) {
    const Labels l = {
        {"namespace", "default"}, {"pod", e.pod}, {"type", e.type}, {"port", e.port}, {"result", e.result}};
    double prober_count = 0, prober_seconds = 0;
    for (const auto& t : e.targets) {
      const auto it = seen.find({t, e.result});
      ASSERT_NE(it, seen.end()) << "the prober saw no " << e.result << " for " << t;
      prober_count += it->second.count;
      prober_seconds += it->second.seconds;
    }
    const double ours = sample(m, "stallwatch_probe_results_total", l);
    const double ours_s = sample(m, "stallwatch_probe_duration_seconds_sum", l);
    std::printf("%-24s %-7s prober %2.0f probes %9.3f ms, stallwatch %2.0f probes %9.3f ms\n", e.target.c_str(),
                e.result.c_str(), prober_count, prober_seconds * 1e3, ours, ours_s * 1e3);
    EXPECT_EQ(ours, prober_count) << e.target;
    // 10%, with a floor for sub-millisecond probes: the prober's own clock
    // also holds its poll() wakeups.
    EXPECT_NEAR(ours_s, prober_seconds, std::max(0.1 * prober_seconds, 0.0005 * prober_count)) << e.target;
  }
  // Every series is one of those: no other socket was counted.
  double all = 0;
  for (const auto& s : m.all("stallwatch_probe_results_total")) all += s.value;
  EXPECT_EQ(all, 6.0 * n);
  // Failing probes are events, each naming its pod and the node.
  utsname u{};
  uname(&u);
  const std::string node = std::getenv("NODE_NAME") && *std::getenv("NODE_NAME") ? std::getenv("NODE_NAME") : u.nodename;
  int timeouts = 0, refusals = 0;
  for (const auto& line : agent.events()) {
    const auto j = nlohmann::json::parse(line);
    if (j["event"] != "probe") continue;
    EXPECT_EQ(j["pod"], "web") << line;
    EXPECT_EQ(j.value("node", ""), node) << line;
    timeouts += j["result"] == "timeout";
    refusals += j["result"] == "refused";
  }
  // Probe events are written a second after the probe ends, on the agent's tick.
  for (int i = 0; i < 50 && timeouts + refusals < 2 * n; ++i) {
    std::this_thread::sleep_for(100ms);
    timeouts = refusals = 0;
    for (const auto& line : agent.events()) {
      const auto j = nlohmann::json::parse(line);
      timeouts += j["event"] == "probe" && j["result"] == "timeout";
      refusals += j["event"] == "probe" && j["result"] == "refused";
    }
  }
  EXPECT_EQ(timeouts, n);
  EXPECT_EQ(refusals, n);
}

TEST_F(Probes, SlowProbeLinksToTheSlowFsyncOfItsHandler) {
  // The handler fdatasyncs on a disk a neighbour floods: the probe is slow
  // because the fsync was, and its event says so.
  LoopFs disk("/var/tmp", 512);
  Pod db(logs_, "db", 3);
  db.serve(8080, "fsync " + disk.path() + "/handler");
  TestCgroup neighbour("stallwatch-probe-noisy-" + tag());
  Agent agent({"--pod-logs-dir=" + logs_.path(), "--victim=pod=default/db", "--probe-slow-threshold=5ms",
               "--slow-threshold=5ms"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  for (int i = 0; i < 300; ++i) {
    const auto v = scrape_metrics(agent.port()).value("stallwatch_blame_victims", {{"kind", "cgroups"}});
    if (v && *v >= 1) break;
    std::this_thread::sleep_for(20ms);
  }
  Background fio({"/usr/bin/fio", "--name=noisy", "--filename=" + disk.path() + "/bulk", "--size=256M", "--rw=write",
                  "--bs=1M", "--direct=1", "--iodepth=16", "--ioengine=libaio", "--time_based", "--runtime=60"},
                 neighbour.dir());
  std::this_thread::sleep_for(1s);
  const ProberLog seen = run_prober({"http:" + db.ipv4() + ":8080"}, 10);
  fio.stop();
  // Probe events wait a second for fsyncs that end after them, and are
  // written on the agent's one-second tick.
  int probes = 0, linked = 0;
  for (int i = 0; i < 50 && probes < 10; ++i) {
    std::this_thread::sleep_for(100ms);
    probes = linked = 0;
    for (const auto& line : agent.events()) {
      const auto j = nlohmann::json::parse(line);
      if (j["event"] != "probe" || j["pod"] != "db") continue;
      ++probes;
      for (const auto& f : j["slow_fsyncs"]) {
        if (f["verdict"] == "neighbor" && f["top_culprit"]["cgroup"] == neighbour.rel()) {
          ++linked;
          break;
        }
      }
    }
  }
  std::printf("slow probes of db: %d, linked to a slow fsync blamed on the neighbour: %d\n", probes, linked);
  for (const auto& [key, s] : seen) {
    std::printf("  prober: %s %s %d probes, %.1f ms each\n", key.first.c_str(), key.second.c_str(), s.count,
                s.seconds * 1e3 / s.count);
  }
  ASSERT_GT(probes, 0) << "no probe was slower than 5 ms";
  EXPECT_GT(linked, probes / 2);
}

TEST_F(Probes, AnswersAreJudgedAsTheKubeletJudgesThem) {
  // HTTP status, gRPC health (a real grpcio server) and HTTPS, each judged by
  // the prober as the kubelet does, and by the agent from the answer's bytes.
  const std::string python = "/usr/bin/python3";
  if (run_shell(python + " -c 'import grpc' && command -v openssl").rc != 0) {
    if (in_ci()) FAIL() << "python3-grpcio and openssl are needed";
    GTEST_SKIP() << "python3-grpcio and openssl are needed";
  }
  TempDir certs;
  sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=pod -keyout " + certs.path() + "/key.pem -out " +
     certs.path() + "/cert.pem 2>/dev/null");
  Pod web(logs_, "web", 5), grpc(logs_, "health", 6), tls(logs_, "secure", 7);
  web.serve(8080, "status 200");
  web.serve(8081, "status 404");
  web.serve(8082, "status 503");
  web.serve(8083, "status 302");
  grpc.run_in_pod(python + " " + helper_script("grpc_health_server.py") + " 9090 SERVING");
  grpc.run_in_pod(python + " " + helper_script("grpc_health_server.py") + " 9091 NOT_SERVING");
  const std::string cert = certs.path() + "/cert.pem " + certs.path() + "/key.pem";
  tls.run_in_pod(python + " " + helper_script("tls_server.py") + " 8443 ok " + cert);
  tls.run_in_pod(python + " " + helper_script("tls_server.py") + " 8444 hang " + cert);
  Agent agent({"--pod-logs-dir=" + logs_.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  std::this_thread::sleep_for(1500ms);

  constexpr int n = 4;
  const auto at = [](const Pod& p, int port) { return p.ipv4() + ":" + std::to_string(port); };
  std::map<std::string, std::string> codes;
  ProberLog seen = run_prober({"http:" + at(web, 8080), "http:" + at(web, 8081), "http:" + at(web, 8082),
                               "http:" + at(web, 8083), "grpc:" + at(grpc, 9090), "grpc:" + at(grpc, 9091)},
                              n, "kubelet", &codes);
  for (int port : {8443, 8444}) {
    const Completed c = run_command({python, helper_script("tls_prober.py"), "kubelet", std::to_string(n), "1000",
                                     "https:" + at(tls, port)});
    ASSERT_EQ(c.exit.code, 0) << c.err;
    for (auto& [k, v] : parse_prober_log(c.out, &codes)) seen[k] = v;
  }
  const Exposition m = scrape_metrics(agent.port());
  struct Expect {
    std::string target, pod, type, port, result, code;
  };
  const std::vector<Expect> expect = {
      {"http:" + at(web, 8080), "web", "http", "8080", "success", "200"},
      {"http:" + at(web, 8081), "web", "http", "8081", "failure", "404"},
      {"http:" + at(web, 8082), "web", "http", "8082", "failure", "503"},
      {"http:" + at(web, 8083), "web", "http", "8083", "success", "302"},
      {"grpc:" + at(grpc, 9090), "health", "grpc", "9090", "success", "SERVING"},
      {"grpc:" + at(grpc, 9091), "health", "grpc", "9091", "failure", "NOT_SERVING"},
      // TLS hides the status: only that an answer came, or did not.
      {"https:" + at(tls, 8443), "secure", "https", "8443", "success", ""},
      {"https:" + at(tls, 8444), "secure", "https", "8444", "timeout", ""},
  };
  double all = 0;
  for (const auto& s : m.all("stallwatch_probe_results_total")) all += s.value;
  for (const auto& e : expect) {
    const auto it = seen.find({e.target, e.result});
    const int prober_count = it == seen.end() ? 0 : it->second.count;
    const std::string prober_code = codes.count(e.target + " " + e.result) ? codes.at(e.target + " " + e.result) : "";
    const Labels l = {{"namespace", "default"}, {"pod", e.pod},       {"type", e.type},
                      {"port", e.port},         {"result", e.result}, {"code", e.code}};
    const double ours = sample(m, "stallwatch_probe_results_total", l);
    std::printf("%-26s prober %d x %-7s %-11s stallwatch %.0f x %-7s %s\n", e.target.c_str(), prober_count,
                e.result.c_str(), prober_code.c_str(), ours, e.result.c_str(), e.code.c_str());
    EXPECT_EQ(prober_count, n) << e.target << ": the prober's own verdict differs";
    if (e.type != "https") {
      EXPECT_EQ(prober_code, e.code) << e.target;
    }
    EXPECT_EQ(ours, n) << e.target;
  }
  EXPECT_EQ(all, expect.size() * n) << "other series were counted";
  // A failing answer is an event with its code.
  int failures = 0;
  for (int i = 0; i < 50 && failures < 3 * n; ++i) {
    std::this_thread::sleep_for(100ms);
    failures = 0;
    for (const auto& line : agent.events()) {
      const auto j = nlohmann::json::parse(line);
      failures += j["event"] == "probe" && j["result"] == "failure" && j.contains("code");
    }
  }
  EXPECT_EQ(failures, 3 * n);
}

TEST_F(Probes, HostNetworkProbesNameThePodThatAccepted) {
  // A hostNetwork pod (etcd, the API server) answers on 127.0.0.1 and the
  // node's addresses: the pod is the one whose socket accepted.
  Pod etcd(logs_, "etcd-node", 8), other(logs_, "bystander", 9);
  const int port = 20000 + getpid() % 10000;
  etcd.serve_on_host(port, "ok");
  Agent agent({"--pod-logs-dir=" + logs_.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  std::this_thread::sleep_for(1500ms);
  constexpr int n = 5;
  const std::string loop4 = "http:127.0.0.1:" + std::to_string(port), loop6 = "http:[::1]:" + std::to_string(port),
                    node = "http:" + other.node_ipv4() + ":" + std::to_string(port),
                    tcp = "tcp:127.0.0.1:" + std::to_string(port);
  const ProberLog seen = run_prober({loop4, loop6, node, tcp}, n);
  const Exposition m = scrape_metrics(agent.port());
  for (const auto& [target, result] : std::vector<std::pair<std::string, std::string>>{
           {loop4, "success"}, {loop6, "success"}, {node, "success"}, {tcp, "success"}}) {
    ASSERT_EQ(seen.at({target, result}).count, n) << target;
  }
  const Labels ours = {{"namespace", "default"}, {"pod", "etcd-node"}, {"port", std::to_string(port)}};
  const double http = sample(m, "stallwatch_probe_results_total", {{"pod", "etcd-node"}, {"type", "http"}}),
               tcp_n = sample(m, "stallwatch_probe_results_total", {{"pod", "etcd-node"}, {"type", "tcp"}});
  std::printf("hostNetwork pod etcd-node on port %d: prober %d HTTP + %d TCP probes, stallwatch %.0f + %.0f\n", port,
              3 * n, n, http, tcp_n);
  EXPECT_EQ(sample(m, "stallwatch_probe_results_total", ours), 4.0 * n);
  EXPECT_EQ(http, 3.0 * n);
  EXPECT_EQ(tcp_n, 1.0 * n);
  for (const auto& s : m.all("stallwatch_probe_results_total")) {
    EXPECT_EQ(s.labels.at("pod"), "etcd-node") << "a probe of the hostNetwork pod was labelled otherwise";
  }
}

TEST_F(Probes, EveryNamedProberCountsAndLongConnectionsAreNotProbes) {
  // k3s-shaped: two prober names. A connection the prober holds past
  // --probe-max-duration (a watch, a port-forward) is no probe.
  Pod web(logs_, "web", 2);  // indexes name hex container ids: 1 to 9
  web.serve(8080, "ok");
  web.serve(8081, "hang");
  Agent agent({"--pod-logs-dir=" + logs_.path(), "--prober-comm=kubelet,k3s-agent", "--probe-max-duration=1s"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  std::this_thread::sleep_for(1500ms);
  const std::string ok = "http:" + web.ipv4() + ":8080", held = "http:" + web.ipv4() + ":8081";
  run_prober({ok}, 3, "kubelet");
  run_prober({ok}, 2, "k3s-agent");
  run_prober({ok}, 2, "k3s-server");  // not named
  const Completed c = run_command({prober(), "--comm", "kubelet", "--timeout-ms", "1500", held});
  ASSERT_EQ(c.exit.code, 0) << c.err;
  const Exposition m = scrape_metrics(agent.port());
  const double counted = sample(m, "stallwatch_probe_results_total", {{"pod", "web"}, {"port", "8080"}}),
               long_ones = sample(m, "stallwatch_probe_results_total", {{"pod", "web"}, {"port", "8081"}});
  std::printf("probes counted: %.0f of kubelet 3 + k3s-agent 2 + k3s-server 2; a 1.5 s connection: %.0f\n", counted,
              long_ones);
  EXPECT_EQ(counted, 5.0);
  EXPECT_EQ(long_ones, 0.0);
}

TEST_F(Probes, ExecProbesAreTimedWithTheirExitCode) {
  // What a runtime's exec does: a process made outside the container's
  // cgroup joins it and execs the probe command.
  Pod app(logs_, "app", 4);
  Agent agent({"--pod-logs-dir=" + logs_.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(run_command({"/bin/sh", "-c", "sleep 0.2"}, app.cgroup().dir()).exit.code, 0);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(run_command({"/bin/sh", "-c", "exit 3"}, app.cgroup().dir()).exit.code, 3);
  const Exposition m = scrape_metrics(agent.port());
  const Labels ok = {{"namespace", "default"}, {"pod", "app"}, {"type", "exec"}, {"result", "success"}};
  const Labels failed = {{"namespace", "default"}, {"pod", "app"}, {"type", "exec"}, {"result", "failure"}};
  EXPECT_EQ(sample(m, "stallwatch_probe_results_total", ok), 3.0);
  EXPECT_EQ(sample(m, "stallwatch_probe_results_total", failed), 2.0);
  const double secs = sample(m, "stallwatch_probe_duration_seconds_sum", ok);
  std::printf("exec probes: 3 x 'sleep 0.2' took %.3f s in all\n", secs);
  EXPECT_GT(secs, 0.6);
  EXPECT_LT(secs, 0.9);
  // The children of the probe (sleep, started by sh inside the cgroup) are not probes.
  double all = 0;
  for (const auto& s : m.all("stallwatch_probe_results_total", {{"type", "exec"}})) all += s.value;
  EXPECT_EQ(all, 5.0);
}

}  // namespace
}  // namespace stallwatch::test
