// A real Prometheus scrapes a real agent every second: the target is up,
// the scrapes are clean, and PromQL over our histograms answers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/pki.h"
#include "support/processes.h"
#include "support/scrape.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class Prometheus {
 public:
  // job_extra: more keys of the scrape job (scheme, tls_config, basic_auth),
  // each line indented by four spaces.
  Prometheus(const TempDir& dir, int target_port, const std::string& job_extra = "") : port_(free_port()) {
    std::ofstream(dir.path() + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                                     "scrape_configs:\n  - job_name: stallwatch\n"
                                                  << job_extra
                                                  << "    static_configs:\n"
                                                     "      - targets: ['127.0.0.1:"
                                                  << target_port << "']\n";
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen((dir.path() + "/prometheus.log").c_str(), "w", stderr)) _exit(126);
      execlp("prometheus", "prometheus", ("--config.file=" + dir.path() + "/prometheus.yml").c_str(),
             ("--storage.tsdb.path=" + dir.path() + "/data").c_str(),
             ("--web.listen-address=127.0.0.1:" + std::to_string(port_)).c_str(), nullptr);
      _exit(127);
    }
  }
  ~Prometheus() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // The result vector of an instant query; empty when it failed.
  nlohmann::json query(const std::string& promql) const {
    try {
      const auto r = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
      const auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_discarded() || j.value("status", "") != "success") return nlohmann::json::array();
      return j["data"]["result"];
    } catch (const std::exception&) {
      return nlohmann::json::array();
    }
  }
  // The whole /api/v1/query answer (status, error, data).
  nlohmann::json answer(const std::string& promql) const {
    const auto r = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  // Prometheus's own /metrics, not what it stored.
  Exposition self_metrics() const { return scrape_metrics(port_); }
  static double first_value(const nlohmann::json& result) {
    return result.empty() ? NAN : std::stod(result[0]["value"][1].get<std::string>());
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST(RealPrometheus, ScrapesCleanlyAndAnswersQuantileQueries) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v prometheus").rc != 0) {
    if (in_ci()) FAIL() << "prometheus not installed";
    GTEST_SKIP() << "prometheus not installed";
  }
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  TempDir dir;
  LoopFs disk;
  TestCgroup victim("stallwatch-e2e-prom-" + std::to_string(getpid()));
  Prometheus prom(dir, agent.port());

  // A steady fdatasync load while Prometheus scrapes.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop) run_fsync_helper(victim.dir(), disk.path(), {"--fdatasync", "20"});
  });
  const std::string rate =
      "histogram_quantile(0.99, sum by (le, cgroup) (rate(stallwatch_fsync_duration_seconds_bucket{cgroup=\"" +
      victim.rel() + "\"}[10s])))";
  const std::string scrapes = "count_over_time(up{job=\"stallwatch\"}[1m])";
  double p99 = NAN;
  for (int i = 0; i < 60 && (std::isnan(p99) || Prometheus::first_value(prom.query(scrapes)) < 5); ++i) {
    std::this_thread::sleep_for(500ms);
    p99 = Prometheus::first_value(prom.query(rate));
  }
  stop = true;
  load.join();

  EXPECT_EQ(Prometheus::first_value(prom.query("up{job=\"stallwatch\"}")), 1.0);
  ASSERT_FALSE(std::isnan(p99)) << "no p99 for the victim";
  EXPECT_GT(p99, 0.0);
  EXPECT_LT(p99, 8.192);
  std::printf("Prometheus: up=1, p99 of %s fdatasync = %.6f s, samples per scrape = %.0f\n", victim.rel().c_str(), p99,
              Prometheus::first_value(prom.query("scrape_samples_scraped{job=\"stallwatch\"}")));
  // Clean scrapes: nothing rejected as duplicate, out of order or out of bounds.
  const Exposition self = prom.self_metrics();
  for (const char* bad :
       {"prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "prometheus_target_scrapes_sample_out_of_order_total", "prometheus_target_scrapes_sample_out_of_bounds_total",
        "prometheus_target_scrapes_exceeded_sample_limit_total"}) {
    EXPECT_EQ(self.value(bad, {}), 0.0) << bad;
  }
  EXPECT_GE(Prometheus::first_value(prom.query(scrapes)), 5.0);
  EXPECT_EQ(Prometheus::first_value(prom.query("count(stallwatch_build_info)")), 1.0);
  EXPECT_GE(Prometheus::first_value(prom.query("count(stallwatch_hook_info)")), 3.0);
}

