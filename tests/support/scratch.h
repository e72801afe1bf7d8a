#pragma once
// Kernel objects a test makes, each removed by its destructor even when the
// test fails: cgroups, mounts, loop devices.
#include <sys/types.h>

#include <string>
#include <vector>

namespace stallwatch::test {

// Mount point of cgroup2 on this host (/sys/fs/cgroup on a pure v2 host,
// /sys/fs/cgroup/unified on a hybrid one), read from mountinfo.
std::string cgroup2_mount();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestCgroup {
 public:
  // name is relative to the cgroup2 mount and may be nested ("a/b/c"):
  // missing parents are made, and removed again, deepest first.
  explicit TestCgroup(const std::string& name);
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& dir() const { return dir_; }
  const std::string& rel() const { return rel_; }  // "/name", the cgroup label
  // Stops (cgroup.freeze) or restarts every process in it, waiting until
  // the kernel says all are stopped; a frozen cgroup's processes still die
  // of SIGKILL, so cleanup needs no thaw.
  void freeze(bool on) const;
  // What spawn() joins: dir() and, on a hybrid host, the v1 cgroups a
  // CpuWeight or IoLimit added (newline-separated).
  std::string join_spec() const;
  void add_v1(const std::string& dir) { v1_.push_back(dir); }
  void remove_v1(const std::string& dir) { std::erase(v1_, dir); }

 private:
  std::string dir_;
  std::string rel_;
  std::vector<std::string> made_;  // directories this object created, outermost first
  std::vector<std::string> v1_;
};

// A small CPU weight for a test cgroup: cpu.weight on cgroup2 (cpu enabled
// in the root's subtree_control), or a v1 cpu cgroup with cpu.shares that
// processes started with join_spec() join. Undone by the destructor.
class CpuWeight {
 public:
  CpuWeight(TestCgroup& cg, int v2_weight);
  ~CpuWeight();
  CpuWeight(const CpuWeight&) = delete;
  CpuWeight& operator=(const CpuWeight&) = delete;

 private:
  TestCgroup& cg_;
  std::string v1_dir_;
};

// A CPU quota for a test cgroup, quota_us per period_us: cpu.max on
// cgroup2, or cpu.cfs_quota_us in a v1 cpu cgroup. Undone by the destructor.
class CpuQuota {
 public:
  CpuQuota(TestCgroup& cg, int quota_us, int period_us);
  ~CpuQuota();
  CpuQuota(const CpuQuota&) = delete;
  CpuQuota& operator=(const CpuQuota&) = delete;

 private:
  TestCgroup& cg_;
  std::string v1_dir_;
};

// The CPUs every unbound workqueue's workers run on (the loop device's
// among them), host-wide; the old mask comes back in the destructor.
class UnboundWorkqueueCpus {
 public:
  explicit UnboundWorkqueueCpus(const std::string& hex_mask);
  ~UnboundWorkqueueCpus();
  UnboundWorkqueueCpus(const UnboundWorkqueueCpus&) = delete;
  UnboundWorkqueueCpus& operator=(const UnboundWorkqueueCpus&) = delete;

 private:
  std::string old_;
};

// A write IOPS limit on one device for a test cgroup: io.max on cgroup2, or
// blkio.throttle.write_iops_device in a v1 blkio cgroup. Undone by the destructor.
class IoLimit {
 public:
  IoLimit(TestCgroup& cg, const std::string& device, int write_iops);
  ~IoLimit();
  IoLimit(const IoLimit&) = delete;
  IoLimit& operator=(const IoLimit&) = delete;

 private:
  TestCgroup& cg_;
  std::string v1_dir_;
  std::string majmin_;
};

// A filesystem of its own: its st_dev is the device the agent must label.
class Mounted {
 public:
  virtual ~Mounted() = default;
  virtual const std::string& path() const = 0;
  dev_t dev() const;
};

class Tmpfs : public Mounted {
 public:
  Tmpfs();
  ~Tmpfs() override;
  const std::string& path() const override { return dir_.path(); }
  std::string label() const;  // "tmpfs:<major>:<minor>"

 private:
  TempDir dir_;
};

// A filesystem (ext4 or xfs) on a loop device over an image file.
class LoopFs : public Mounted {
 public:
  // backing_dir: where the image file lives (/dev/shm gives a device that
  // shares nothing with the disk). XFS needs 300 MB at least. direct_io:
  // the loop device reads and writes its image with O_DIRECT, so that its
  // reads reach the disk below, not the host's page cache, as a disk's do.
  explicit LoopFs(const std::string& backing_dir = "/var/tmp", int size_mb = 128, const std::string& fstype = "ext4",
                  bool direct_io = false);
  ~LoopFs() override;
  const std::string& path() const override { return mnt_.path(); }
  const std::string& device() const { return device_; }  // "/dev/loopN"
  std::string label() const;                             // "loopN"
  // 2: the block layer merges no requests, so each bio is one request.
  void set_nomerges(int value) const;
  // The block layer's I/O scheduler for it ("none", "mq-deadline").
  void set_scheduler(const std::string& name) const;
  // Leaves the filesystem with nothing owed: dirty data written, the journal
  // checkpointed and the log's deferred work done (a freeze does all of it),
  // and the image's pages on the disk below.
  void settle() const;
  // Writes `bytes` into path()/name and syncs it, from the calling process.
  std::string make_file(const std::string& name, long bytes) const;

 private:
  std::string image_;
  std::string fstype_;
  std::string device_;
  TempDir mnt_;
  bool mounted_ = false;
};

// A loop device over an image file, with nothing on it: only the test's
// own I/O reaches it (no journal, no flusher).
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& backing_dir = "/dev/shm", int size_mb = 64);
  ~LoopDevice();
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;
  const std::string& path() const { return device_; }  // "/dev/loopN"

 private:
  std::string image_;
  std::string device_;
};

// An overlayfs whose layers live in a directory of `base` (its upper layer's
// filesystem is the disk its writes reach), as a container's root is.
class OverlayFs : public Mounted {
 public:
  explicit OverlayFs(const Mounted& base);
  ~OverlayFs() override;
  const std::string& path() const override { return mnt_.path(); }
  std::string label() const;  // "overlay:<major>:<minor>"

 private:
  std::string layers_;
  TempDir mnt_;
  bool mounted_ = false;
};

}  // namespace stallwatch::test
