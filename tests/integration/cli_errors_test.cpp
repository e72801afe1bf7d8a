// Bad input: one clear line on stderr, a non-zero exit, nothing left attached.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
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

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SW_REQUIRE_ROOT();
    before_ = loaded_stallwatch_programs();
  }
  // Runs the agent, expects `code` and one line on stderr containing `needle`.
  void expect_refusal(const std::vector<std::string>& args, int code, const std::string& needle) {
    std::vector<std::string> argv = {agent_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    // Nothing may land in the host's state directory.
    if (std::find(args.begin(), args.end(), "run") != args.end()) {
      argv.push_back("--events-file=/dev/null");
      argv.push_back("--recorder-max-size=0");
    }
    expect_refusal_of(argv, code, needle);
  }
  void expect_refusal_of(const std::vector<std::string>& argv, int code, const std::string& needle) {
    const Completed c = run_command(argv);
    EXPECT_EQ(c.exit.code, code) << c.err;
    EXPECT_EQ(count_lines(c.err), 1) << c.err;
    EXPECT_NE(c.err.find(needle), std::string::npos) << c.err;
    EXPECT_EQ(loaded_stallwatch_programs(), before_) << "programs left attached";
  }
  std::vector<std::string> before_;
};

TEST_F(CliErrors, UnknownFlag) { expect_refusal({"run", "--no-such-flag"}, 2, "--no-such-flag"); }

TEST_F(CliErrors, EventLogBoundsOutOfRange) {
  expect_refusal({"run", "--events-max-size=lots"}, 2, "--events-max-size: bad size 'lots'");
  expect_refusal({"run", "--events-max-size=1KB"}, 2, "--events-max-size: size '1KB' is too small");
  expect_refusal({"run", "--events-keep=0"}, 2, "--events-keep");
  expect_refusal({"run", "--events-rate=-1"}, 2, "--events-rate");
}

TEST_F(CliErrors, UnknownSubcommandValue) {
  expect_refusal({"run", "--fsync-hook=kprobe"}, 2, "--fsync-hook: unknown hook 'kprobe'");
}

TEST_F(CliErrors, MalformedListenAddress) {
  expect_refusal({"run", "--web.listen-address=localhost"}, 2, "invalid --web.listen-address 'localhost'");
  expect_refusal({"run", "--web.listen-address=:70000"}, 2, "port must be a number 0-65535");
}

TEST_F(CliErrors, BadWebConfig) {
  TempDir dir;
  const std::string web = dir.path() + "/web.yml";
  std::ofstream(web) << "tls_server_config:\n  cert_file: cert.pem\n";
  expect_refusal({"run", "--web.config.file=" + web}, 2, "tls_server_config needs both cert_file and key_file");
  expect_refusal({"run", "--web.config.file=" + dir.path() + "/absent.yml"}, 2, "--web.config.file: cannot read");
  // Files that are there but hold no certificate.
  std::ofstream(dir.path() + "/cert.pem") << "not a certificate\n";
  std::ofstream(dir.path() + "/key.pem") << "not a key\n";
  std::ofstream(web) << "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n";
  expect_refusal({"run", "--web.config.file=" + web}, 2,
                 "cert_file and key_file are not a matching PEM certificate and key");
}

TEST_F(CliErrors, BadLogLevel) { expect_refusal({"--log-level=loud", "run"}, 2, "unknown --log-level 'loud'"); }

TEST_F(CliErrors, BusyListenAddress) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  expect_refusal({"run", "--web.listen-address=" + where}, 1, "cannot listen on " + where);
  close(fd);
}

TEST_F(CliErrors, NotRoot) {
  expect_refusal_of({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                     agent_binary(), "run", "--events-file=/dev/null", "--recorder-max-size=0"},
                    1, "missing CAP_BPF, CAP_PERFMON: loading BPF tracing programs needs CAP_BPF and CAP_PERFMON");
}

// Least privilege: CAP_BPF and CAP_PERFMON are enough to trace (tracefs
// already mounted); CAP_DAC_OVERRIDE lets the self-test make its cgroup.
// One fewer and the agent names the one it lacks.
std::string capsh_keeping(const std::vector<std::string>& keep, const std::string& command) {
  const std::string all = sh("capsh --print | sed -n 's/^Bounding set =//p'");
  std::string drop;
  std::stringstream ss(all);
  std::string cap;
  while (std::getline(ss, cap, ',')) {
    while (!cap.empty() && (cap.back() == '\n' || cap.back() == ' ')) cap.pop_back();
    if (cap.empty() || std::find(keep.begin(), keep.end(), cap) != keep.end()) continue;
    drop += (drop.empty() ? "" : ",") + cap;
  }
  return "exec /usr/sbin/capsh --drop=" + drop + " -- -c '" + command + "'";
}

