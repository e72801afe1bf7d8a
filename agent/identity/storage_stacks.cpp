#include "identity/storage_stacks.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace stallwatch::identity {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 16;  // stacks deeper than this are cycles or nonsense

std::uint32_t kernel_dev(unsigned major, unsigned minor) { return (major << 20) | minor; }

// mountinfo escapes space, tab, newline and backslash as \NNN (octal).
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) && std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// One option's value from a comma-separated list; overlayfs escapes commas
// inside paths with a backslash.
std::string option(const std::string& options, const std::string& key) {
  std::string item;
  auto take = [&](const std::string& it) -> std::string {
    return it.compare(0, key.size() + 1, key + "=") == 0 ? it.substr(key.size() + 1) : std::string();
  };
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (options[i] == '\\' && i + 1 < options.size() && options[i + 1] == ',') {
      item += ',';
      ++i;
    } else if (options[i] == ',') {
      if (auto v = take(item); !v.empty()) return v;
      item.clear();
    } else {
      item += options[i];
    }
  }
  return take(item);
}

bool read_dev(const fs::path& file, unsigned& major, unsigned& minor) {
  std::ifstream in(file);
  char colon = 0;
  return static_cast<bool>(in >> major >> colon >> minor) && colon == ':';
}

}  // namespace

StorageStacks::StorageStacks(std::string sysfs, std::string mountinfo, std::string root)
    : sysfs_(std::move(sysfs)), mountinfo_(std::move(mountinfo)), root_(std::move(root)) {}

std::vector<std::uint32_t> StorageStacks::disks_under(unsigned major, unsigned minor,
                                                      std::vector<std::uint32_t>* queues) const {
  std::vector<std::uint32_t> out;
  std::error_code ec;
  fs::path start = fs::canonical(fs::path(sysfs_) / "dev/block" / (std::to_string(major) + ":" + std::to_string(minor)), ec);
  if (ec) return out;
  std::vector<std::pair<fs::path, int>> todo{{start, 0}};
  while (!todo.empty()) {
    auto [dir, depth] = todo.back();
    todo.pop_back();
    // A partition's directory sits inside its disk's.
    if (fs::exists(dir / "partition", ec)) dir = dir.parent_path();
    std::vector<fs::path> slaves;
    for (const auto& e : fs::directory_iterator(dir / "slaves", ec)) {
      const fs::path p = fs::canonical(e.path(), ec);
      if (!ec) slaves.push_back(p);
    }
    if (slaves.empty() || depth >= kMaxDepth) {
      unsigned ma = 0, mi = 0;
      if (read_dev(dir / "dev", ma, mi) && std::find(out.begin(), out.end(), kernel_dev(ma, mi)) == out.end()) {
        out.push_back(kernel_dev(ma, mi));
      }
      continue;
    }
    if (queues) {
      std::ifstream uuid(dir / "dm/uuid");
      std::string u;
      unsigned ma = 0, mi = 0;
      if (std::getline(uuid, u) && u.rfind("CRYPT-", 0) == 0 && read_dev(dir / "dev", ma, mi) &&
          std::find(queues->begin(), queues->end(), kernel_dev(ma, mi)) == queues->end()) {
        queues->push_back(kernel_dev(ma, mi));
      }
    }
    std::sort(slaves.begin(), slaves.end());
    // Depth-first in sysfs order: the first disk listed is the first slave's.
    for (auto it = slaves.rbegin(); it != slaves.rend(); ++it) todo.push_back({*it, depth + 1});
  }
  return out;
}

