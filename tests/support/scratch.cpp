#include "support/scratch.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/shell.h"

namespace stallwatch::test {

namespace fs = std::filesystem;

std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto sep = line.find(" - cgroup2 ");
    if (sep == std::string::npos) continue;
    std::istringstream f(line);
    std::string a, b, c, d, mp;
    f >> a >> b >> c >> d >> mp;
    return mp;
  }
  throw std::runtime_error("no cgroup2 mount on this host");
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/stallwatch-test.XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TestCgroup::TestCgroup(const std::string& name) {
  const std::string root = cgroup2_mount();
  rel_ = "/" + name;
  dir_ = root + rel_;
  std::string at = root;
  for (const auto& part : fs::path(name)) {
    at += "/" + part.string();
    if (mkdir(at.c_str(), 0755) == 0) {
      made_.push_back(at);
    } else if (errno != EEXIST) {
      throw std::runtime_error("mkdir " + at + ": " + std::strerror(errno));
    }
  }
}

TestCgroup::~TestCgroup() {
  // Processes were waited for already; move stragglers out so rmdir works.
  std::ifstream procs(dir_ + "/cgroup.procs");
  std::string pid;
  const std::string root_procs = cgroup2_mount() + "/cgroup.procs";
  while (std::getline(procs, pid)) {
    std::ofstream(root_procs) << pid;
  }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) rmdir(it->c_str());
}

dev_t Mounted::dev() const {
  struct stat st {};
  if (stat(path().c_str(), &st) != 0) throw std::runtime_error("stat " + path());
  return st.st_dev;
}

Tmpfs::Tmpfs() {
  if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=64m") != 0) {
    throw std::runtime_error(std::string("mount tmpfs: ") + std::strerror(errno));
  }
}

Tmpfs::~Tmpfs() { umount2(dir_.path().c_str(), MNT_DETACH); }

std::string Tmpfs::label() const {
  return "tmpfs:" + std::to_string(major(dev())) + ":" + std::to_string(minor(dev()));
}

LoopExt4::LoopExt4(const std::string& backing_dir, int size_mb) {
  char tmpl[4096];
  std::snprintf(tmpl, sizeof(tmpl), "%s/stallwatch-loop.XXXXXX", backing_dir.c_str());
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
  close(fd);
  image_ = tmpl;
  try {
    sh("truncate -s " + std::to_string(size_mb) + "M " + image_);
    sh("mkfs.ext4 -q -F " + image_);
    device_ = sh("losetup --find --show " + image_);
    while (!device_.empty() && (device_.back() == '\n' || device_.back() == ' ')) device_.pop_back();
    sh("mount -t ext4 " + device_ + " " + mnt_.path());
    mounted_ = true;
  } catch (...) {
    if (!device_.empty()) run_shell("losetup -d " + device_);
    unlink(image_.c_str());
    throw;
  }
}

LoopExt4::~LoopExt4() {
  if (mounted_ && umount2(mnt_.path().c_str(), 0) != 0) umount2(mnt_.path().c_str(), MNT_DETACH);
  run_shell("losetup -d " + device_);
  unlink(image_.c_str());
}

void LoopExt4::set_nomerges(int value) const {
  std::ofstream("/sys/block/" + label() + "/queue/nomerges") << value;
}

std::string LoopExt4::make_file(const std::string& name, long bytes) const {
  const std::string file = path() + "/" + name;
  sh("dd if=/dev/zero of=" + file + " bs=1M count=" + std::to_string(bytes >> 20) +
     " conv=fsync status=none");
  return file;
}

std::string LoopExt4::label() const { return fs::path(device_).filename().string(); }

}  // namespace stallwatch::test
