#pragma once
// Pod IP -> pod: the addresses of the network namespaces the node's pod
// processes live in. One process per pod is enough (a pod's containers
// share its netns): its IPv4 addresses are the local host routes of
// /proc/PID/net/fib_trie, its IPv6 ones /proc/PID/net/if_inet6, both
// readable without CAP_SYS_PTRACE. A pod that sees exactly the host's
// addresses (PID 1's) is on the host network and names no address.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "identity/identity.h"

namespace stallwatch::identity {

// 16 bytes: IPv4 in the first four.
using Address = std::array<std::uint8_t, 16>;
std::string address_text(const Address& addr, int family);  // "10.0.0.5", "fd00::5"

// Parsers, public for tests: local IPv4 addresses of a fib_trie, and
// global IPv6 addresses of an if_inet6 file (loopback and link-local left out).
std::vector<std::string> parse_fib_trie_locals(const std::string& text);
std::vector<std::string> parse_if_inet6(const std::string& text);

class PodAddresses {
 public:
  // cgroup_root: the cgroup2 mount the paths in /proc/PID/cgroup are relative to.
  PodAddresses(std::string proc_root, std::string cgroup_root);

  // Rescans /proc, at most every min_interval (cgroups come and go).
  void refresh(Identity& identity, std::chrono::milliseconds min_interval = std::chrono::seconds(5));
  // Labels of the pod holding addr; nullopt when no pod has it.
  std::optional<Labels> lookup(const Address& addr, int family) const;
  std::size_t size() const;

 private:
  std::string proc_root_;
  std::string cgroup_root_;
  mutable std::mutex mu_;
  std::map<std::string, Labels> by_address_;  // address_text -> pod
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace stallwatch::identity
