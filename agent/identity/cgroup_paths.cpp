#include "identity/cgroup_paths.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

namespace stallwatch::identity {

namespace fs = std::filesystem;

CgroupPaths::CgroupPaths(std::string cgroup2_mount) : root_(std::move(cgroup2_mount)) {}

void CgroupPaths::walk() {
  std::unordered_map<std::uint64_t, std::string> fresh;
  struct stat st{};
  if (::stat(root_.c_str(), &st) == 0) fresh[st.st_ino] = "/";
  std::error_code ec;
  // cgroups come and go under our feet: errors skip the entry, not the walk.
  for (fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (::stat(it->path().c_str(), &st) != 0) continue;
    fresh[st.st_ino] = "/" + it->path().lexically_relative(root_).string();
  }
  paths_ = std::move(fresh);
}

std::string CgroupPaths::name(std::uint64_t id) {
  std::lock_guard lock(mu_);
  if (auto it = paths_.find(id); it != paths_.end()) return it->second;
  const auto now = Clock::now();
  if (!walked_ || now - last_walk_ >= std::chrono::seconds(1)) {
    walk();
    walked_ = true;
    last_walk_ = now;
    if (auto it = paths_.find(id); it != paths_.end()) return it->second;
  }
  return "unknown:" + std::to_string(id);
}

}  // namespace stallwatch::identity
