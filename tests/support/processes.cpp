#include "support/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/shell.h"

namespace stallwatch::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string agent_binary() { return STALLWATCH_BIN; }
std::string fsync_helper() { return SW_FSYNC_HELPER; }
std::string block_helper() { return SW_BLOCK_HELPER; }
std::string victim_helper() { return SW_VICTIM_HELPER; }
std::string probe_server() { return SW_PROBE_SERVER; }
std::string prober() { return SW_PROBER; }
std::string helper_script(const std::string& name) { return std::string(SW_HELPERS_DIR) + "/" + name; }

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr to files; the child first joins cgroup_dir.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
            const std::string& cgroup_dir) {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  // Both sides set the group: a stop() right after the fork still finds it.
  if (pid > 0) setpgid(pid, pid);
  if (pid == 0) {
    setpgid(0, 0);  // a group of its own: Background kills what it started too
    // cgroup_dir may name several (TestCgroup::join_spec), one per line.
    std::istringstream dirs(cgroup_dir);
    for (std::string dir; std::getline(dirs, dir);) {
      if (dir.empty()) continue;
      const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(126);
      close(fd);
    }
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

Exit wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (Clock::now() - start > timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error("process " + std::to_string(pid) + " did not exit in time");
    }
    std::this_thread::sleep_for(5ms);
  }
  Exit e;
  e.waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
  return e;
}

std::string temp_path(const char* what) {
  static int n = 0;
  return "/tmp/stallwatch-test." + std::to_string(getpid()) + "." + std::to_string(n++) + "." + what;
}

}  // namespace

Agent::Agent(std::vector<std::string> extra_args)
    : log_path_(temp_path("agent.log")), events_path_(temp_path("events.jsonl")), state_dir_(temp_path("state")) {
  std::vector<std::string> argv = {agent_binary(), "run"};
  // Slow events stay with the test, never in the host's state directory.
  bool events = false, rate = false, listen = false, state = false;
  for (const auto& a : extra_args) {
    state = state || a.rfind("--state-dir", 0) == 0;
    events = events || a.rfind("--events-file", 0) == 0;
    rate = rate || a.rfind("--events-rate", 0) == 0;
    listen = listen || a.rfind("--web.listen-address", 0) == 0;
  }
  if (!listen) argv.push_back("--web.listen-address=127.0.0.1:0");
  if (!events) argv.push_back("--events-file=" + events_path_);
  // The flight recorder too: on, as by default, in a directory of the test's.
  if (!state) argv.push_back("--state-dir=" + state_dir_);
  // Tests that judge verdicts count every event; the limit has tests of its own.
  if (!rate) argv.push_back("--events-rate=0");
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  pid_ = spawn(argv, "/dev/null", log_path_, "");
}

Agent::~Agent() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
  unlink(events_path_.c_str());
  std::error_code ec;
  std::filesystem::remove_all(state_dir_, ec);
}

std::vector<std::string> Agent::events() const {
  std::vector<std::string> lines;
  std::ifstream in(events_path_);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(R"({"event":"start",)", 0) != 0) lines.push_back(line);
  }
  return lines;
}

Background::Background(const std::vector<std::string>& argv, const std::string& cgroup_dir)
    : out_path_(temp_path("bg.out")), cgroup_dir_(cgroup_dir.substr(0, cgroup_dir.find('\n'))) {
  pid_ = spawn(argv, out_path_, out_path_, cgroup_dir);
}

Background::~Background() {
  stop();
  unlink(out_path_.c_str());
}

void Background::stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);  // its process group: a shell loop's children too
  // Processes that left the group (fio's job processes) are still in the
  // cgroup: cgroup.kill (5.14+) ends them all.
  if (!cgroup_dir_.empty()) std::ofstream(cgroup_dir_ + "/cgroup.kill") << "1";
  waitpid(pid_, nullptr, 0);
  for (int i = 0; i < 400 && !cgroup_dir_.empty(); ++i) {
    std::ifstream procs(cgroup_dir_ + "/cgroup.procs");
    std::string pid;
    if (!std::getline(procs, pid)) break;
    std::this_thread::sleep_for(5ms);
  }
  // Children of the group may outlive the leader by a moment.
  for (int i = 0; i < 200 && kill(-pid_, 0) == 0; ++i) std::this_thread::sleep_for(5ms);
  pid_ = -1;
}

std::string Background::output() const { return slurp(out_path_); }

bool Agent::wait_ready(std::chrono::milliseconds timeout) {
  static const std::regex ready(R"(serving /metrics and /healthz on \S+ \(port (\d+)\))");
  const auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, ready)) {
      port_ = std::stoi(m[1]);
      return true;
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::string Agent::log() const { return slurp(log_path_); }

Exit Agent::stop(int sig, std::chrono::milliseconds timeout) {
  kill(pid_, sig);
  Exit e = wait_exit(pid_, timeout);
  pid_ = -1;
  return e;
}

Completed run_command(const std::vector<std::string>& argv, const std::string& cgroup_dir) {
  const std::string out = temp_path("out"), err = temp_path("err");
  const pid_t pid = spawn(argv, out, err, cgroup_dir);
  Completed c;
  c.exit = wait_exit(pid, 300s);
  c.out = slurp(out);
  c.err = slurp(err);
  unlink(out.c_str());
  unlink(err.c_str());
  return c;
}

std::map<std::string, OpTotals> run_fsync_helper(const std::string& cgroup_dir, const std::string& dir,
                                                 const std::vector<std::string>& ops) {
  std::vector<std::string> argv = {fsync_helper(), dir};
  argv.insert(argv.end(), ops.begin(), ops.end());
  const Completed c = run_command(argv, cgroup_dir);
  if (c.exit.code != 0) throw std::runtime_error("fsync helper failed: " + c.err);
  std::map<std::string, OpTotals> totals;
  std::istringstream in(c.out);
  std::string op;
  OpTotals t;
  while (in >> op >> t.count >> t.total_ns) {
    totals[op].count += t.count;
    totals[op].total_ns += t.total_ns;
  }
  return totals;
}

std::vector<std::string> loaded_stallwatch_programs() {
  // Names of the fsync programs, cut to BPF_OBJ_NAME_LEN - 1 = 15 chars.
  static const std::regex ours(R"(name (sys_enter_[a-z_]+|sys_exit_[a-z_]+|io_uring_[a-z_]+|vfs_fsync_range))");
  std::vector<std::string> found;
  const std::string list = sh("bpftool prog list");
  for (std::sregex_iterator it(list.begin(), list.end(), ours), end; it != end; ++it) {
    found.push_back((*it)[1]);
  }
  return found;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace stallwatch::test
