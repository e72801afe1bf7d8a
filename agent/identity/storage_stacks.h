#pragma once
// Which physical disks serve each mounted filesystem. The fsync hooks see a
// file's superblock device (dm-0, md0, an overlay's or btrfs's anonymous
// device); the block hooks see requests on the disks at the bottom of the
// stack. A victim's blame window must watch those disks:
//   device mapper and md: the slaves/ relation in sysfs, to any depth,
//                         partitions folded into their disk;
//   overlayfs:            the filesystem of its upper layer (where writes go),
//                         the mount holding the upperdir path;
//   btrfs:                the devices of its filesystem (/sys/fs/btrfs).
// Only filesystems whose disks differ from their own device are listed.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace stallwatch::identity {

struct StackedFs {
  std::string fstype;
  std::vector<std::uint32_t> disks;  // kernel dev_t of whole disks, in sysfs order
  // dm-crypt devices in the stack (dm uuid "CRYPT-..."): their workers hold
  // bios, encrypting, before the disks see them.
  std::vector<std::uint32_t> queues;
};

class StorageStacks {
 public:
  // root: where the host's /dev is seen from ("/" on the host, "/proc/1/root"
  // in a container allowed to look there), for a btrfs source sysfs cannot name.
  explicit StorageStacks(std::string sysfs = "/sys", std::string mountinfo = "/proc/self/mountinfo",
                         std::string root = "/");

  // Superblock dev_t (kernel encoding) -> the disks under it.
  std::map<std::uint32_t, StackedFs> resolve() const;

  // The whole disks under a block device, following slaves/ (empty if it is
  // not a block device); queues, if given, gets the dm-crypt devices met.
  std::vector<std::uint32_t> disks_under(unsigned major, unsigned minor,
                                         std::vector<std::uint32_t>* queues = nullptr) const;

 private:
  struct Mount {
    unsigned major = 0, minor = 0;
    std::string point, fstype, source, options;
  };
  std::vector<Mount> mounts() const;
  std::vector<std::uint32_t> disks_of(const Mount& m, const std::vector<Mount>& all, int depth,
                                      std::vector<std::uint32_t>& queues) const;

  std::string sysfs_;
  std::string mountinfo_;
  std::string root_;
};

// What the kernel's blame windows watch. A filesystem's windows watch one
// blame state: its disk's, or, where a stack spans several disks or holds
// bios in a dm-crypt device, the group's, which every member's requests
// (and the dm-crypt device's bios) are counted in. Devices that share any
// stack form one group, keyed by its smallest disk's dev_t.
struct WatchPlan {
  std::map<std::uint32_t, std::uint32_t> disk_of;   // stacked filesystem -> the key it watches
  std::map<std::uint32_t, std::uint32_t> group_of;  // a grouped disk or dm-crypt device -> its group's key
  std::set<std::uint32_t> bio_devs;                 // dm-crypt devices: their bios count as in service
};
WatchPlan watch_plan(const std::map<std::uint32_t, StackedFs>& stacks);

// The agent's view of the host: /proc/1 when it shares the host's PID
// namespace and may read it, else its own.
StorageStacks host_storage_stacks();

}  // namespace stallwatch::identity
