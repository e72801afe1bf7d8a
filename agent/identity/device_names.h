#pragma once
// Kernel dev_t of a superblock -> device label.
//   block device: its disk name from /sys/dev/block (partitions fold into
//                 their disk: nvme0n1p2 -> nvme0n1);
//   anything else (tmpfs, overlay, btrfs subvolumes): "<fstype>:<major>:<minor>"
//                 from mountinfo, so two tmpfs mounts stay two series;
//   0: "unknown" (the hook could not see the file).
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace stallwatch::identity {

class DeviceNames {
 public:
  explicit DeviceNames(std::string sysfs = "/sys", std::string mountinfo = "/proc/self/mountinfo");

  std::string name(std::uint32_t kernel_dev);
  // The block device's own name, partitions not folded (nvme0n1p2).
  std::string partition_name(std::uint32_t kernel_dev) const;
  // "vda" -> its kernel dev_t, for --devices; refuses partitions and names
  // that are not block devices.
  Result<std::uint32_t> disk_by_name(const std::string& name) const;

 private:
  std::string resolve(unsigned major, unsigned minor) const;

  std::string sysfs_;
  std::string mountinfo_;
  std::mutex mu_;
  std::unordered_map<std::uint32_t, std::string> cache_;
};

// Kernel-internal dev_t (MINORBITS = 20) to major/minor.
inline unsigned kernel_dev_major(std::uint32_t dev) { return dev >> 20; }
inline unsigned kernel_dev_minor(std::uint32_t dev) { return dev & 0xfffffU; }

}  // namespace stallwatch::identity
