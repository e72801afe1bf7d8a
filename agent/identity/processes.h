#pragma once
// The node's processes by name, from /proc: what comm= victim selectors match.
#include <cstdint>
#include <string>
#include <vector>

namespace stallwatch::identity {

struct Process {
  std::uint32_t tgid = 0;
  std::string comm;  // /proc/PID/comm, at most 15 characters
};

// Processes that exit while being read are left out.
std::vector<Process> list_processes(const std::string& proc_root = "/proc");

}  // namespace stallwatch::identity
