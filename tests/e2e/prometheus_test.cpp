// A real Prometheus scrapes a real agent every second: the target is up,
// the scrapes are clean, and PromQL over our histograms answers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
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
namespace fs = std::filesystem;

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
    start(dir);
  }
  // jobs: scrape_configs entries (JSON is YAML too), each scraped every
  // second; rule_files evaluated every second.
  Prometheus(const TempDir& dir, const nlohmann::json& jobs, const std::vector<std::string>& rule_files = {})
      : port_(free_port()) {
    const nlohmann::json config = {{"global", {{"scrape_interval", "1s"}, {"evaluation_interval", "1s"}}},
                                   {"rule_files", rule_files},
                                   {"scrape_configs", jobs}};
    std::ofstream(dir.path() + "/prometheus.yml") << config.dump(2) << "\n";
    start(dir);
  }
  ~Prometheus() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // The end of its own log, for a failure message.
  std::string log() const {
    std::ifstream in(log_path_);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }
  void start(const TempDir& dir) {
    log_path_ = dir.path() + "/prometheus.log";
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen((dir.path() + "/prometheus.log").c_str(), "w", stderr)) _exit(126);
      // The shipped console; it needs no library templates.
      const std::string consoles = std::string(STALLWATCH_SOURCE_DIR) + "/deploy/prometheus/consoles";
      execlp("prometheus", "prometheus", ("--config.file=" + dir.path() + "/prometheus.yml").c_str(),
             ("--storage.tsdb.path=" + dir.path() + "/data").c_str(),
             ("--web.listen-address=127.0.0.1:" + std::to_string(port_)).c_str(),
             ("--web.console.templates=" + consoles).c_str(), ("--web.console.libraries=" + consoles).c_str(),
             nullptr);
      _exit(127);
    }
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
  int port() const { return port_; }
  // Prometheus's own /metrics, not what it stored.
  Exposition self_metrics() const { return scrape_metrics(port_); }
  static double first_value(const nlohmann::json& result) {
    return result.empty() ? NAN : std::stod(result[0]["value"][1].get<std::string>());
  }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string log_path_;
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

// Grafana's variables, as the dashboard's own defaults would set them, with
// the agents narrowed to `instances` (a regex).
std::string as_grafana_would(std::string expr, const std::string& instances) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"$__rate_interval", "10s"},
                                 {"$instance", instances},
                                 {"$node", ".*"}}) {
    for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from, at + to.size())) {
      expr.replace(at, from.size(), to);
    }
  }
  return expr;
}

