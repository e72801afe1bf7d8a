#pragma once
// One agent per node: a second `stallwatch run` would trace every call
// twice, double the overhead and, with both exporting, double every count
// a dashboard sums. The processes tell (the DaemonSet runs with hostPID, a
// systemd unit sees the host's), so a second one finds the first.
#include <sys/types.h>

#include <optional>
#include <string>

namespace stallwatch::cli {

struct RunningAgent {
  pid_t pid = 0;
  std::string command;  // its command line, spaces between arguments
};

// Another live process running `stallwatch ... run ...`, under proc_root.
std::optional<RunningAgent> find_other_agent(const std::string& proc_root = "/proc");

}  // namespace stallwatch::cli
