#include "identity/pod_addresses.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace stallwatch::identity {

namespace fs = std::filesystem;

std::string address_text(const Address& addr, int family) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf))) return "?";
  return buf;
}

std::vector<std::string> parse_fib_trie_locals(const std::string& text) {
  // "  |-- 10.0.0.5\n     /32 host LOCAL": the address line, then its route.
  std::set<std::string> found;
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (const auto p = line.find("|-- "); p != std::string::npos) {
      last = line.substr(p + 4);
    } else if (line.find("/32 host LOCAL") != std::string::npos && !last.empty() && last.rfind("127.", 0) != 0) {
      found.insert(last);
    }
  }
  return {found.begin(), found.end()};
}

std::vector<std::string> parse_if_inet6(const std::string& text) {
  // "fd000000000000000000000000000005 02 40 00 80 eth0": address, ifindex,
  // prefix length, scope (0x00 global, 0x10 host, 0x20 link), flags, name.
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string hex, ifindex, prefix, scope;
  while (in >> hex >> ifindex >> prefix >> scope) {
    std::string rest;
    std::getline(in, rest);
    if (hex.size() != 32 || scope != "00") continue;
    Address a{};
    for (std::size_t i = 0; i < 16; ++i) {
      std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, a[i], 16);
    }
    out.push_back(address_text(a, AF_INET6));
  }
  return out;
}

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string cgroup2_path(const fs::path& proc_pid) {
  std::ifstream in(proc_pid / "cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

}  // namespace

PodAddresses::PodAddresses(std::string proc_root, std::string cgroup_root)
    : proc_root_(std::move(proc_root)), cgroup_root_(std::move(cgroup_root)) {}

void PodAddresses::refresh(Identity& identity, std::chrono::milliseconds min_interval) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < min_interval) return;
    last_ = now;
  }
  // The host's own addresses, to leave out pods on the host network. Read
  // from PID 1's view rather than compared by /proc/PID/ns/net, which
  // would need CAP_SYS_PTRACE for processes of other users.
  const fs::path proc(proc_root_);
  const auto addresses_of = [](const fs::path& pid_dir) {
    std::set<std::string> out;
    for (auto& a : parse_fib_trie_locals(slurp(pid_dir / "net/fib_trie"))) out.insert(std::move(a));
    for (auto& a : parse_if_inet6(slurp(pid_dir / "net/if_inet6"))) out.insert(std::move(a));
    return out;
  };
  const auto host = addresses_of(proc / "1");
  std::set<std::pair<std::string, std::string>> done;  // pods looked at: every container shares the netns
  std::map<std::string, Labels> fresh;
  std::error_code ec;
  for (fs::directory_iterator it(proc, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cg = cgroup2_path(it->path());
    struct stat st {};
    if (cg.empty() || ::stat((cgroup_root_ + cg).c_str(), &st) != 0) continue;
    const Labels labels = identity.labels(st.st_ino);
    if (labels.pod.empty() || !done.insert({labels.ns, labels.pod}).second) continue;
    const auto mine = addresses_of(it->path());
    if (mine.empty() || mine == host) continue;  // exited meanwhile, or hostNetwork
    for (const auto& a : mine) fresh[a] = labels;
  }
  // Every container of a pod shares its netns: name the pod, not a container.
  for (auto& [addr, l] : fresh) l.container.clear();
  std::lock_guard lock(mu_);
  by_address_ = std::move(fresh);
}

std::optional<Labels> PodAddresses::lookup(const Address& addr, int family) const {
  std::lock_guard lock(mu_);
  auto it = by_address_.find(address_text(addr, family));
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

std::size_t PodAddresses::size() const {
  std::lock_guard lock(mu_);
  return by_address_.size();
}

}  // namespace stallwatch::identity
