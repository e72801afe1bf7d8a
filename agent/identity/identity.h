#pragma once
// cgroup id -> labels {namespace, pod, container, cgroup}: the one owner of
// workload identity. Walks cgroupfs once at start and then follows cgroup
// mkdir/rmdir events; labels are worked out once per cgroup and cached.
// Bounded: past max_series cgroups fold into cgroup="other"; a removed
// cgroup is forgotten stale_after later, and the caller frees its series.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "identity/labels.h"
#include "identity/pod_names.h"

namespace stallwatch::identity {

class Identity {
 public:
  using Clock = std::chrono::steady_clock;
  struct Config {
    std::string cgroup_root;  // the cgroup2 mount
    std::string pod_logs_dir = "/var/log/pods";
    std::vector<std::string> runtime_state_dirs;  // OCI bundles of containerd / CRI-O
    std::size_t max_series = 2000;
    std::chrono::seconds stale_after{60};
  };

  explicit Identity(Config config);

  Labels labels(std::uint64_t id);
  void on_mkdir(std::uint64_t id, const std::string& path);  // path relative to the cgroup2 root
  void on_rmdir(std::uint64_t id);
  // Forgets cgroups removed more than stale_after ago; returns their ids.
  std::vector<std::uint64_t> expire(Clock::time_point now = Clock::now());

  // Every live cgroup with its labels (not folded: for matching, not for
  // series), as cgroupfs and mkdir/rmdir events tell.
  std::vector<std::pair<std::uint64_t, Labels>> live();

  std::size_t tracked() const;           // cgroups holding labels of their own
  std::uint64_t series_dropped() const;  // cgroups folded into "other"

 private:
  void walk_locked();
  Labels resolve_locked(const std::string& path);
  void refresh_names_locked(bool force);

  Config config_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::string> paths_;
  std::unordered_map<std::uint64_t, Labels> labels_;
  std::set<std::uint64_t> folded_;
  std::map<std::uint64_t, Clock::time_point> removed_;
  std::map<std::string, PodInfo> pods_;
  std::map<std::string, ContainerInfo> containers_;
  std::set<std::string> sandboxes_;
  Clock::time_point last_walk_{};
  Clock::time_point last_names_{};
  bool walked_ = false;
  std::uint64_t dropped_ = 0;
};

}  // namespace stallwatch::identity
