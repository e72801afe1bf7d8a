#include "identity/cgroup_walk.h"

#include <sys/stat.h>

#include <filesystem>
#include <vector>

namespace stallwatch::identity {

namespace fs = std::filesystem;

CgroupWalk walk_cgroups(const std::string& root) {
  CgroupWalk out;
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    out.complete = false;
    return out;
  }
  out.paths[st.st_ino] = "/";
  // Depth first with an explicit stack: each directory is listed once, by
  // its own iterator, so an error ends that listing only. Symlinks are not
  // followed (cgroupfs has none; a --cgroup-root tree might loop).
  std::vector<fs::path> todo{root};
  while (!todo.empty()) {
    const fs::path dir = std::move(todo.back());
    todo.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      out.complete = false;
      continue;
    }
    for (; it != end; it.increment(ec)) {
      std::error_code type_ec;
      const auto status = it->symlink_status(type_ec);
      if (type_ec || !fs::is_directory(status)) continue;
      if (::lstat(it->path().c_str(), &st) != 0) {
        out.complete = false;  // gone between the listing and the stat
        continue;
      }
      out.paths[st.st_ino] = "/" + it->path().lexically_relative(root).string();
      todo.push_back(it->path());
    }
    if (ec) out.complete = false;
  }
  return out;
}

}  // namespace stallwatch::identity
