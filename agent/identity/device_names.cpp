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