// Prometheus's label names for a Kubernetes label (app.kubernetes.io/name ->
// app_kubernetes_io_name).
std::string sanitized(std::string s) {
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

// The scrape job the Prometheus Operator generates for a shipped PodMonitor
// or ServiceMonitor: its own relabelings first (those of its golden test
// files: selector, port, namespace/pod/container/service/job/endpoint target
// labels), then the monitor's. The target is static but carries the labels
// Kubernetes service discovery gives the agent's pod on node "node-a";
// relabeling drops every __meta_ label once done. ours=false leaves the
// monitor's relabelings out: the config a user gets without them.
nlohmann::json operator_job(const std::string& monitor_file, const std::string& address, bool ours = true) {
  using nlohmann::json;
  const YAML::Node m = YAML::LoadFile(std::string(STALLWATCH_SOURCE_DIR) + "/deploy/kubernetes/" + monitor_file);
  const bool pod = m["kind"].as<std::string>() == "PodMonitor";
  const YAML::Node ep = pod ? m["spec"]["podMetricsEndpoints"][0] : m["spec"]["endpoints"][0];
  const std::string ns = m["metadata"]["namespace"].as<std::string>(), name = m["metadata"]["name"].as<std::string>();
  const std::string port = ep["port"].as<std::string>();
  json meta = {{"__meta_kubernetes_namespace", ns},
               {"__meta_kubernetes_pod_name", "stallwatch-x7k2p"},
               {"__meta_kubernetes_pod_container_name", "stallwatch"},
               {"__meta_kubernetes_pod_container_port_name", port},
               {"__meta_kubernetes_pod_node_name", "node-a"},
               {"__meta_kubernetes_pod_phase", "Running"},
               {"__meta_kubernetes_pod_ready", "true"}};
  json relabel = json::array({{{"source_labels", {"job"}}, {"target_label", "__tmp_prometheus_job_name"}}});
  const std::string on = pod ? "__meta_kubernetes_pod_label" : "__meta_kubernetes_service_label";
  const std::string present = pod ? "__meta_kubernetes_pod_labelpresent" : "__meta_kubernetes_service_labelpresent";
  for (const auto& kv : m["spec"]["selector"]["matchLabels"]) {
    const std::string k = sanitized(kv.first.as<std::string>()), v = kv.second.as<std::string>();
    meta[on + "_" + k] = v;
    meta[present + "_" + k] = "true";
    relabel.push_back(
        {{"action", "keep"}, {"source_labels", {on + "_" + k, present + "_" + k}}, {"regex", "(" + v + ");true"}});
  }
  const auto set = [](const std::string& from, const std::string& to) {
    return json{{"source_labels", {from}}, {"target_label", to}};
  };
  if (pod) {
    relabel.push_back(
        {{"action", "drop"}, {"source_labels", {"__meta_kubernetes_pod_phase"}}, {"regex", "(Failed|Succeeded)"}});
    relabel.push_back(
        {{"action", "keep"}, {"source_labels", {"__meta_kubernetes_pod_container_port_name"}}, {"regex", port}});
    relabel.push_back(set("__meta_kubernetes_namespace", "namespace"));
    relabel.push_back(set("__meta_kubernetes_pod_container_name", "container"));
    relabel.push_back(set("__meta_kubernetes_pod_name", "pod"));
    relabel.push_back({{"target_label", "job"}, {"replacement", ns + "/" + name}});
  } else {
    meta["__meta_kubernetes_service_name"] = name;
    meta["__meta_kubernetes_endpoint_port_name"] = port;
    meta["__meta_kubernetes_endpoint_address_target_kind"] = "Pod";
    meta["__meta_kubernetes_endpoint_address_target_name"] = "stallwatch-x7k2p";
    relabel.push_back({{"action", "keep"}, {"source_labels", {"__meta_kubernetes_endpoint_port_name"}}, {"regex", port}});
    for (const auto& [kind, label] : {std::pair{"Node", "node"}, {"Pod", "pod"}}) {
      relabel.push_back({{"source_labels",
                          {"__meta_kubernetes_endpoint_address_target_kind",
                           "__meta_kubernetes_endpoint_address_target_name"}},
                         {"separator", ";"},
                         {"regex", std::string(kind) + ";(.*)"},
                         {"replacement", "${1}"},
                         {"target_label", label}});
    }
    relabel.push_back(set("__meta_kubernetes_namespace", "namespace"));
    relabel.push_back(set("__meta_kubernetes_service_name", "service"));
    relabel.push_back(set("__meta_kubernetes_pod_name", "pod"));
    relabel.push_back(set("__meta_kubernetes_pod_container_name", "container"));
    relabel.push_back(
        {{"action", "drop"}, {"source_labels", {"__meta_kubernetes_pod_phase"}}, {"regex", "(Failed|Succeeded)"}});
    relabel.push_back(
        {{"source_labels", {"__meta_kubernetes_service_name"}}, {"target_label", "job"}, {"replacement", "${1}"}});
  }
  relabel.push_back({{"target_label", "endpoint"}, {"replacement", port}});
  if (ours && ep["relabelings"]) {
    static const std::map<std::string, std::string> keys = {
        {"sourceLabels", "source_labels"}, {"targetLabel", "target_label"}, {"action", "action"},
        {"regex", "regex"},               {"replacement", "replacement"},  {"separator", "separator"}};
    for (const auto& r : ep["relabelings"]) {
      json out = json::object();
      for (const auto& kv : r) {
        const auto key = keys.at(kv.first.as<std::string>());
        if (kv.second.IsSequence()) {
          out[key] = kv.second.as<std::vector<std::string>>();
        } else {
          out[key] = kv.second.as<std::string>();
        }
      }
      relabel.push_back(out);
    }
  }
  const std::string job = (pod ? "podMonitor/" : "serviceMonitor/") + ns + "/" + name + "/0" + (ours ? "" : "/as-is");
  return {{"job_name", job},
          {"honor_labels", ep["honorLabels"] ? ep["honorLabels"].as<bool>() : false},
          {"static_configs", json::array({{{"targets", {address}}, {"labels", meta}}})},
          {"relabel_configs", relabel}};
}

std::string node_name() {
  if (const char* n = std::getenv("NODE_NAME"); n && *n) return n;
  utsname u{};
  uname(&u);
  return u.nodename;
}

// A real Prometheus scrapes the agent as the Prometheus Operator would
// through the shipped PodMonitor and ServiceMonitor, during a scenario with
// an etcd pod, a noisy neighbour pod on its disk, block I/O and probes (some
// refused). The workloads keep their namespace/pod/container labels (none
// becomes exported_*), the agent is known by node, every alert expression
// that fires names the workload and the node, and every dashboard panel has
// data. The same PodMonitor without its relabelings is scraped too: the
// check fails there, as it did for users.
TEST(RealPrometheus, OperatorTargetLabelsLeaveTheWorkloadsLabelsInAlertsAndPanels) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v prometheus").rc != 0) {
    if (in_ci()) FAIL() << "prometheus not installed";
    GTEST_SKIP() << "prometheus not installed";
  }
  std::ifstream in(std::string(STALLWATCH_SOURCE_DIR) + "/deploy/grafana/stallwatch-dashboard.json");
  const auto dashboard = nlohmann::json::parse(in);
  TempDir dir, as_is_dir, logs;
  LoopFs disk("/var/tmp", 512);
  const std::string parent = "stallwatch-e2e-op-" + std::to_string(getpid());
  const std::string etcd_hash = "8c0b3c0ec0c8270f0805ea6b7b250885", backup_uid = "5f0c2a51-86a4-4d1e-9d0f-2b7e2c1f9a10";
  fs::create_directories(fs::path(logs.path()) / ("kube-system_etcd-node-a_" + etcd_hash) / "etcd");
  fs::create_directories(fs::path(logs.path()) / ("batch_backup-28911-x2x9q_" + backup_uid) / "backup");
  TestCgroup etcd(parent + "/kubepods/pod" + etcd_hash + "/" + std::string(64, 'e'));
  TestCgroup noisy(parent + "/kubepods/besteffort/pod" + backup_uid + "/" + std::string(64, 'b'));
  sh("mkdir -p " + disk.path() + "/member/wal");
  // Dual stack: the three jobs reach it on three loopback addresses, so each
  // job's series have an instance of their own.
  Agent agent({"--web.listen-address=:0", "--pod-logs-dir=" + logs.path()});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const auto at = [&](int n) { return "127.0.0." + std::to_string(n) + ":" + std::to_string(agent.port()); };
  const std::string pod_job = "stallwatch/stallwatch", service_job = "stallwatch", as_is = at(3);
  const std::string rules_file = std::string(STALLWATCH_SOURCE_DIR) + "/deploy/prometheus/stallwatch-rules.yaml";
  Prometheus prom(dir,
                  {operator_job("base/podmonitor.yaml", at(1)), operator_job("servicemonitor/servicemonitor.yaml", at(2))},
                  {rules_file});
  // Apart: its series would reach the history rules, which sum by node.
  Prometheus prom_as_is(as_is_dir, nlohmann::json::array({operator_job("base/podmonitor.yaml", as_is, false)}));
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
  const std::string node = node_name();

  // Per job: the workloads' labels under their own names, the agent's aside.
  for (const auto& [address, shipped] : {std::pair{at(1), true}, {at(2), true}, {as_is, false}}) {
    const Prometheus& scraper = shipped ? prom : prom_as_is;
    const std::string sel = "instance=\"" + address + "\"";
    const auto etcd_series = scraper.query("stallwatch_fsync_duration_seconds_count{" + sel +
                                        ", namespace=\"kube-system\", pod=\"etcd-node-a\", container=\"etcd\"}");
    const auto exported = scraper.query("count by (__name__) ({" + sel + ", exported_namespace=~\".+\"})");
    const auto info = scraper.query("stallwatch_build_info{" + sel + "}");
    ASSERT_EQ(info.size(), 1U) << address << "\n" << scraper.log();
    const auto& labels = info[0]["metric"];
    std::printf("%s build_info: %s\n  etcd's fsync series under namespace/pod: %zu; metrics with exported_namespace: %zu\n",
                shipped ? "shipped relabelings" : "operator defaults only", labels.dump().c_str(), etcd_series.size(),
                exported.size());
    // One of etcd's series as stored, for the reader of the log.
    const auto etcd_any = scraper.query("stallwatch_fsync_duration_seconds_count{" + sel +
                                        ", file_class=\"wal\", pod=~\"etcd-node-a|stallwatch-x7k2p\"}");
    if (!etcd_any.empty()) std::printf("  etcd's WAL series: %s\n", etcd_any[0]["metric"].dump().c_str());
    if (shipped) {
      EXPECT_FALSE(etcd_series.empty()) << address;
      EXPECT_TRUE(exported.empty()) << address << ": " << exported.dump();
      EXPECT_TRUE(scraper.query("count({" + sel + ", exported_pod=~\".+\"}) or count({" + sel +
                             ", exported_container=~\".+\"}) or count({" + sel + ", exported_node=~\".+\"})")
                      .empty())
          << address;
      EXPECT_EQ(labels.value("node", ""), "node-a");
      EXPECT_EQ(labels.value("agent_pod", ""), "stallwatch-x7k2p");
      EXPECT_EQ(labels.value("nodename", ""), node);
      for (const char* gone : {"namespace", "pod", "container", "service"}) EXPECT_FALSE(labels.contains(gone)) << gone;
      // A host-level series (no pod) must not take the agent's namespace.
      EXPECT_TRUE(scraper.query("count({" + sel + ", namespace=\"stallwatch\"})").empty()) << address;
    } else {
      EXPECT_TRUE(etcd_series.empty()) << "without the relabelings etcd's namespace is pushed aside";
      EXPECT_FALSE(exported.empty());
    }
  }

  // Every alert of the rules file, its expression evaluated now: where it
  // fires on a shipped job, the labels name the workload and the node.
  // As Grafana interpolates a multi-value variable into a regex: dots
  // escaped, the backslash doubled inside a PromQL string.
  const std::string shipped_instances = std::regex_replace(at(1) + "|" + at(2), std::regex(R"(\.)"), R"(\\.)");
  const YAML::Node rules = YAML::LoadFile(rules_file);
  std::set<std::string> fired;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["record"]) {
        // The history rules, as Prometheus recorded them: etcd's, by node.
        const std::string record = rule["record"].as<std::string>();
        const auto r = prom.query(record + "{nodename=\"" + node + "\"}");
        bool etcd = false;
        for (const auto& x : r) etcd = etcd || x["metric"].value("victim_pod", x["metric"].value("pod", "")) == "etcd-node-a";
        EXPECT_TRUE(etcd) << record << ": " << r.dump();
        std::printf("record %-48s %zu series\n", record.c_str(), r.size());
        continue;
      }
      const std::string alert = rule["alert"].as<std::string>();
      const auto a = prom.answer(rule["expr"].as<std::string>());
      ASSERT_EQ(a.value("status", ""), "success") << alert << ": " << a.value("error", "");
      for (const auto& r : a["data"]["result"]) {
        const auto& l = r["metric"];
        fired.insert(alert);
        EXPECT_EQ(l.value("nodename", ""), node) << alert << " " << l.dump();
        EXPECT_NE(l.value("namespace", ""), "stallwatch") << alert << " " << l.dump();
        for (const auto& [k, v] : l.items()) EXPECT_NE(k.rfind("exported_", 0), 0U) << alert << " " << l.dump();
        std::printf("alert %-28s %s\n", alert.c_str(), l.dump().c_str());
      }
    }
  }
  EXPECT_TRUE(fired.count("StallwatchEtcdWalFsyncSlow")) << "etcd's WAL p99 behind a 1 MiB direct writer";
  EXPECT_TRUE(fired.count("StallwatchNoisyNeighbour")) << "the backup pod holds most of etcd's waiting";
  const auto wal = prom.query("stallwatch_fsync_duration_seconds_count{instance=~\"" + shipped_instances +
                              "\", file_class=\"wal\", namespace=\"kube-system\", pod=\"etcd-node-a\"}");
  EXPECT_FALSE(wal.empty());

  // Every panel of the Grafana dashboard, on the shipped jobs' agents.
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      const std::string expr = as_grafana_would(target["expr"], shipped_instances);
      const auto a = prom.answer(expr);
      ++queries;
      ASSERT_FALSE(a.is_discarded()) << panel["title"];
      ASSERT_EQ(a.value("status", ""), "success") << panel["title"] << ": " << a.value("error", "") << "\n" << expr;
      const auto& result = a["data"]["result"];
      EXPECT_FALSE(result.empty()) << panel["title"] << " has no data:\n" << expr;
      for (const auto& r : result) {
        EXPECT_NE(r["metric"].value("namespace", ""), "stallwatch") << panel["title"] << " " << r["metric"].dump();
      }
      std::printf("%-28s %2zu series\n", panel["title"].get<std::string>().c_str(), result.size());
    }
  }
  EXPECT_EQ(queries, 22);

  // The same panels as a Prometheus console (deploy/prometheus/consoles),
  // in a real browser: every graph drawn, the workloads in the legends.
  if (access("/usr/bin/chromium", X_OK) != 0) {
    if (in_ci()) FAIL() << "needs chromium (CI=true: no skips)";
    return;
  }
  TempDir profile;
  const std::string url = "'http://127.0.0.1:" + std::to_string(prom.port()) + "/consoles/stallwatch.html?node=" +
                          node + "#pctc" + url_encode(R"({"duration":30,"endTime":0})") + "'";
  const std::string chromium = "chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=20000 "
                               "--user-data-dir=" + profile.path() + " ";
  const std::string dom = run_shell(chromium + "--dump-dom " + url + " 2>/dev/null").out;
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom.substr(0, 500);
  EXPECT_NE(dom.find("<span id=\"scope\">node " + node + "</span>"), std::string::npos);
  EXPECT_EQ(dom.find("prom_graph_error"), std::string::npos) << "a console graph could not load its data";
  const auto legend_of = [&](const std::string& id) {
    const auto at = dom.find("<div id=\"" + id + "\"");
    const auto end = dom.find("<h2>", at);
    // The last panel runs to the page's end: its graph's path alone can
    // pass 20,000 characters, and the legend comes after it.
    return at == std::string::npos ? std::string() : dom.substr(at, end == std::string::npos ? end : end - at);
  };
  for (const char* id : {"wal", "kinds", "culprits", "throughput", "p99", "probes"}) {
    const std::string panel = legend_of(id);
    EXPECT_NE(panel.find("<svg"), std::string::npos) << id << " drew no graph:\n" << panel.substr(0, 400);
  }
  EXPECT_NE(legend_of("wal").find("p99 kube-system/etcd-node-a"), std::string::npos) << legend_of("wal").substr(0, 2000);
  EXPECT_NE(legend_of("culprits").find("batch/backup-28911-x2x9q (neighbor_io)"), std::string::npos)
      << legend_of("culprits").substr(0, 2000);
  EXPECT_NE(legend_of("kinds").find(">neighbor_io<"), std::string::npos);
  EXPECT_NE(legend_of("probes").find("refused"), std::string::npos) << legend_of("probes").substr(0, 2000);
  const fs::path png = fs::read_symlink("/proc/self/exe").parent_path() / "dashboard-console.png";
  run_shell(chromium + "--window-size=1200,1000 --screenshot=" + png.string() + " " + url + " 2>/dev/null");
  ASSERT_TRUE(fs::exists(png));
  std::printf("console screenshot: %s (%ju bytes)\n", png.c_str(), static_cast<std::uintmax_t>(fs::file_size(png)));
}

}  // namespace
}  // namespace stallwatch::test