// `stallwatch run` under capsh keeping only `keep`: while it serves, `during`
// gets its port; then it is stopped. Returns its whole log (the warnings
// follow the start line); port 0 if it never served.
std::string run_with_capabilities(const std::vector<std::string>& keep, const std::function<void(int port)>& during,
                                  int* port_out) {
  run_shell(agent_binary() + " doctor >/dev/null");  // tracefs mounted, as a DaemonSet's hostPath gives it
  const std::string log = "/tmp/stallwatch-caps." + std::to_string(getpid());
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // capsh may fork: signal the whole group
    if (!freopen(log.c_str(), "w", stderr)) _exit(126);
    execl("/bin/sh", "sh", "-c",
          capsh_keeping(keep, agent_binary() + " run --web.listen-address=127.0.0.1:0 --events-file=/dev/null --recorder-max-size=0").c_str(),
          nullptr);
    _exit(127);
  }
  const auto read_log = [&log] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  int port = 0;
  for (int i = 0; i < 300 && !port; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string text = read_log();
    std::smatch m;
    if (std::regex_search(text, m, std::regex(R"(\(port (\d+)\))"))) port = std::stoi(m[1]);
  }
  if (port) during(port);
  kill(-pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  for (int i = 0; i < 100 && run_shell("pgrep -g " + std::to_string(pid)).rc == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string text = read_log();
  std::remove(log.c_str());
  *port_out = port;
  return text;
}

TEST_F(CliErrors, LeastPrivilegeCapabilitiesSuffice) {
  Tmpfs tmpfs;
  TestCgroup cg("stallwatch-it-caps-" + std::to_string(getpid()));
  std::optional<Exposition> m;
  int port = 0;
  const std::string text = run_with_capabilities(
      {"cap_bpf", "cap_perfmon", "cap_dac_override", "cap_net_admin"},
      [&](int p) {
        run_fsync_helper(cg.dir(), tmpfs.path(), {"--fdatasync", "7"});
        m = scrape_metrics(p);
      },
      &port);
  ASSERT_GT(port, 0) << text;
  EXPECT_EQ(m->value("stallwatch_fsync_duration_seconds_count", {{"cgroup", cg.rel()}, {"op", "fdatasync"}}), 7.0);
  EXPECT_EQ(m->value("stallwatch_fsync_selftest_calls", {{"op", "fsync"}, {"kind", "seen"}}), 1.0) << text;
  EXPECT_EQ(text.find("error"), std::string::npos) << text;
  EXPECT_EQ(text.find("probe answers not read"), std::string::npos) << text;
}

TEST_F(CliErrors, WithoutNetAdminProbesAreTimedButAnswersNotRead) {
  // The answer reader is a cgroup_skb program, which needs CAP_NET_ADMIN:
  // without it the agent still runs and says what it cannot see.
  std::optional<double> hook;
  int port = 0;
  const std::string text = run_with_capabilities(
      {"cap_bpf", "cap_perfmon", "cap_dac_override"},
      [&](int p) { hook = scrape_metrics(p).value("stallwatch_hook_info", {{"subsystem", "probe"}}); }, &port);
  ASSERT_GT(port, 0) << text;
  EXPECT_EQ(hook, 1.0) << "probes not traced without CAP_NET_ADMIN";
  // Which step is refused depends on the kernel: the load (5.x) or the attach.
  EXPECT_NE(text.find("warning probe answers not read ("), std::string::npos) << text;
  EXPECT_NE(text.find("(it needs CAP_NET_ADMIN)"), std::string::npos) << "log was:\n" << text;
}

TEST_F(CliErrors, OneCapabilityFewerIsNamed) {
  expect_refusal_of({"/bin/sh", "-c", capsh_keeping({"cap_bpf"}, agent_binary() + " run --events-file=/dev/null --recorder-max-size=0")}, 1,
                    "missing CAP_PERFMON: loading BPF tracing programs needs CAP_BPF and CAP_PERFMON");
  expect_refusal_of({"/bin/sh", "-c", capsh_keeping({"cap_perfmon"}, agent_binary() + " run --events-file=/dev/null --recorder-max-size=0")},
                    1, "missing CAP_BPF: loading BPF tracing programs needs CAP_BPF and CAP_PERFMON");
}

// A forced rung that cannot load here: tracepoints without tracefs, where
// the agent lacks CAP_SYS_ADMIN to mount it (private mount namespace).
TEST_F(CliErrors, ForcedTracepointRungWithoutTracefs) {
  const std::string script =
      "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing 2>/dev/null; "
      "umount /sys/kernel/debug 2>/dev/null; "
      "exec /usr/sbin/capsh --drop=cap_sys_admin -- -c 'exec " +
      agent_binary() + " run --fsync-hook=tracepoint --events-file=/dev/null --recorder-max-size=0'";
  expect_refusal_of({"/usr/bin/unshare", "--mount", "/bin/sh", "-c", script}, 1,
                    "fsync hook 'tracepoint' cannot load: tracefs is not mounted at /sys/kernel/tracing "
                    "and mounting it failed: EPERM (Operation not permitted) (needs CAP_SYS_ADMIN)");
}

// fentry is refused here (this kernel answers EPERM); where it loads, doctor
// says so and `run` would use it.
TEST_F(CliErrors, ForcedFentryRungLoadsOrIsRefusedClearly) {
  const Completed doctor = run_command({agent_binary(), "doctor", "--fsync-hook=fentry"});
  if (doctor.exit.code == 0) {
    EXPECT_NE(doctor.out.find("fentry       chosen"), std::string::npos) << doctor.out;
    return;
  }
  EXPECT_EQ(doctor.exit.code, 1);
  EXPECT_NE(doctor.out.find("fentry       refused: load fentry programs: EPERM"), std::string::npos) << doctor.out;
  expect_refusal({"run", "--fsync-hook=fentry"}, 1, "fsync hook 'fentry' cannot load: load fentry programs: EPERM");
}

// A flag that does not exist is refused with the one closest to it, when
// one is close; nothing is suggested for a word that resembles none.
TEST_F(CliErrors, AMistypedFlagIsAnsweredWithTheClosestOne) {
  for (const auto& [typed, meant] : {std::pair<std::string, std::string>{"--slow-treshold=5ms", "--slow-threshold"},
                                     {"--victm=comm=etcd", "--victim"},
                                     {"--web.listen-adress=:9", "--web.listen-address"},
                                     {"--stale-afer=1m", "--stale-after"}}) {
    const Completed c = run_command({agent_binary(), "run", typed});
    EXPECT_EQ(c.exit.code, 2) << typed;
    EXPECT_NE(c.err.find("did you mean " + meant + "?"), std::string::npos) << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
  }
  const Completed far = run_command({agent_binary(), "run", "--frobnicate=1"});
  EXPECT_EQ(far.exit.code, 2);
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

// `--version` and `version` print the same line, on stdout, and exit 0.
TEST_F(CliErrors, VersionFlagAndSubcommandAgree) {
  const Completed flag = run_command({agent_binary(), "--version"});
  const Completed sub = run_command({agent_binary(), "version"});
  EXPECT_EQ(flag.exit.code, 0) << flag.err;
  EXPECT_EQ(sub.exit.code, 0) << sub.err;
  EXPECT_EQ(flag.out.rfind("stallwatch ", 0), 0U) << flag.out;
  EXPECT_NE(flag.out.find("libbpf v"), std::string::npos) << flag.out;
  EXPECT_EQ(flag.out, sub.out);
}

// doctor as a script reads it: the capabilities that matter (NET_ADMIN
// taken away here), the pod log tree counted, a port already taken, the
// rung ladders and the self-test, and a verdict; all in one JSON object.
TEST_F(CliErrors, DoctorJsonNamesAMissingCapabilityTheDirectoriesAndABusyPort) {
  TempDir logs;
  for (const char* pod : {"default_web-1_0a3bf4d9-c097-4e13-89a5-b1d8560d8297",
                          "kube-system_etcd-cp-1_8c0b3c0ec0c8270f0805ea6b7b250885"}) {
    fs::create_directories(fs::path(logs.path()) / pod / "c");
  }
  const int busy = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(busy, 1), 0);
  socklen_t len = sizeof a;
  getsockname(busy, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const auto r = run_shell(capsh_keeping({"cap_bpf", "cap_perfmon", "cap_dac_override"},
                                         agent_binary() + " doctor --output=json --pod-logs-dir=" + logs.path() +
                                             " --web.listen-address=" + address) +
                           " 2>/dev/null");
  close(busy);
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(j["capabilities"], nlohmann::json({{"BPF", true},
                                                {"PERFMON", true},
                                                {"DAC_OVERRIDE", true},
                                                {"NET_ADMIN", false},
                                                {"SYS_ADMIN", false}}));
  EXPECT_EQ(j["pod_logs"]["pods"], 2);
  EXPECT_EQ(j["listen"]["ok"], false);
  EXPECT_NE(j["listen"]["error"].get<std::string>().find("in use"), std::string::npos) << j["listen"];
  EXPECT_FALSE(j["ladders"].empty());
  EXPECT_EQ(j["selftest"][0]["verdict"], "ok");
  EXPECT_EQ(j["verdict"]["ok"], true);
  EXPECT_NE(j["probes"].get<std::string>().find("answers not read"), std::string::npos) << j["probes"];
  // The text says the same for people, the missing capability with its cost.
  const auto text = run_shell(capsh_keeping({"cap_bpf", "cap_perfmon", "cap_dac_override"},
                                            agent_binary() + " doctor --pod-logs-dir=" + logs.path()) +
                              " 2>/dev/null");
  EXPECT_NE(text.out.find("missing NET_ADMIN: probe answers"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(logs.path() + ": 2 pods"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace stallwatch::test
