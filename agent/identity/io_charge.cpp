#include "identity/io_charge.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "common/small_file.h"

namespace stallwatch::identity {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string join(const std::string& root, const std::string& path) { return path == "/" ? root : root + path; }

// The controller is in cgroup.controllers: its parent enabled it for its
// children, so this cgroup has a css of its own.
bool has_controller(const std::string& root, const std::string& path, const std::string& name) {
  if (path == "/") return true;
  const auto text = read_small_file(join(root, path) + "/cgroup.controllers", 4096);
  if (!text) return false;
  std::istringstream words(*text);
  for (std::string w; words >> w;) {
    if (w == name) return true;
  }
  return false;
}

std::string nearest_with(const std::string& root, std::string path, const std::string& name) {
  while (!has_controller(root, path, name)) path = parent_of(path);
  return path;
}

bool has_processes(const std::string& dir) {
  const int fd = ::open((dir + "/cgroup.procs").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return true;  // cannot tell: not alone
  char c;
  const auto n = ::read(fd, &c, 1);
  ::close(fd);
  return n != 0;
}

bool populated(const std::string& dir) {
  const auto text = read_small_file(dir + "/cgroup.events", 4096);
  return !text || text->find("populated 0") == std::string::npos;
}

std::uint64_t cgroup_id(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

IoCharge io_charge_of(const std::string& root, const std::string& path) {
  return {nearest_with(root, path, "io"), nearest_with(root, nearest_with(root, path, "memory"), "io")};
}

bool sole_branch(const std::string& root, const std::string& ancestor, const std::string& path) {
  if (ancestor == "/") return false;  // the root holds every kernel thread and daemon
  for (std::string child = path; child != ancestor && child != "/";) {
    const std::string parent = parent_of(child);
    const std::string dir = join(root, parent);
    if (has_processes(dir)) return false;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return false;
    bool alone = true;
    const std::string own = child.substr(child.rfind('/') + 1);
    while (const dirent* e = ::readdir(d)) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.' || own == e->d_name) continue;
      if (populated(dir + "/" + e->d_name)) {
        alone = false;
        break;
      }
    }
    ::closedir(d);
    if (!alone) return false;
    child = parent;
  }
  return true;
}

std::map<std::uint64_t, std::uint64_t> owner_aliases(const std::string& root,
                                                     const std::map<std::uint64_t, std::string>& victims) {
  std::map<std::uint64_t, std::uint64_t> out;
  std::set<std::uint64_t> shared;
  for (const auto& [victim, path] : victims) {
    const auto charge = io_charge_of(root, path);
    // Most often one cgroup has both controllers: its branch is read once.
    std::set<std::string> ancestors = {charge.direct, charge.writeback};
    for (const auto& ancestor : ancestors) {
      if (ancestor == path || !sole_branch(root, ancestor, path)) continue;
      const auto id = cgroup_id(join(root, ancestor));
      if (!id || shared.count(id) || victims.count(id)) continue;
      if (auto it = out.find(id); it != out.end() && it->second != victim) {
        out.erase(it);
        shared.insert(id);
        continue;
      }
      out[id] = victim;
    }
  }
  return out;
}

}  // namespace stallwatch::identity