std::vector<StorageStacks::Mount> StorageStacks::mounts() const {
  std::vector<Mount> out;
  std::ifstream in(mountinfo_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno;
    if (!(fields >> id >> parent >> devno)) continue;
    Mount m;
    char colon = 0;
    std::istringstream d(devno);
    if (!(d >> m.major >> colon >> m.minor) || colon != ':') continue;
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream post(line.substr(sep + 3));
    std::string root;
    if (!(fields >> root >> m.point)) continue;
    if (!(post >> m.fstype >> m.source >> m.options)) continue;
    m.point = unescape(m.point);
    m.source = unescape(m.source);
    m.options = unescape(m.options);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::uint32_t> StorageStacks::disks_of(const Mount& m, const std::vector<Mount>& all, int depth,
                                                   std::vector<std::uint32_t>& queues) const {
  if (depth > 4) return {};
  auto host_path = [&](const std::string& p) { return (fs::path(root_) / fs::path(p).relative_path()).string(); };
  if (m.fstype == "overlay") {
    // The upper layer's filesystem: the mount whose point is the longest
    // prefix of its path (mountinfo's paths are its namespace's, so this
    // needs no access to the host's files).
    const std::string upper = option(m.options, "upperdir");
    const Mount* best = nullptr;
    for (const auto& o : all) {
      const auto& p = o.point;
      const bool under = upper.compare(0, p.size(), p) == 0 &&
                         (p == "/" || upper.size() == p.size() || upper[p.size()] == '/');
      if (&o != &m && under && (!best || p.size() >= best->point.size())) best = &o;
    }
    if (upper.empty() || !best) return {};
    if (auto disks = disks_under(best->major, best->minor, &queues); !disks.empty()) return disks;
    return disks_of(*best, all, depth + 1, queues);
  }
  if (m.fstype == "btrfs") {
    // The source device by its name in sysfs (/dev/sdb1, /dev/mapper/NAME),
    // else by stat() where the host's /dev can be seen.
    std::error_code ec;
    fs::path dev;
    const std::string base = fs::path(m.source).filename().string();
    if (m.source.rfind("/dev/mapper/", 0) == 0) {
      for (const auto& b : fs::directory_iterator(fs::path(sysfs_) / "block", ec)) {
        std::ifstream name(b.path() / "dm/name");
        std::string n;
        if (std::getline(name, n) && n == base) dev = fs::canonical(b.path(), ec);
      }
    } else if (!base.empty() && base.find("..") == std::string::npos) {
      dev = fs::canonical(fs::path(sysfs_) / "class/block" / base, ec);
    }
    if (dev.empty() || ec) {
      struct stat st{};
      if (::stat(host_path(m.source).c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return {};
      dev = fs::canonical(fs::path(sysfs_) / "dev/block" /
                              (std::to_string(::major(st.st_rdev)) + ":" + std::to_string(::minor(st.st_rdev))),
                          ec);
    }
    // A multi-device btrfs lists each member under /sys/fs/btrfs/<fsid>/devices.
    if (ec || dev.empty()) return {};
    {
      std::error_code e1;
      for (const auto& f : fs::directory_iterator(fs::path(sysfs_) / "fs/btrfs", e1)) {
        std::error_code e2;
        if (!fs::exists(f.path() / "devices" / dev.filename(), e2)) continue;
        std::vector<std::uint32_t> out;
        std::vector<fs::path> members;
        for (const auto& d : fs::directory_iterator(f.path() / "devices", e2)) members.push_back(d.path());
        std::sort(members.begin(), members.end());
        for (const auto& member : members) {
          unsigned ma = 0, mi = 0;
          if (!read_dev(fs::canonical(member, e2) / "dev", ma, mi)) continue;
          for (auto disk : disks_under(ma, mi, &queues)) {
            if (std::find(out.begin(), out.end(), disk) == out.end()) out.push_back(disk);
          }
        }
        if (!out.empty()) return out;
      }
    }
    unsigned ma = 0, mi = 0;
    if (!read_dev(dev / "dev", ma, mi)) return {};
    return disks_under(ma, mi, &queues);
  }
  return disks_under(m.major, m.minor, &queues);
}

std::map<std::uint32_t, StackedFs> StorageStacks::resolve() const {
  std::map<std::uint32_t, StackedFs> out;
  const auto all = mounts();
  for (const auto& m : all) {
    const std::uint32_t dev = kernel_dev(m.major, m.minor);
    if (out.count(dev)) continue;
    std::vector<std::uint32_t> queues;
    auto disks = disks_of(m, all, 0, queues);
    if (disks.empty()) continue;
    // A filesystem right on a disk or partition is what the hooks see already.
    std::error_code ec;
    fs::path own = fs::canonical(fs::path(sysfs_) / "dev/block" / (std::to_string(m.major) + ":" + std::to_string(m.minor)), ec);
    if (!ec) {
      if (fs::exists(own / "partition", ec)) own = own.parent_path();
      unsigned ma = 0, mi = 0;
      if (disks.size() == 1 && read_dev(own / "dev", ma, mi) && disks[0] == kernel_dev(ma, mi)) continue;
    }
    out[dev] = StackedFs{m.fstype, std::move(disks), std::move(queues)};
  }
  return out;
}

WatchPlan watch_plan(const std::map<std::uint32_t, StackedFs>& stacks) {
  // Union-find over disks and dm-crypt devices; each set keyed by its
  // smallest disk (a dm-crypt device never names a group while a disk can).
  std::set<std::uint32_t> queues;
  for (const auto& [dev, fs] : stacks) queues.insert(fs.queues.begin(), fs.queues.end());
  auto before = [&queues](std::uint32_t a, std::uint32_t b) {
    const bool qa = queues.count(a) != 0, qb = queues.count(b) != 0;
    return qa != qb ? qb : a < b;
  };
  std::map<std::uint32_t, std::uint32_t> parent;
  auto find = [&parent](std::uint32_t d) {
    while (parent.at(d) != d) d = parent[d] = parent.at(parent.at(d));
    return d;
  };
  for (const auto& [dev, fs] : stacks) {
    std::vector<std::uint32_t> members = fs.disks;
    members.insert(members.end(), fs.queues.begin(), fs.queues.end());
    for (auto d : members) parent.emplace(d, d);
    for (std::size_t i = 1; i < members.size(); ++i) {
      const auto a = find(members[0]), b = find(members[i]);
      if (a != b) before(a, b) ? parent[b] = a : parent[a] = b;
    }
  }
  WatchPlan plan;
  std::map<std::uint32_t, int> members;
  for (const auto& [d, up] : parent) ++members[find(d)];
  for (const auto& [d, up] : parent) {
    if (members[find(d)] > 1) plan.group_of[d] = find(d);
  }
  for (const auto& [dev, fs] : stacks) {
    if (!fs.disks.empty()) plan.disk_of[dev] = find(fs.disks.front());
  }
  plan.bio_devs = std::move(queues);
  return plan;
}

StorageStacks host_storage_stacks() {
  // /proc/1/mountinfo is readable without ptrace rights; /proc/1/root is not
  // (the least-privilege DaemonSet): it is only the fallback for stat().
  const char* mountinfo = ::access("/proc/1/mountinfo", R_OK) == 0 ? "/proc/1/mountinfo" : "/proc/self/mountinfo";
  return StorageStacks("/sys", mountinfo, ::access("/proc/1/root/", X_OK) == 0 ? "/proc/1/root" : "/");
}

}  // namespace stallwatch::identity
