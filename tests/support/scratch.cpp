#include "support/scratch.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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
  // Processes were waited for already; stragglers (a helper's own children)
  // are killed where the kernel can (cgroup.kill, 5.14+), else moved out so
  // rmdir works.
  std::ofstream(dir_ + "/cgroup.kill") << "1";
  for (int i = 0; i < 200; ++i) {
    std::ifstream left(dir_ + "/cgroup.procs");
    std::string any;
    if (!std::getline(left, any)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::ifstream procs(dir_ + "/cgroup.procs");
  std::string pid;
  const std::string root_procs = cgroup2_mount() + "/cgroup.procs";
  while (std::getline(procs, pid)) {
    std::ofstream(root_procs) << pid;
  }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) rmdir(it->c_str());
}

void TestCgroup::freeze(bool on) const {
  std::ofstream(dir_ + "/cgroup.freeze") << (on ? "1" : "0");
  const std::string want = on ? "frozen 1" : "frozen 0";
  for (int i = 0; i < 1000; ++i) {
    std::ifstream events(dir_ + "/cgroup.events");
    for (std::string line; std::getline(events, line);) {
      if (line == want) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error(dir_ + ": cgroup.events never said " + want);
}

std::string TestCgroup::join_spec() const {
  std::string spec = dir_;
  for (const auto& d : v1_) spec += "\n" + d;
  return spec;
}

namespace {

// Mount point of the v1 hierarchy holding controller, "" when none (pure v2).
std::string v1_mount(const std::string& controller) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    const auto dash = line.find(" - cgroup ");
    if (dash == std::string::npos) continue;
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    const std::string super = line.substr(dash + 10);
    std::istringstream opts(super.substr(super.find(' ') + 1));
    std::string opt;
    while (std::getline(opts, opt, ',')) {
      if (opt == controller) return point;
    }
  }
  return "";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("write '" + text + "' to " + path + " failed");
}

std::string v1_child(const std::string& controller, const TestCgroup& cg) {
  const std::string mount = v1_mount(controller);
  if (mount.empty()) return "";
  const std::string dir = mount + "/" + fs::path(cg.rel()).filename().string();
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw std::runtime_error("mkdir " + dir + ": " + std::strerror(errno));
  }
  return dir;
}

void remove_v1_child(const std::string& dir) {
  std::ifstream procs(dir + "/cgroup.procs");
  const std::string parent_procs = fs::path(dir).parent_path().string() + "/cgroup.procs";
  for (std::string pid; std::getline(procs, pid);) std::ofstream(parent_procs) << pid;
  rmdir(dir.c_str());
}

}  // namespace

CpuWeight::CpuWeight(TestCgroup& cg, int v2_weight) : cg_(cg) {
  v1_dir_ = v1_child("cpu", cg);
  if (!v1_dir_.empty()) {
    // v2's default weight is 100, v1's shares 1024; 2 is the least v1 allows.
    write_file(v1_dir_ + "/cpu.shares", std::to_string(std::max(2, v2_weight * 1024 / 100)));
    cg_.add_v1(v1_dir_);
    return;
  }
  write_file(cgroup2_mount() + "/cgroup.subtree_control", "+cpu");
  write_file(cg.dir() + "/cpu.weight", std::to_string(v2_weight));
}

CpuWeight::~CpuWeight() {
  if (v1_dir_.empty()) return;
  cg_.remove_v1(v1_dir_);
  remove_v1_child(v1_dir_);
}

CpuQuota::CpuQuota(TestCgroup& cg, int quota_us, int period_us) : cg_(cg) {
  v1_dir_ = v1_child("cpu", cg);
  if (!v1_dir_.empty()) {
    write_file(v1_dir_ + "/cpu.cfs_period_us", std::to_string(period_us));
    write_file(v1_dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us));
    cg_.add_v1(v1_dir_);
    return;
  }
  write_file(cgroup2_mount() + "/cgroup.subtree_control", "+cpu");
  write_file(cg.dir() + "/cpu.max", std::to_string(quota_us) + " " + std::to_string(period_us));
}

CpuQuota::~CpuQuota() {
  try {
    if (v1_dir_.empty()) {
      write_file(cg_.dir() + "/cpu.max", "max");
      return;
    }
    cg_.remove_v1(v1_dir_);
    remove_v1_child(v1_dir_);
  } catch (...) {
  }
}

namespace {
const char kUnboundCpumask[] = "/sys/devices/virtual/workqueue/cpumask";
}

UnboundWorkqueueCpus::UnboundWorkqueueCpus(const std::string& hex_mask) {
  std::ifstream in(kUnboundCpumask);
  if (!std::getline(in, old_) || old_.empty()) throw std::runtime_error(std::string("cannot read ") + kUnboundCpumask);
  write_file(kUnboundCpumask, hex_mask);
}

UnboundWorkqueueCpus::~UnboundWorkqueueCpus() {
  try {
    write_file(kUnboundCpumask, old_);
  } catch (...) {
  }
}

