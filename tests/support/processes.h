#pragma once
// Child processes of a test: the agent under test and the workload helpers.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace stallwatch::test {

std::string agent_binary();   // the stallwatch executable under test
std::string fsync_helper();   // tests/helpers/fsync_helper.c
std::string block_helper();   // tests/helpers/block_helper.c
std::string victim_helper();  // tests/helpers/victim_helper.c
std::string probe_server();   // tests/helpers/probe_server.c
std::string prober();         // tests/helpers/prober.c
std::string helper_script(const std::string& name);  // tests/helpers/NAME (Python helpers)

struct Exit {
  int code = -1;   // exit status, or -1 when killed by a signal
  int signal = 0;  // terminating signal, 0 when it exited
  std::chrono::milliseconds waited{0};
};

// `stallwatch run` on a kernel-chosen port; killed by the destructor.
class Agent {
 public:
  explicit Agent(std::vector<std::string> extra_args = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Waits for the start-up line; false (with log()) if the agent died first.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const;
  // Event lines of its event log (a file of the test's own unless
  // --events-file was given); the agent's start line left out.
  std::vector<std::string> events() const;
  const std::string& events_path() const { return events_path_; }
  // Its --state-dir (the flight recorder's home): the test's own, removed
  // with the agent, unless --state-dir was given.
  const std::string& state_dir() const { return state_dir_; }
  // Sends sig and waits up to timeout for the exit.
  Exit stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  std::string events_path_;
  std::string state_dir_;
};

// A process running while a test does something else, in cgroup_dir when
// given (then its only tenant); its process group, and everything in that
// cgroup, is killed by stop() or the destructor.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& cgroup_dir = "");
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  void stop();
  std::string output() const;  // stdout and stderr

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string cgroup_dir_;  // killed whole on stop(): the process is its only tenant
};

// Runs argv to completion with its output captured.
struct Completed {
  Exit exit;
  std::string out;  // stdout
  std::string err;  // stderr
};
Completed run_command(const std::vector<std::string>& argv, const std::string& cgroup_dir = "");

// Per-op result lines of the fsync helper: op -> (count, total ns).
struct OpTotals {
  int count = 0;
  unsigned long long total_ns = 0;
};
std::map<std::string, OpTotals> run_fsync_helper(const std::string& cgroup_dir, const std::string& dir,
                                                 const std::vector<std::string>& ops);

// Programs loaded right now whose names are ours (BPF truncates to 15 chars).
std::vector<std::string> loaded_stallwatch_programs();

// Resident set of pid in KiB (VmRSS), -1 when it is gone.
long rss_kib(pid_t pid);

}  // namespace stallwatch::test