// The endpoint behind --web.config.file, scraped as Prometheus users
// configure it: https with the CA's certificate, basic auth.
TEST(RealPrometheus, ScrapesOverTlsWithBasicAuth) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v prometheus && command -v openssl").rc != 0) {
    if (in_ci()) FAIL() << "prometheus and openssl are needed";
    GTEST_SKIP() << "prometheus and openssl are needed";
  }
  Pki pki;
  Agent agent({"--web.config.file=" + pki.web_config_with_user("prometheus", "s3cret")});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  TempDir dir, wrong_dir;
  const std::string tls = "    scheme: https\n    tls_config:\n      ca_file: " + pki.path("ca.pem") + "\n";
  Prometheus prom(dir, agent.port(), tls + "    basic_auth:\n      username: prometheus\n      password: s3cret\n");
  Prometheus wrong(wrong_dir, agent.port(), tls + "    basic_auth:\n      username: prometheus\n      password: guess\n");
  const std::string scrapes = "count_over_time(up{job=\"stallwatch\"}[1m])";
  for (int i = 0; i < 60 && !(Prometheus::first_value(prom.query(scrapes)) >= 3 &&
                              Prometheus::first_value(wrong.query(scrapes)) >= 3);
       ++i) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(Prometheus::first_value(prom.query("up{job=\"stallwatch\"}")), 1.0);
  EXPECT_EQ(Prometheus::first_value(prom.query("count(stallwatch_build_info)")), 1.0);
  EXPECT_EQ(Prometheus::first_value(wrong.query("up{job=\"stallwatch\"}")), 0.0) << "a wrong password scraped";
  std::printf("over TLS with basic auth: up=%.0f with the password, up=%.0f with a wrong one, %.0f samples per scrape\n",
              Prometheus::first_value(prom.query("up{job=\"stallwatch\"}")),
              Prometheus::first_value(wrong.query("up{job=\"stallwatch\"}")),
              Prometheus::first_value(prom.query("scrape_samples_scraped{job=\"stallwatch\"}")));
}

// Grafana's variables, as the dashboard's own defaults would set them.
std::string as_grafana_would(std::string expr) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"$__rate_interval", "10s"}, {"$instance", ".*"}}) {
    for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from, at + to.size())) {
      expr.replace(at, from.size(), to);
    }
  }
  return expr;
}

// Every panel of the Grafana dashboard, against a real Prometheus that
// scraped a real agent during a scenario with a victim, a noisy neighbour,
// block I/O and probes (some refused): every query parses and has data.
TEST(RealPrometheus, EveryDashboardQueryAnswers) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v prometheus").rc != 0) {
    if (in_ci()) FAIL() << "prometheus not installed";
    GTEST_SKIP() << "prometheus not installed";
  }
  std::ifstream in(std::string(STALLWATCH_SOURCE_DIR) + "/deploy/grafana/stallwatch-dashboard.json");
  const auto dashboard = nlohmann::json::parse(in);
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  TempDir dir;
  LoopFs disk("/var/tmp", 512);
  TestCgroup etcd("stallwatch-e2e-dash-etcd-" + std::to_string(getpid()));
  TestCgroup noisy("stallwatch-e2e-dash-noisy-" + std::to_string(getpid()));
  sh("mkdir -p " + disk.path() + "/member/wal");
  Prometheus prom(dir, agent.port());
  const int port = free_port();
  Background server({probe_server(), std::to_string(port), "ok"});
  Background probing({"/bin/sh", "-c",
                      "while :; do " + prober() + " --count 2 http:127.0.0.1:" + std::to_string(port) +
                          " http:127.0.0.1:1 >/dev/null; sleep 0.2; done"});
  Background fio({"/usr/bin/fio", "--name=noisy", "--filename=" + disk.path() + "/bulk", "--size=256M", "--rw=write",
                  "--bs=1M", "--direct=1", "--iodepth=16", "--ioengine=libaio", "--time_based", "--runtime=120"},
                 noisy.dir());
  // etcd-shaped: comm etcd (the default victim), fdatasync on member/wal/*.wal.
  Background victim({victim_helper(), disk.path() + "/member/wal/0000000000000000-0000000000000000.wal", "--calls",
                     "100000", "--delay-ms", "1500", "--interval-us", "20000"},
                    etcd.dir());
  std::this_thread::sleep_for(15s);  // windows of 10 s need a few scrapes of steady load

  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      const std::string expr = as_grafana_would(target["expr"]);
      const auto a = prom.answer(expr);
      ++queries;
      ASSERT_FALSE(a.is_discarded()) << panel["title"];
      EXPECT_EQ(a.value("status", ""), "success") << panel["title"] << ": " << a.value("error", "") << "\n" << expr;
      const auto& result = a["data"]["result"];
      EXPECT_FALSE(result.empty()) << panel["title"] << " has no data:\n" << expr;
      std::printf("%-28s %2zu series\n", panel["title"].get<std::string>().c_str(), result.size());
    }
  }
  EXPECT_EQ(queries, 18);
}

}  // namespace
}  // namespace stallwatch::test