IoLimit::IoLimit(TestCgroup& cg, const std::string& device, int write_iops) : cg_(cg) {
  struct stat st {};
  if (stat(device.c_str(), &st) != 0) throw std::runtime_error("stat " + device);
  majmin_ = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  v1_dir_ = v1_child("blkio", cg);
  if (!v1_dir_.empty()) {
    write_file(v1_dir_ + "/blkio.throttle.write_iops_device", majmin_ + " " + std::to_string(write_iops));
    cg_.add_v1(v1_dir_);
    return;
  }
  write_file(cgroup2_mount() + "/cgroup.subtree_control", "+io");
  write_file(cg.dir() + "/io.max", majmin_ + " wiops=" + std::to_string(write_iops));
}

IoLimit::~IoLimit() {
  try {
    if (v1_dir_.empty()) {
      write_file(cg_.dir() + "/io.max", majmin_ + " wiops=max");
      return;
    }
    cg_.remove_v1(v1_dir_);
    remove_v1_child(v1_dir_);
  } catch (...) {
  }
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

namespace {

// An image file of size_mb in backing_dir, for a loop device.
std::string new_image(const std::string& backing_dir, int size_mb) {
  char tmpl[4096];
  std::snprintf(tmpl, sizeof(tmpl), "%s/stallwatch-loop.XXXXXX", backing_dir.c_str());
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
  close(fd);
  try {
    sh("truncate -s " + std::to_string(size_mb) + "M " + tmpl);
  } catch (...) {
    unlink(tmpl);
    throw;
  }
  return tmpl;
}

// A loop device over image: "/dev/loopN".
std::string attach_loop(const std::string& image, bool direct_io) {
  std::string device = sh(std::string("losetup --find --show ") + (direct_io ? "--direct-io=on " : "") + image);
  while (!device.empty() && (device.back() == '\n' || device.back() == ' ')) device.pop_back();
  return device;
}

}  // namespace

LoopFs::LoopFs(const std::string& backing_dir, int size_mb, const std::string& fstype, bool direct_io)
    : image_(new_image(backing_dir, size_mb)), fstype_(fstype) {
  try {
    sh(fstype_ == "xfs"     ? "mkfs.xfs -q -f " + image_
       : fstype_ == "btrfs" ? "mkfs.btrfs -q -f " + image_
                            : "mkfs." + fstype_ + " -q -F " + image_);
    device_ = attach_loop(image_, direct_io);
    sh("mount -t " + fstype_ + " " + device_ + " " + mnt_.path());
    mounted_ = true;
  } catch (...) {
    if (!device_.empty()) run_shell("losetup -d " + device_);
    unlink(image_.c_str());
    throw;
  }
}

void LoopFs::settle() const { sh("sync; fsfreeze -f " + mnt_.path() + "; fsfreeze -u " + mnt_.path() + "; sync"); }

LoopFs::~LoopFs() {
  if (mounted_ && umount2(mnt_.path().c_str(), 0) != 0) umount2(mnt_.path().c_str(), MNT_DETACH);
  run_shell("losetup -d " + device_);
  unlink(image_.c_str());
}

LoopDevice::LoopDevice(const std::string& backing_dir, int size_mb) : image_(new_image(backing_dir, size_mb)) {
  try {
    device_ = attach_loop(image_, false);
  } catch (...) {
    unlink(image_.c_str());
    throw;
  }
}

LoopDevice::~LoopDevice() {
  run_shell("losetup -d " + device_);
  unlink(image_.c_str());
}

OverlayFs::OverlayFs(const Mounted& base) : layers_(base.path() + "/overlay-layers") {
  sh("mkdir -p " + layers_ + "/lower " + layers_ + "/upper " + layers_ + "/work");
  const std::string opts = "lowerdir=" + layers_ + "/lower,upperdir=" + layers_ + "/upper,workdir=" + layers_ + "/work";
  if (mount("overlay", mnt_.path().c_str(), "overlay", 0, opts.c_str()) != 0) {
    throw std::runtime_error(std::string("mount overlay: ") + std::strerror(errno));
  }
  mounted_ = true;
}

OverlayFs::~OverlayFs() {
  if (mounted_ && umount2(mnt_.path().c_str(), 0) != 0) umount2(mnt_.path().c_str(), MNT_DETACH);
  run_shell("rm -rf " + layers_);
}

std::string OverlayFs::label() const {
  return "overlay:" + std::to_string(major(dev())) + ":" + std::to_string(minor(dev()));
}

void LoopFs::set_nomerges(int value) const { std::ofstream("/sys/block/" + label() + "/queue/nomerges") << value; }

void LoopFs::set_scheduler(const std::string& name) const {
  std::ofstream out("/sys/block/" + label() + "/queue/scheduler");
  out << name;
  out.flush();
  if (!out) throw std::runtime_error("cannot set the I/O scheduler of " + label() + " to " + name);
}

std::string LoopFs::make_file(const std::string& name, long bytes) const {
  const std::string file = path() + "/" + name;
  sh("dd if=/dev/zero of=" + file + " bs=1M count=" + std::to_string(bytes >> 20) + " conv=fsync status=none");
  return file;
}

std::string LoopFs::label() const { return fs::path(device_).filename().string(); }

}  // namespace stallwatch::test
