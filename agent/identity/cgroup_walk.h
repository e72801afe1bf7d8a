#pragma once
// One walk of a cgroup2 tree: cgroup id (the directory's inode) -> path from
// the root. cgroups come and go under the walk: a directory that vanishes
// or cannot be read is skipped, not the rest of the tree, and the walk says
// it was not complete so that nobody infers removals from it.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace stallwatch::identity {

struct CgroupWalk {
  std::unordered_map<std::uint64_t, std::string> paths;  // "/" for the root
  bool complete = true;
};

CgroupWalk walk_cgroups(const std::string& root);

}  // namespace stallwatch::identity
