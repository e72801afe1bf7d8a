#include "identity/device_names.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace stallwatch::identity {

namespace fs = std::filesystem;

DeviceNames::DeviceNames(std::string sysfs, std::string mountinfo)
    : sysfs_(std::move(sysfs)), mountinfo_(std::move(mountinfo)) {}

std::string DeviceNames::name(std::uint32_t kernel_dev) {
  if (kernel_dev == 0) return "unknown";
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(kernel_dev); it != cache_.end()) return it->second;
  std::string label = resolve(kernel_dev_major(kernel_dev), kernel_dev_minor(kernel_dev));
  cache_.emplace(kernel_dev, label);
  return label;
}

std::string DeviceNames::partition_name(std::uint32_t kernel_dev) const {
  std::error_code ec;
  const auto dev = fs::canonical(
      fs::path(sysfs_) / "dev/block" /
          (std::to_string(kernel_dev_major(kernel_dev)) + ":" + std::to_string(kernel_dev_minor(kernel_dev))),
      ec);
  return ec ? std::to_string(kernel_dev_major(kernel_dev)) + ":" + std::to_string(kernel_dev_minor(kernel_dev))
            : dev.filename().string();
}

Result<std::uint32_t> DeviceNames::disk_by_name(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos) {
    return fail("invalid device name '" + name + "' (expected a disk name such as vda or loop0)");
  }
  std::ifstream in(fs::path(sysfs_) / "block" / name / "dev");
  unsigned major = 0, minor = 0;
  char colon = 0;
  if (!(in >> major >> colon >> minor) || colon != ':') {
    std::error_code ec;
    if (fs::exists(fs::path(sysfs_) / "class/block" / name / "partition", ec)) {
      return fail("'" + name + "' is a partition: --devices takes whole disks");
    }
    return fail("no block device named '" + name + "' (see /sys/block)");
  }
  return (major << 20) | minor;
}

std::string DeviceNames::resolve(unsigned major, unsigned minor) const {
  const std::string numbers = std::to_string(major) + ":" + std::to_string(minor);
  std::error_code ec;
  const fs::path link = fs::path(sysfs_) / "dev/block" / numbers;
  const fs::path dev = fs::canonical(link, ec);
  if (!ec) {
    // A partition's sysfs directory sits inside its disk's and has a `partition` file.
    if (fs::exists(dev / "partition", ec)) return dev.parent_path().filename().string();
    return dev.filename().string();
  }
  std::ifstream in(mountinfo_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno;
    if (!(fields >> id >> parent >> devno) || devno != numbers) continue;
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream post(line.substr(sep + 3));
    std::string fstype;
    if (post >> fstype) return fstype + ":" + numbers;
  }
  return numbers;
}

}  // namespace stallwatch::identity
