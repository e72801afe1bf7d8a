#pragma once
// cgroup v2 id -> path relative to the cgroup2 mount ("/" for the root).
// The id of a cgroup2 directory is its inode number. Walks the hierarchy on
// a miss, at most once per second, so a scrape never walks twice in a row.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace stallwatch::identity {

class CgroupPaths {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CgroupPaths(std::string cgroup2_mount);

  // The path, or "unknown:<id>" when no directory has that id.
  std::string name(std::uint64_t id);

 private:
  void walk();

  std::string root_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::string> paths_;
  Clock::time_point last_walk_{};
  bool walked_ = false;
};

}  // namespace stallwatch::identity
